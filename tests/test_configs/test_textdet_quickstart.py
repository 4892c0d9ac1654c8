"""Text quick-start configs: deltas on the shipped text configs, and the
whole chain on a few tiny generated images: raw files, the shipped
converter, the inherited config, training on polygon masks (MaskIoU
targets included) and HmeanIoUMetric on the predictions."""
import json
import math

import pytest
from mmdet.structures.mask import PolygonMasks
from mmengine.config import Config
from mmengine.runner import Runner

from ms_rcnn.data_preparation import convert_icdar2015, generate_text_dataset
from ms_rcnn.data_preparation.synthetic_text import LAYOUTS

QUICKSTART = 'configs/textdet/quickstart/{}_r18_fpn_quickstart_{}.py'
SHIPPED = 'configs/textdet/{}_r50_fpn_160e_{}.py'
PAIRS = [(model, kind) for model in ('ms-rcnn', 'mask-rcnn')
         for kind in ('icdar2015', 'ctw1500')]


def without(cfg, *keys):
    """The config as a plain dict, without the top-level ``keys``."""
    return {k: v for k, v in cfg.to_dict().items() if k not in keys}


@pytest.mark.parametrize('model, kind', PAIRS)
def test_quickstart_keeps_the_shipped_recipe_but_what_the_cpu_needs(
        model, kind):
    ours = Config.fromfile(QUICKSTART.format(model, kind))
    shipped = Config.fromfile(SHIPPED.format(model, kind))
    # Inherited as shipped: the text recipe and the evaluation.
    for key in ('default_scope', 'custom_hooks', 'val_cfg', 'test_cfg',
                'visualizer', 'auto_scale_lr', 'metainfo'):
        assert ours.get(key) == shipped.get(key), key
    root = f'data/synthtext/{kind}/'
    ours_eval, shipped_eval = (cfg.val_evaluator.to_dict()
                               for cfg in (ours, shipped))
    assert ours_eval.pop('ann_file') == f'{root}{kind}_test.json'
    shipped_eval.pop('ann_file')
    assert ours_eval == shipped_eval
    assert ours.model.type == shipped.model.type
    assert (ours.model.rpn_head.anchor_generator ==
            shipped.model.rpn_head.anchor_generator)
    assert ours.model.test_cfg.rcnn == shipped.model.test_cfg.rcnn
    assert ours.model.data_preprocessor == shipped.model.data_preprocessor
    # The same transforms in the same order, polygons kept as polygons.
    types = [t.type for t in ours.train_dataloader.dataset.pipeline]
    assert types == [t.type for t in shipped.train_dataloader.dataset.pipeline]
    assert ours.train_dataloader.dataset.pipeline[2].poly2mask is False
    # What the CPU needs: a small backbone from scratch, 256 px images,
    # few RoIs, a short schedule; and where the data is.
    assert ours.model.backbone.depth == 18 and ours.model.backbone.init_cfg \
        is None
    assert ours.model.train_cfg.rcnn.sampler.num == 32
    assert ours.train_dataloader.dataset.pipeline[6].crop_size == (256, 256)
    assert ours.test_pipeline == ours.val_dataloader.dataset.pipeline
    assert ours.val_dataloader.dataset.pipeline[1].scale == (256, 256)
    assert ours.train_cfg.max_epochs < shipped.train_cfg.max_epochs
    assert ours.train_dataloader.dataset.data_root == root
    assert ours.val_dataloader.dataset.data_root == root


def test_ms_rcnn_twin_adds_only_the_maskiou_head_with_paper_training():
    for kind in ('icdar2015', 'ctw1500'):
        ms = Config.fromfile(QUICKSTART.format('ms-rcnn', kind))
        mask = Config.fromfile(QUICKSTART.format('mask-rcnn', kind))
        assert without(ms, 'model') == without(mask, 'model')
        ms_model, mask_model = ms.model.to_dict(), mask.model.to_dict()
        head = ms_model['roi_head'].pop('mask_iou_head')
        for m in (ms_model, mask_model):
            m.pop('type')
            m.pop('_scope_', None)
            m['roi_head'].pop('type')
        ms_model['train_cfg']['rcnn'].pop('mask_thr_binary')
        assert ms_model == mask_model
        # The paper's training: no option set, so the head's defaults.
        assert head == dict(type='MaskIoUHead', num_classes=1, num_convs=2,
                            in_channels=64, conv_out_channels=64,
                            fc_out_channels=256)


@pytest.fixture(scope='module')
def tiny_icdar(tmp_path_factory):
    root = tmp_path_factory.mktemp('tiny_icdar')
    counts = generate_text_dataset(str(root), 'icdar2015', seed=0,
                                   num_train=2, num_test=2, img_size=128)
    for split in ('train', 'test'):
        coco = convert_icdar2015(str(root), *LAYOUTS['icdar2015'][split])
        (root / f'icdar2015_{split}.json').write_text(json.dumps(coco))
    return root, counts


def test_whole_chain_on_tiny_generated_icdar_images(tiny_icdar, tmp_path):
    root, counts = tiny_icdar
    cfg = Config.fromfile(QUICKSTART.format('ms-rcnn', 'icdar2015'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(root) + '/'
    cfg.train_dataloader.batch_size = 2
    cfg.val_evaluator.ann_file = str(root / 'icdar2015_test.json')
    cfg.work_dir = str(tmp_path)
    # The configs' epoch loop (1 iteration of 2 images), evaluated apart.
    cfg.train_cfg.update(max_epochs=1, val_begin=2)
    cfg.default_hooks.checkpoint.interval = 1
    cfg.default_hooks.logger.interval = 1
    cfg.visualizer.pop('name')
    runner = Runner.from_cfg(cfg)

    # Training targets stay polygons through RandomResize and RandomCrop
    # (a cropped quadrilateral can have more corners).
    dataset = runner.train_dataloader.dataset
    samples = [dataset[i]['data_samples'] for i in (0, 1)]
    for sample in samples:
        masks = sample.gt_instances.masks
        assert isinstance(masks, PolygonMasks) and len(masks)
        assert all(len(p) == 1 and len(p[0]) >= 6 for p in masks.masks)

    runner.train()
    for key in ('loss_mask', 'loss_mask_iou', 'loss_cls'):
        assert math.isfinite(
            runner.message_hub.get_scalar(f'train/{key}').current()), key

    metric = runner.val_evaluator.metrics[0]
    seen, polygons, ranked_by_mask_score = [], [], []
    compute, predictions = metric.compute_metrics, metric._predictions

    def keep_polygons(pred):
        out = predictions(pred)
        polygons.extend(out[0])
        ranked_by_mask_score.append(
            (out[1] == pred['mask_scores'].numpy()).all())
        return out

    metric.compute_metrics = lambda results: compute(
        seen.extend(results) or results)
    metric._predictions = keep_polygons
    res = runner.val()
    # Both test images, each legible word once, do-not-care ones apart.
    assert len(seen) == 2
    legible = counts['test']['words'] - counts['test']['do_not_care']
    assert sum(r['num_gts'] for r in seen) == legible
    assert all(r['ious'].shape[0] == r['num_gts'] for r in seen)
    # MS R-CNN's predictions reach the metric as quadrilaterals (the
    # config's mask2polygon), ranked by the mask score.
    assert polygons and {len(p) for p in polygons} <= {0, 8}
    assert len(ranked_by_mask_score) == 2 and all(ranked_by_mask_score)
    assert set(res) == {'icdar/precision', 'icdar/recall', 'icdar/hmean',
                        'icdar/best_score_thr'}
