"""OnnxMaskScoringDetector against the PyTorch model on the same weights and
inputs: the same detections (labels equal, boxes within 1e-3 px, scores and
mask scores within 1e-4, pasted masks of IoU >= 0.99), for generated
images, a batch of two sizes, an image whose RoIs all fall on one FPN
level and one with no detection; polygons and COCO metrics as the model's;
files that do not fit the config are refused."""
import copy

import pytest
import torch
from mmdet.apis import inference_detector
from mmdet.structures import DetDataSample

from ms_rcnn.deploy import OnnxMaskScoringDetector

from deploy_testing import QUICKSTART

CONFIG = str(QUICKSTART / 'ms-rcnn_quickstart.py')


def max_diff(a, b):
    return (a - b).abs().max().item() if a.numel() else 0.


def assert_same_detections(expected, got):
    """Compare each image's detections, in order; return their number."""
    total = 0
    for exp, res in zip(expected, got):
        exp, res = exp.pred_instances, res.pred_instances
        assert sorted(res.keys()) == sorted(exp.keys())
        assert len(res) == len(exp)
        total += len(exp)
        assert torch.equal(res.labels, exp.labels)
        assert max_diff(res.bboxes, exp.bboxes) <= 1e-3
        assert max_diff(res.scores, exp.scores) <= 1e-4
        if 'mask_scores' in exp:
            assert max_diff(res.mask_scores, exp.mask_scores) <= 1e-4
        assert res.masks.shape == exp.masks.shape
        assert res.masks.dtype == exp.masks.dtype == torch.bool
        inter = (res.masks & exp.masks).flatten(1).sum(1)
        union = (res.masks | exp.masks).flatten(1).sum(1)
        assert (inter >= 0.99 * union).all()
    return total


@pytest.fixture(scope='module')
def detector(ms_export):
    return OnnxMaskScoringDetector(ms_export[1], CONFIG, num_threads=1)


def batch(sizes, seed=0, zeros=False):
    """Test-pipeline output for random images of ``sizes`` [(h, w)]."""
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i, (height, width) in enumerate(sizes):
        img = torch.zeros(3, height, width) if zeros else torch.randint(
            0, 256, (3, height, width), generator=gen).float()
        inputs.append(img)
        samples.append(
            DetDataSample(
                metainfo=dict(
                    img_id=i,
                    img_shape=(height, width),
                    ori_shape=(2 * height, 2 * width),
                    scale_factor=(0.5, 0.5))))
    return dict(inputs=inputs, data_samples=samples)


def test_generated_images_give_model_predict_detections(
        ms_export, detector, shapes_images):
    model = ms_export[0]
    with torch.no_grad():
        expected = inference_detector(model, shapes_images[:6])
    got = detector.detect(shapes_images[:6])
    assert assert_same_detections(expected, got) >= 300
    # Predicted IoUs clamped to 0 and others inside (0, 1).
    ious = torch.cat([r.pred_instances.mask_scores / r.pred_instances.scores
                      for r in got])
    assert (ious == 0).sum() >= 10 and ((ious > 0) & (ious < 1)).sum() >= 100


def test_batch_of_two_sizes_is_padded_as_test_step(ms_export, detector):
    # 160x96 and 96x224 pad to 160x224 (sizes the export never saw);
    # boxes come back scaled by 1 / scale_factor.
    data = batch([(160, 96), (96, 224)])
    with torch.no_grad():
        expected = ms_export[0].test_step(copy.deepcopy(data))
    got = detector.test_step(data)
    assert assert_same_detections(expected, got) >= 150
    assert got[1].pred_instances.masks.shape[1:] == (192, 448)


def test_rois_all_on_the_finest_level(ms_export, detector):
    # Every RoI of a 48x40 image is smaller than 112 px (the extractor's
    # 2 * finest_scale): levels 1-3 extract nothing.
    data = batch([(48, 40)], seed=1)
    model = ms_export[0]
    with torch.no_grad():
        expected = model.test_step(copy.deepcopy(data))
    got = detector.test_step(data)
    assert assert_same_detections(expected, got) >= 20
    boxes = got[0].pred_instances.bboxes * 0.5  # in the input image
    wh = (boxes[:, 2:] - boxes[:, :2]).clamp(min=0)
    assert ((wh[:, 0] * wh[:, 1]).sqrt() < 112).all()


def test_all_zero_image_has_no_detection(ms_export, detector):
    # All-zero features: every RoI gets the classifier bias's scores, below
    # score_thr (see random_model).
    # The image of the config's mean (given in BGR, normalised in RGB).
    data = batch([(64, 96)], zeros=True)
    mean_bgr = torch.tensor([103.53, 116.28, 123.675])
    data['inputs'][0] += mean_bgr[:, None, None]
    with torch.no_grad():
        expected = ms_export[0].test_step(copy.deepcopy(data))
    got = detector.test_step(data)
    assert len(expected[0].pred_instances) == 0
    assert assert_same_detections(expected, got) == 0
    assert got[0].pred_instances.masks.shape == (0, 128, 192)
    assert got[0].pred_instances.mask_scores.shape == (0, )


