"""Helpers of the project's tests: the quick-start MS R-CNN with this
project's heads. Batches, losses and predictions: the core's
``ms_rcnn_testing``."""
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import projects.mask_score_study.mask_score_study  # noqa: F401  (registers)
from ms_rcnn.registry import MODELS

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / 'projects' / 'mask_score_study' / 'configs'
CORE_QUICKSTART = str(ROOT / 'configs' / 'quickstart' /
                      'ms-rcnn_quickstart.py')
QUICKSTART = str(CONFIGS / 'ms-rcnn_quickstart_maskiou-study.py')


def study_model_cfg(cfg_path=QUICKSTART, **mask_iou_head):
    """The model config of ``cfg_path`` with the study's heads given
    ``mask_iou_head``'s options."""
    cfg = Config.fromfile(cfg_path).model
    cfg.roi_head.type = 'StudyMaskScoringRoIHead'
    cfg.roi_head.mask_iou_head.type = 'StudyMaskIoUHead'
    cfg.roi_head.mask_iou_head.update(mask_iou_head)
    return cfg


def build_study(cfg_path=QUICKSTART, init=False, **mask_iou_head):
    """The model of :func:`study_model_cfg`, built after
    ``torch.manual_seed(0)`` and, with ``init``, initialised as its
    ``init_cfg`` says."""
    cfg = study_model_cfg(cfg_path, **mask_iou_head)
    init_default_scope('ms_rcnn')
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    if init:
        model.init_weights()
    return model
