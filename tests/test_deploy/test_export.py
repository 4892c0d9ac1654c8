"""build_model and export_model's checks before any tracing."""
import logging

import pytest
from mmengine.logging import MMLogger

from ms_rcnn.deploy import build_model, export_model, load_config

from deploy_testing import QUICKSTART


def test_build_model_restores_the_log_level_when_initialisation_fails(
        tmp_path):
    cfg = load_config(str(QUICKSTART / 'ms-rcnn_quickstart.py'))
    missing = str(tmp_path / 'missing.pth')
    cfg.model.rpn_head.init_cfg = dict(
        type='Pretrained', checkpoint=missing)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with pytest.raises(Exception, match='missing.pth'):
            build_model(cfg)
        assert logger.level == logging.DEBUG
    finally:
        logger.setLevel(level)


def test_export_needs_the_models_config(tmp_path):
    model = build_model(str(QUICKSTART / 'ms-rcnn_quickstart.py'))
    del model.cfg
    with pytest.raises(ValueError, match='no config as model.cfg'):
        export_model(model, str(tmp_path / 'x.onnx'), (64, 64))
    assert not (tmp_path / 'x.onnx').exists()
