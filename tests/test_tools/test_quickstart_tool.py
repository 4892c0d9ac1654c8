"""tools/quickstart.py: the configs it loads and the picture it draws."""
import importlib.util
import os.path as osp

import cv2
import numpy as np
import pytest
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
