"""The cascades exported to ONNX against their PyTorch test path on the
same weights and images: Cascade MS R-CNN and HTC-MS (with HTC's semantic
branch) through OnnxMaskScoringDetector against ``inference_detector``,
their Mask R-CNN twins through ``tools/deployment/pytorch2onnx.py
--verify``; each held to ms_rcnn.deploy's tolerances (labels equal, boxes
within 1e-3 px, scores and mask scores within 1e-4, pasted masks of IoU
>= 0.99). Also: one stage's refinement against mmdet's
``regress_by_class``, and the components that the export refuses."""
import glob
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from cascade_ms_testing import CONFIGS, semantic_heads
from mmdet.models.roi_heads import Shared2FCBBoxHead

from ms_rcnn.deploy import (OnnxMaskScoringDetector, UnsupportedModelError,
                            build_model, export_model, load_config)
from ms_rcnn.deploy.detector import detect
from ms_rcnn.deploy.graph import build_graph
from ms_rcnn.deploy.verify import largest_differences
from projects.cascade_ms_rcnn.cascade_ms_rcnn.export import (
    CascadeDetectorGraph, refine)

ROOT = Path(__file__).resolve().parents[3]


def config(name, semantic=False):
    """A quick-start cascade config; ``semantic`` adds HTC's semantic
    branch (mmdet's htc_r50_fpn_1x_coco head, at the quick start's 64
    channels and 4 FPN levels)."""
    cfg = load_config(str(CONFIGS / name))
    if semantic:
        cfg.model.roi_head.update(**semantic_heads(num_classes=4))
    return cfg


def scored_model(cfg):
    """The config's seeded initialisation with class scores spread apart:
    each stage's classifier as ms_rcnn's deploy tests set it (weights of
    std 0.05, a background bias of 3), the MaskIoU head's output centred
    on 0.5. With mmdet's init (std 0.01) every RoI has nearly the same
    scores, closer than float rounding between runtimes."""
    torch.manual_seed(0)
    model = build_model(cfg)
    torch.manual_seed(1)
    for head in model.roi_head.bbox_head:
        head.fc_cls.weight.data.normal_(0, 0.05)
        head.fc_cls.bias.data.copy_(torch.tensor([0., 0., 0., 3.]))
    iou_head = getattr(model.roi_head, 'mask_iou_head', None)
    if iou_head is not None:
        iou_head.fc_mask_iou.weight.data.normal_(0, 0.02)
        iou_head.fc_mask_iou.bias.data.fill_(0.5)
    return model


@pytest.fixture(scope='module')
def images(tiny_shapes):
    """Six generated 128x128 images."""
    return sorted(glob.glob(tiny_shapes['img_dir'] + '/*.png'))[:6]


def assert_within_tolerances(expected, got):
    """The detections compared by ms_rcnn.deploy.verify; their number."""
    differences = largest_differences(expected, got)
    assert differences['differing'] == []
    assert differences['within_tolerances'] is True
    return differences


@pytest.mark.slow
@pytest.mark.parametrize('name, semantic', [
    ('cascade-ms-rcnn_quickstart.py', False),
    ('htc-ms_quickstart.py', True),
])
def test_mask_scoring_cascade_gives_inference_detectors_detections(
        name, semantic, images, tmp_path):
    cfg = config(name, semantic)
    model = scored_model(cfg)
    assert type(build_graph(model)) is CascadeDetectorGraph
    onnx_file = export_model(model, str(tmp_path / 'model.onnx'),
                             (128, 128))
    detector = OnnxMaskScoringDetector(onnx_file, cfg, num_threads=1)
    with torch.no_grad():
        expected = detect(model, images)
    got = detector.detect(images)
    differences = assert_within_tolerances(expected, got)
    assert differences['detections'] >= 300
    assert differences['max_mask_score_diff'] is not None
    # The mask scores are score x a predicted IoU inside (0, 1), not
    # clamped everywhere.
    ious = torch.cat([r.pred_instances.mask_scores / r.pred_instances.scores
                      for r in got])
    assert ((ious > 0) & (ious < 1)).sum() >= 100
    # The file does not fit the twin without a MaskIoU head.
    twin = config(name.replace('cascade-ms-rcnn', 'cascade-mask-rcnn')
                  .replace('htc-ms', 'htc'), semantic)
    with pytest.raises(ValueError, match='outputs are .*mask_scores'):
        OnnxMaskScoringDetector(onnx_file, twin)


