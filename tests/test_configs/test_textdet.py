"""Text configs: build, train a few iterations and evaluate hmean on CPU,
on generated ICDAR2015-format data converted by our converter."""
import json
import math

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from ms_rcnn_testing import spy_on_text_metric

from ms_rcnn.data_preparation import convert_icdar2015

CONFIGS = [
    'ms-rcnn_r50_fpn_160e_ctw1500', 'ms-rcnn_r50_fpn_160e_icdar2015',
    'mask-rcnn_r50_fpn_160e_ctw1500', 'mask-rcnn_r50_fpn_160e_icdar2015'
]


def write_icdar_split(root, img_dir, gt_dir, num, seed):
    """Dark stripy rotated boxes ("words") on light noise; one is ###."""
    rng = np.random.RandomState(seed)
    (root / img_dir).mkdir(parents=True)
    (root / gt_dir).mkdir(parents=True)
    for i in range(1, num + 1):
        img = rng.randint(180, 255, (160, 160, 3)).astype(np.uint8)
        lines = []
        for j in range(3):
            center = (int(rng.randint(40, 120)), int(rng.randint(30, 130)))
            size = (int(rng.randint(40, 70)), int(rng.randint(12, 20)))
            angle = float(rng.uniform(-30, 30))
            quad = cv2.boxPoints((center, size, angle)).round().astype(int)
            cv2.fillPoly(img, [quad], (30, 30, 30))
            for k in range(4):  # "letters": light gaps along the box
                t = (k + 0.5) / 4
                p = quad[0] + t * (quad[1] - quad[0]) * 0.9
                cv2.circle(img, tuple(int(v) for v in p), 1, (200, 200, 200))
            text = '###' if j == 2 else f'W{i}{j},"x"'
            coords = ','.join(str(int(v)) for v in quad.reshape(-1))
            lines.append(f'{coords},{text}')
        cv2.imwrite(str(root / img_dir / f'img_{i}.jpg'), img)
        (root / gt_dir / f'gt_img_{i}.txt').write_text(
            '\ufeff' + '\r\n'.join(lines) + '\r\n', encoding='utf-8')


@pytest.fixture(scope='module')
def icdar_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('icdar2015')
    write_icdar_split(root, 'train_imgs', 'train_gts', 4, seed=0)
    write_icdar_split(root, 'test_imgs', 'test_gts', 2, seed=1)
    for split, dirs in [('train', ('train_imgs', 'train_gts')),
                        ('test', ('test_imgs', 'test_gts'))]:
        coco = convert_icdar2015(str(root), *dirs)
        (root / f'icdar2015_{split}.json').write_text(json.dumps(coco))
    return root


@pytest.mark.parametrize('name', CONFIGS)
def test_text_configs_follow_the_recipe(name):
    cfg = Config.fromfile(f'configs/textdet/{name}.py')
    assert cfg.default_scope == 'ms_rcnn'
    assert cfg.model.rpn_head.anchor_generator.ratios == [
        0.17, 0.44, 1.13, 2.90, 7.46
    ]
    assert cfg.model.rpn_head.anchor_generator.scales == [4]
    assert cfg.model.roi_head.bbox_head.num_classes == 1
    assert cfg.train_cfg.max_epochs == 160
    assert cfg.optim_wrapper.optimizer.lr == 0.08
    assert cfg.val_evaluator.type == 'HmeanIoUMetric'
    quad = 'icdar2015' in name
    assert cfg.val_evaluator.polygon_mode == ('quad' if quad else 'contour')
    assert cfg.test_pipeline[1].scale == ((1920, 1920) if quad else
                                          (1600, 1600))
    # Bad training images are skipped, naming the file.
    assert cfg.train_pipeline[0].type == 'CheckedLoadImageFromFile'
    assert cfg.default_hooks.checkpoint.type == 'SafeCheckpointHook'
    assert cfg.custom_hooks == [
        dict(type='NonFiniteLossHook'),
        dict(type='SkippedSampleHook')
    ]
    if name.startswith('ms-rcnn'):
        assert cfg.model.type == 'MaskScoringRCNN'
        assert cfg.model._scope_ == 'ms_rcnn'
        assert cfg.model.roi_head.mask_iou_head.num_classes == 1


