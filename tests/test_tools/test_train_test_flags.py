"""tools/train.py and tools/test.py turn mmdet's flags into config values."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / 'configs' / 'ms_rcnn' / 'ms-rcnn_r50_fpn_1x_coco.py')


def _load(name):
    spec = importlib.util.spec_from_file_location(
        name, ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_flags():
    train = _load('train')
    cfg = train.build_cfg(train.parse_args([CONFIG]))
    assert cfg.work_dir == './work_dirs/ms-rcnn_r50_fpn_1x_coco'
    assert cfg.launcher == 'none' and not cfg.resume
    cfg = train.build_cfg(
        train.parse_args([
            CONFIG, '--amp', '--auto-scale-lr', '--resume', '--work-dir',
            'out', '--cfg-options', 'train_cfg.max_epochs=3'
        ]))
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=16)
    assert cfg.resume is True and cfg.load_from is None  # latest in work_dir
    assert cfg.work_dir == 'out' and cfg.train_cfg.max_epochs == 3
    cfg = train.build_cfg(train.parse_args([CONFIG, '--resume', 'a.pth']))
    assert cfg.resume is True and cfg.load_from == 'a.pth'


def test_test_flags():
    test = _load('test')
    cfg = test.build_cfg(
        test.parse_args([
            CONFIG, 'model.pth', '--out', 'r.pkl', '--show-dir', 'vis',
            '--launcher', 'pytorch'
        ]))
    assert cfg.load_from == 'model.pth' and cfg.launcher == 'pytorch'
    assert cfg.test_evaluator[-1] == dict(
        type='DumpDetResults', out_file_path='r.pkl')
    assert cfg.test_evaluator[0].type == 'CocoMetric'
    hook = cfg.default_hooks.visualization
    assert hook.draw is True and hook.test_out_dir == 'vis'
    with pytest.raises(ValueError, match='--out must be a .pkl file'):
        test.build_cfg(test.parse_args([CONFIG, 'm.pth', '--out', 'r.json']))
