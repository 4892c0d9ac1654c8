"""Text quick-start configs: deltas on the shipped text configs, one base
per dataset, and the whole chain on a few tiny generated images of each
set: raw files, the shipped converter, the config, training on polygon
masks (MaskIoU targets included) and HmeanIoUMetric on the predictions."""
import ast
import json
import math

import pytest
import torch
from mmdet.structures.mask import PolygonMasks
from mmengine.config import Config
from mmengine.runner import Runner

from ms_rcnn.data_preparation import (convert_ctw1500, convert_icdar2015,
                                      generate_text_dataset)
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


@pytest.mark.parametrize('model, kind', PAIRS)
def test_leaf_holds_its_base_and_only_the_model(model, kind):
    with open(QUICKSTART.format(model, kind)) as f:
        tree = ast.parse(f.read())
    names = [t.id for node in tree.body if isinstance(node, ast.Assign)
             for t in node.targets]
    # Mask R-CNN is the base's model; MS R-CNN adds its MaskIoU head.
    assert names == (['_base_', 'model'] if model == 'ms-rcnn' else
                     ['_base_'])
    assert ast.literal_eval(tree.body[0].value) == [
        f'./_base_/textdet_quickstart_{kind}.py'
    ]


@pytest.mark.parametrize('model, kind', PAIRS)
def test_dumped_config_holds_the_shipped_keys_and_no_helper(
        model, kind, tmp_path):
    ours = Config.fromfile(QUICKSTART.format(model, kind))
    ours.dump(str(tmp_path / 'dumped.py'))
    dumped = Config.fromfile(str(tmp_path / 'dumped.py'))
    # The bases' helpers (channels, image size, epochs) are not keys: the
    # dumped config has the shipped config's keys, no more.
    shipped = Config.fromfile(SHIPPED.format(model, kind))
    assert sorted(dumped.keys()) == sorted(shipped.keys())
    assert dumped.to_dict() == ours.to_dict()


def plain(value):
    """Tuples as lists, as in a JSON file."""
    return json.loads(json.dumps(value))


def quickstart_dataloaders(kind):
    """The training and test dataloaders of the quick start on ``kind``,
    written out: 4 training images a batch and no worker process, the
    shipped transforms at 256 px (crops of 192..320 px resizes), the
    converted files of data/synthtext/{kind}/."""
    dataset = dict(
        type='CocoDataset',
        data_root=f'data/synthtext/{kind}/',
        metainfo=dict(classes=('text', )),
        data_prefix=dict(img=''),
        backend_args=None)
    train_pipeline = [
        dict(type='CheckedLoadImageFromFile'),
        dict(type='SanitizeInstances'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True,
             poly2mask=False),
        dict(type='PhotoMetricDistortion', brightness_delta=32,
             contrast_range=(0.5, 1.5), saturation_range=(0.5, 1.5),
             hue_delta=0),
        dict(type='RandomResize', scale=[(192, 192), (320, 320)],
             keep_ratio=False),
        dict(type='RandomFlip', prob=0.5),
        dict(type='RandomCrop', crop_size=(256, 256), recompute_bbox=True,
             allow_negative_crop=False),
        dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1),
             keep_empty=False),
        dict(type='PackDetInputs')
    ]
    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(256, 256), keep_ratio=True),
        dict(type='PackDetInputs',
             meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                        'scale_factor'))
    ]
    train = dict(
        batch_size=4,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=True, _scope_='mmdet'),
        batch_sampler=dict(type='AspectRatioBatchSampler', _scope_='mmdet'),
        dataset=dict(
            dataset,
            type='CocoDatasetWithAnnIds',
            ann_file=f'{kind}_train.json',
            filter_cfg=dict(filter_empty_gt=True, min_size=4),
            pipeline=train_pipeline))
    test = dict(
        batch_size=1,
        num_workers=0,
        persistent_workers=False,
        drop_last=False,
        sampler=dict(type='DefaultSampler', shuffle=False, _scope_='mmdet'),
        dataset=dict(
            dataset,
            ann_file=f'{kind}_test.json',
            test_mode=True,
            pipeline=test_pipeline))
    return train, test


@pytest.mark.parametrize('model, kind', PAIRS)
def test_leaves_build_the_quickstart_dataloaders(model, kind):
    cfg = Config.fromfile(QUICKSTART.format(model, kind))
    train, test = quickstart_dataloaders(kind)
    assert plain(cfg.train_dataloader.to_dict()) == plain(train)
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        assert plain(loader.to_dict()) == plain(test)