def test_converted_data_trains_and_evaluates(icdar_root, tmp_path):
    cfg = Config.fromfile('configs/textdet/ms-rcnn_r50_fpn_160e_icdar2015.py')
    cfg.work_dir = str(tmp_path)
    cfg.model.backbone.init_cfg = None  # nothing to download
    # Small images: the recipe's 640 crops and 1920 test size are for GPUs.
    pipeline = cfg.train_dataloader.dataset.pipeline
    pipeline[4].scale = [(128, 128), (192, 192)]
    pipeline[6].crop_size = (128, 128)
    cfg.test_pipeline[1].scale = (160, 160)
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].dataset.data_root = str(icdar_root)
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    cfg.train_dataloader.batch_size = 2
    cfg.val_dataloader.dataset.pipeline = cfg.test_pipeline
    cfg.val_evaluator.ann_file = str(icdar_root / 'icdar2015_test.json')
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2,
                         val_interval=100)
    cfg.param_scheduler = []
    cfg.optim_wrapper.optimizer.lr = 0.001
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    cfg.default_hooks.logger.interval = 1
    cfg.randomness = dict(seed=0)
    cfg.pop('test_dataloader')
    cfg.pop('test_evaluator')
    cfg.pop('test_cfg')

    runner = Runner.from_cfg(cfg)
    assert len(runner.train_dataloader.dataset) == 4
    runner.train()
    hub = runner.message_hub
    for key in ('loss_rpn_cls', 'loss_cls', 'loss_mask', 'loss_mask_iou'):
        value = hub.get_scalar(f'train/{key}').current()
        assert math.isfinite(value), key
    spied = spy_on_text_metric(runner.val_evaluator.metrics[0])
    metrics = runner.val_loop.run()
    seen, polygons = spied.results, spied.polygons
    assert {'icdar/hmean', 'icdar/precision', 'icdar/recall',
            'icdar/best_score_thr'} <= set(metrics)
    # What the metric saw: both test images, their two legible words each
    # (the third is '###'), and MS R-CNN's masks as quadrilaterals.
    assert len(seen) == 2
    assert [r['num_gts'] for r in seen] == [2, 2]
    assert all(r['ious'].shape == (2, len(r['scores'])) for r in seen)
    assert polygons and {len(p) for p in polygons} <= {0, 8}


@pytest.mark.parametrize('name', CONFIGS)
def test_shipped_configs_build_their_training_loop(name, icdar_root,
                                                   tmp_path):
    # The loop builds the training dataloader, whose pipeline starts with
    # ms_rcnn's CheckedLoadImageFromFile: under the mmdet scope that the
    # mmdet:: base gives train_cfg, the lookup fails.
    cfg = Config.fromfile(f'configs/textdet/{name}.py')
    cfg.work_dir = str(tmp_path)
    cfg.model.backbone.init_cfg = None
    cfg.train_dataloader.dataset.data_root = str(icdar_root)
    cfg.train_dataloader.dataset.ann_file = 'icdar2015_train.json'
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    runner = Runner.from_cfg(cfg)
    loader = runner.train_loop.dataloader
    assert type(loader.dataset.pipeline.transforms[0]).__name__ == (
        'CheckedLoadImageFromFile')
    assert len(loader.dataset) == 4


def test_readme_config_for_own_text_data(tmp_path):
    import re
    from pathlib import Path

    root = Path(__file__).parents[2]
    text = (root / 'docs' / 'user_guides' / 'own_data.md').read_text()
    section = text[text.index('## A text dataset'):]
    snippet = re.search(r'```python\n(.*?)```', section, re.S).group(1)
    # ms_rcnn:: needs a regular install (tested in test_mim.py).
    snippet = snippet.replace('ms_rcnn::', str(root / 'configs') + '/')
    (tmp_path / 'signs.py').write_text(snippet)
    cfg = Config.fromfile(str(tmp_path / 'signs.py'))
    assert cfg.model.type == 'MaskScoringRCNN'
    assert cfg.train_dataloader.dataset.data_root == 'data/signs/'
    assert cfg.train_dataloader.dataset.ann_file == 'signs_train.json'
    assert cfg.train_dataloader.dataset.metainfo.classes == ('text', )
    assert cfg.test_dataloader.dataset.ann_file == 'signs_test.json'
    assert cfg.test_evaluator.ann_file == 'data/signs/signs_test.json'
    assert cfg.test_evaluator.polygon_mode == 'quad'