def load_tool():
    path = ROOT / 'tools' / 'deployment' / 'pytorch2onnx.py'
    spec = importlib.util.spec_from_file_location('pytorch2onnx', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize('name', [
    'cascade-mask-rcnn_quickstart.py', 'htc_quickstart.py'])
def test_mask_rcnn_twin_exports_and_verifies(name, images, tmp_path,
                                             capsys):
    path = str(CONFIGS / name)
    checkpoint = str(tmp_path / 'twin.pth')
    torch.save({'state_dict': scored_model(config(name)).state_dict()},
               checkpoint)
    status = load_tool().main([
        path, checkpoint, '--output', str(tmp_path / 'twin.onnx'),
        '--shape', '128', '128', '--verify'
    ] + images[:3])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert status == 0 and result['within_tolerances'] is True
    assert result['detections'] >= 150
    assert result['max_mask_score_diff'] is None  # no MaskIoU head


def test_refinement_with_class_specific_deltas_is_regress_by_class():
    # A class-specific regressor: each RoI moves by its argmax foreground
    # class's deltas, clipped to the image, as mmdet's stage refinement.
    head = Shared2FCBBoxHead(
        in_channels=4, fc_out_channels=8, roi_feat_size=2, num_classes=3,
        reg_class_agnostic=False)
    torch.manual_seed(0)
    xy = torch.rand(20, 2) * 80
    boxes = torch.cat([xy, xy + torch.rand(20, 2) * 40 + 1], 1)
    cls_score = torch.randn(20, 4)
    bbox_pred = torch.randn(20, 12) * 0.5
    img_shape = torch.tensor([96, 112])
    expected = head.regress_by_class(boxes, cls_score[:, :-1].argmax(1),
                                     bbox_pred, dict(img_shape=(96, 112)))
    got = refine(head, boxes, cls_score, bbox_pred, img_shape)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    # Not the same for every class: the choice of deltas matters.
    other = refine(head, boxes, -cls_score, bbox_pred, img_shape)
    assert (other - got).abs().max() > 1


@pytest.mark.parametrize('edit, message', [
    (lambda m: m.roi_head.mask_head.update(type='HTCMaskHead'),
     r'model.roi_head.mask_head\[0\] is mmdet\.models\.roi_heads\.'
     r'mask_heads\.htc_mask_head\.HTCMaskHead; the export handles '
     r'mmdet\.models\.roi_heads\.mask_heads\.fcn_mask_head\.FCNMaskHead$'),
    (lambda m: m.roi_head.bbox_roi_extractor.roi_layer.update(
        aligned=False),
     r'model.roi_head.bbox_roi_extractor\[0\].roi_layer must be mmcv.s '
     r'RoIAlign with aligned=True'),
    (lambda m: m.test_cfg.rcnn.update(
        nms=dict(type='soft_nms', iou_threshold=0.5)),
     "test_cfg.rcnn.nms.type is 'soft_nms'"),
    # A cascade RoI head under a detector that is not a cascade.
    (lambda m: m.update(type='MaskScoringRCNN'),
     r'the detector is ms_rcnn\.models\.detectors\.mask_scoring_rcnn\.'
     r'MaskScoringRCNN; a cascade RoI head needs mmdet\.models\.'
     r'detectors\.cascade_rcnn\.CascadeRCNN$'),
])
def test_unhandled_cascade_component_is_named(edit, message):
    cfg = config('cascade-ms-rcnn_quickstart.py')
    edit(cfg.model)
    with pytest.raises(UnsupportedModelError, match=message):
        build_graph(build_model(cfg))


@pytest.mark.parametrize('path', sorted(CONFIGS.glob('*.py')),
                         ids=lambda path: path.name)
def test_every_project_config_is_handled(path):
    # Only the classes matter: no memory, no initialisation.
    from ms_rcnn.registry import MODELS
    cfg = load_config(str(path))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert type(build_graph(model)) is CascadeDetectorGraph
