"""tools/quickstart.py: the configs it loads and the picture it draws."""
import importlib.util
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from ms_rcnn import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    path = osp.join(ROOT, 'tools', 'quickstart.py')
    spec = importlib.util.spec_from_file_location('quickstart', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_load_config_points_everything_at_the_data(tiny_shapes, tmp_path):
    tool = load_tool()
    cfg = tool.load_config(tool.MODELS['ms-rcnn'], tiny_shapes['data_root'],
                           str(tmp_path), seed=3, epochs=2)
    root = tiny_shapes['data_root'] + '/'
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        assert loader.dataset.data_root == root
    for evaluator in cfg.val_evaluator + cfg.test_evaluator:
        assert evaluator.ann_file == root + 'annotations/val.json'
    assert cfg.randomness == dict(seed=3)
    assert cfg.train_cfg.max_epochs == cfg.default_hooks.checkpoint.interval
    assert cfg.train_cfg.max_epochs == 2
    # Evaluated after training, apart from it.
    assert cfg.train_cfg.val_begin == 3


@pytest.mark.parametrize('name', ['ms-rcnn', 'mask-rcnn'])
def test_drawn_row_has_a_title_and_every_image_upscaled(
        name, tiny_shapes, tmp_path):
    tool = load_tool()
    register_all_modules(init_default_scope=False)
    cfg = tool.load_config(tool.MODELS[name], tiny_shapes['data_root'],
                           str(tmp_path / 'work'), seed=0)
    runner = Runner.from_cfg(cfg)
    row = tool.visualize(runner, name, range(2), str(tmp_path), 0.0, scale=2)
    # A 24-pixel title over two 128 px images drawn at twice their size.
    assert row.shape == (24 + 256, 512, 3)
    title = row[:24]
    assert (title == 255).mean() > 0.5 and (title < 128).any()
    np.testing.assert_array_equal(
        cv2.imread(osp.join(str(tmp_path), f'{name}.png')), row)


def test_task_picks_its_own_folders():
    tool = load_tool()
    shapes = tool.parse_args([])
    assert (shapes.task, shapes.work_dir, shapes.data_root) == (
        'shapes', 'work_dirs/quickstart', 'data/shapes')
    text = tool.parse_args(['--task', 'textdet'])
    assert (text.work_dir, text.data_root) == (
        'work_dirs/quickstart_textdet', 'data/synthtext')
    assert text.datasets == ['icdar2015', 'ctw1500']
    assert tool.parse_args(['--task', 'textdet', '--data-root',
                            'elsewhere']).data_root == 'elsewhere'


def test_load_text_config_evaluates_by_both_scores(tmp_path):
    tool = load_tool()
    path = osp.join(tool.TEXT_CONFIG_DIR,
                    tool.TEXT_MODELS['ms-rcnn'].format('ctw1500'))
    cfg = tool.load_text_config(path, 'some/where', 'ctw1500',
                                str(tmp_path), seed=2, epochs=3)
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        assert loader.dataset.data_root == 'some/where/'
    ann = 'some/where/ctw1500_test.json'
    assert [(e.type, e.ann_file, e.get('score_key'), e.get('prefix'))
            for e in cfg.val_evaluator] == [
                ('HmeanIoUMetric', ann, None, None),
                ('HmeanIoUMetric', ann, 'scores', 'icdar_cls'),
                ('CocoMetric', ann, None, None)]
    assert cfg.val_evaluator[0].polygon_mode == 'contour'
    assert cfg.test_evaluator == cfg.val_evaluator
    assert cfg.randomness == dict(seed=2)
    assert cfg.train_cfg.max_epochs == 3 and cfg.train_cfg.val_begin == 4
    assert cfg.default_hooks.checkpoint.interval == 3
    # The cosine decay ends with the shorter schedule.
    assert cfg.param_scheduler[1].end == cfg.param_scheduler[1].T_max == 3
    assert 'name' not in cfg.visualizer


def test_textdet_quickstart_summary_config_and_checkpoint(tmp_path):
    tool = load_tool()
    work = tmp_path / 'work'
    summary = tool.main([
        '--task', 'textdet', '--datasets', 'icdar2015', '--work-dir',
        str(work), '--data-root', str(tmp_path / 'data'), '--num-train', '2',
        '--num-test', '2', '--epochs', '1', '--num-vis', '1'
    ])
    with open(work / 'summary.json') as f:
        assert json.load(f) == summary
    assert list(summary) == ['icdar2015']
    assert list(summary['icdar2015']) == ['ms-rcnn', 'mask-rcnn']
    for name, res in summary['icdar2015'].items():
        p, r = res['precision'], res['recall']
        assert res['hmean'] == pytest.approx(2 * p * r / (p + r) if p +
                                             r else 0.0)
        # Paths relative to the repository root: the config as the run
        # wrote it (reading the generated set) and its checkpoint.
        cfg = Config.fromfile(osp.join(ROOT, res['config']))
        assert cfg.val_evaluator[0].ann_file == str(
            tmp_path / 'data' / 'icdar2015' / 'icdar2015_test.json')
        assert res['checkpoint'].endswith('epoch_1.pth')
        state = torch.load(osp.join(ROOT, res['checkpoint']),
                           weights_only=False)['state_dict']
        assert any(k.startswith('roi_head.mask_iou_head.')
                   for k in state) == (name == 'ms-rcnn')
    # Mask R-CNN has no mask score: both rankings are the class score.
    mask = summary['icdar2015']['mask-rcnn']
    assert mask['hmean_by_class_score'] == mask['hmean']
    # One titled row of one 256 px test image, drawn twice as large, per
    # model.
    picture = cv2.imread(str(work / 'vis' / 'comparison.png'))
    assert picture.shape == (2 * (24 + 512), 512, 3)