def test_polygons_as_the_model_gives_them(ms_export, shapes_images):
    # mask2polygon changes only what comes after the graph.
    from ms_rcnn.deploy import load_config
    cfg = load_config(CONFIG)
    cfg.model.test_cfg.rcnn.mask2polygon = dict(mode='quad')
    detector = OnnxMaskScoringDetector(ms_export[1], cfg, num_threads=1)
    model = ms_export[0]
    model.roi_head.test_cfg.mask2polygon = dict(mode='quad')
    try:
        with torch.no_grad():
            expected = inference_detector(model, shapes_images[:2])
    finally:
        del model.roi_head.test_cfg.mask2polygon
    got = detector.detect(shapes_images[:2])
    assert assert_same_detections(expected, got) >= 100
    same_masks = 0
    for exp, res in zip(expected, got):
        exp, res = exp.pred_instances, res.pred_instances
        assert len(res.polygons) == len(exp.polygons) == len(exp)
        for i in range(len(exp)):
            if torch.equal(res.masks[i], exp.masks[i]):
                same_masks += 1
                assert res.polygons[i].shape == exp.polygons[i].shape
                assert (res.polygons[i] == exp.polygons[i]).all()
    assert same_masks >= 90


def test_coco_metric_of_onnxruntime_is_the_models(ms_export, detector,
                                                  tiny_shapes):
    # What tools/test.py's loop does: the test dataloader's batches through
    # test_step, into the config's CocoMetric. Random weights have an AP
    # near 0 (bbox AP50 0.001 here), so the detections that the metric
    # received are compared too.
    from mmdet.evaluation import CocoMetric
    from mmengine.dataset import pseudo_collate
    from mmengine.evaluator import Evaluator
    from ms_rcnn.deploy import load_config
    from ms_rcnn.registry import DATASETS
    cfg = load_config(CONFIG).test_dataloader.dataset
    cfg.data_root = tiny_shapes['data_root']
    dataset = DATASETS.build(cfg)
    metrics, results = [], []
    for model in (ms_export[0], detector):
        evaluator = Evaluator(
            CocoMetric(ann_file=tiny_shapes['val_ann'],
                       metric=['bbox', 'segm']))
        evaluator.dataset_meta = dataset.metainfo
        data = pseudo_collate([dataset[i] for i in range(len(dataset))])
        with torch.no_grad():
            results.append(model.test_step(data))
        evaluator.process(results[-1], data)
        metrics.append(evaluator.evaluate(len(dataset)))
    assert assert_same_detections(*results) >= 200
    assert metrics[1] == metrics[0]


def test_file_that_does_not_fit_the_config_is_refused(ms_export, tmp_path):
    onnx_file = ms_export[1]
    twin = str(QUICKSTART / 'mask-rcnn_quickstart.py')
    with pytest.raises(ValueError, match='outputs are .*mask_scores.* the '
                       'config.s model gives'):
        OnnxMaskScoringDetector(onnx_file, twin)
    one_class = str(QUICKSTART.parent / 'textdet' /
                    'ms-rcnn_r50_fpn_160e_icdar2015.py')
    with pytest.raises(ValueError, match='bbox_head.num_classes: 3 in the '
                       'file, 1 in the config'):
        OnnxMaskScoringDetector(onnx_file, one_class)
    with pytest.raises(FileNotFoundError, match='missing.onnx'):
        OnnxMaskScoringDetector(str(tmp_path / 'missing.onnx'), CONFIG)


def test_settings_in_the_file_refuse_another_normalisation(ms_export):
    # The caffe normalisation of the R-50 caffe configs under the quick
    # start's (PyTorch's) statistics: read from the file's metadata.
    from ms_rcnn.deploy import load_config
    cfg = load_config(CONFIG)
    cfg.model.data_preprocessor.update(
        mean=[103.53, 116.28, 123.675], std=[1.0, 1.0, 1.0],
        bgr_to_rgb=False)
    cfg.model.test_cfg.rcnn.max_per_img = 50
    with pytest.raises(ValueError) as error:
        OnnxMaskScoringDetector(ms_export[1], cfg)
    assert str(error.value).splitlines()[1:] == [
        '  model.data_preprocessor.bgr_to_rgb: True in the file, False in '
        'the config',
        '  model.data_preprocessor.mean: [123.675, 116.28, 103.53] in the '
        'file, [103.53, 116.28, 123.675] in the config',
        '  model.data_preprocessor.std: [58.395, 57.12, 57.375] in the '
        'file, [1.0, 1.0, 1.0] in the config',
        '  model.test_cfg.rcnn.max_per_img: 100 in the file, 50 in the '
        'config',
    ]


def test_mask_threshold_of_the_config_applies(ms_export, shapes_images):
    # mask_thr_binary acts after the graph: the config's 0.3 gives the
    # model's masks at 0.3, which are larger than those at 0.5.
    from ms_rcnn.deploy import load_config
    cfg = load_config(CONFIG)
    cfg.model.test_cfg.rcnn.mask_thr_binary = 0.3
    detector = OnnxMaskScoringDetector(ms_export[1], cfg, num_threads=1)
    model = ms_export[0]
    with torch.no_grad():
        at_half = inference_detector(model, shapes_images[0])
        model.roi_head.test_cfg.mask_thr_binary = 0.3
        try:
            expected = inference_detector(model, shapes_images[0])
        finally:
            model.roi_head.test_cfg.mask_thr_binary = 0.5
    got = detector.detect(shapes_images[0])
    assert assert_same_detections([expected], [got]) >= 50
    area = got.pred_instances.masks.flatten(1).sum(1)
    area_at_half = at_half.pred_instances.masks.flatten(1).sum(1)
    assert (area >= area_at_half).all() and area.sum() > area_at_half.sum()