@pytest.fixture(scope='module', params=['icdar2015', 'ctw1500'])
def tiny_set(request, tmp_path_factory):
    """2 training and 2 test images of 128 px of one synthetic set,
    converted by the shipped converter."""
    kind = request.param
    root = tmp_path_factory.mktemp(f'tiny_{kind}')
    counts = generate_text_dataset(str(root), kind, seed=0, num_train=2,
                                   num_test=2, img_size=128)
    for split in ('train', 'test'):
        img_dir, ann_dir = LAYOUTS[kind][split]
        coco = convert_icdar2015(str(root), img_dir, ann_dir) if (
            kind == 'icdar2015') else convert_ctw1500(
                str(root), img_dir, ann_dir, split)
        (root / f'{kind}_{split}.json').write_text(json.dumps(coco))
    return kind, root, counts


def test_whole_chain_on_tiny_generated_images(tiny_set, tmp_path):
    kind, root, counts = tiny_set
    cfg = Config.fromfile(QUICKSTART.format('ms-rcnn', kind))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(root) + '/'
    cfg.train_dataloader.batch_size = 2
    cfg.val_evaluator.ann_file = str(root / f'{kind}_test.json')
    cfg.work_dir = str(tmp_path)
    cfg.randomness = dict(seed=0)
    # The configs' epoch loop (1 iteration of 2 images), evaluated apart.
    cfg.train_cfg.update(max_epochs=1, val_begin=2)
    cfg.default_hooks.checkpoint.interval = 1
    cfg.default_hooks.logger.interval = 1
    cfg.visualizer.pop('name')
    runner = Runner.from_cfg(cfg)

    # The converter read 4 or 14 points a word; the training targets stay
    # polygons through RandomResize and RandomCrop (a cropped quadrilateral
    # can have more corners, a cropped curved line two parts).
    dataset = runner.train_dataloader.dataset
    points = 4 if kind == 'icdar2015' else 14
    parts = []
    for i in (0, 1):
        assert {len(inst['mask'][0]) for inst in
                dataset.get_data_info(i)['instances']} == {2 * points}
        masks = dataset[i]['data_samples'].gt_instances.masks
        assert isinstance(masks, PolygonMasks) and len(masks)
        parts += [len(part) for p in masks.masks for part in p]
    assert min(parts) >= 6
    # Words the crop does not cut keep their points.
    assert 2 * points in parts

    # The MaskIoU head's targets of the training step.
    head = runner.model.roi_head.mask_iou_head
    targets, get_targets = [], head.get_targets

    def recording_get_targets(*args):
        targets.append(get_targets(*args))
        return targets[-1]

    head.get_targets = recording_get_targets
    runner.train()
    for key in ('loss_mask', 'loss_mask_iou', 'loss_cls'):
        assert math.isfinite(
            runner.message_hub.get_scalar(f'train/{key}').current()), key
    # The head learns from IoUs between 0 and 1, not only from 0 or 1.
    assert runner.message_hub.get_scalar(
        'train/loss_mask_iou').current() > 0
    targets = torch.cat(targets)
    assert ((targets > 0) & (targets < 1)).any()

    from ms_rcnn_testing import spy_on_text_metric
    spied = spy_on_text_metric(runner.val_evaluator.metrics[0])
    res = runner.val()
    seen, polygons = spied.results, spied.polygons
    ranked_by_mask_score = [(scores == pred['mask_scores'].numpy()).all()
                            for pred, (_, scores) in spied.predictions]
    # Both test images, each legible word once, do-not-care ones apart.
    assert len(seen) == 2
    legible = counts['test']['words'] - counts['test']['do_not_care']
    assert sum(r['num_gts'] for r in seen) == legible
    assert all(r['ious'].shape[0] == r['num_gts'] for r in seen)
    # MS R-CNN's predictions reach the metric as the config's mask2polygon
    # writes them (quadrilaterals, or contours of 3 points or more),
    # ranked by the mask score.
    assert polygons
    if kind == 'icdar2015':
        assert {len(p) for p in polygons} <= {0, 8}
    else:
        assert all(len(p) == 0 or len(p) % 2 == 0 and len(p) >= 6
                   for p in polygons)
    assert len(ranked_by_mask_score) == 2 and all(ranked_by_mask_score)
    assert set(res) == {'icdar/precision', 'icdar/recall', 'icdar/hmean',
                        'icdar/best_score_thr'}
