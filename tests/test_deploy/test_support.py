"""build_graph and check_supported: a component the export does not handle
is refused by its configured path, classes by their qualified names; every
shipped config's model is handled."""
import glob

import pytest
import torch

from ms_rcnn.deploy import UnsupportedModelError, build_model, load_config
from ms_rcnn.deploy.graph import DetectorGraph, build_graph
from ms_rcnn.registry import MODELS

from deploy_testing import QUICKSTART, ROOT
# mmpretrain (the ConvNeXt config) imports torchvision, which cannot sit
# beside the CPU torch here; the config tests stand in for it.
from test_configs.test_ms_rcnn_configs import torchvision_stub  # noqa: F401

SHIPPED = sorted(
    path for folder in ('ms_rcnn', 'textdet', 'quickstart')
    for path in glob.glob(str(ROOT / 'configs' / folder / '**' / '*.py'),
                          recursive=True) if '_base_' not in path)


def quickstart_cfg(name='ms-rcnn_quickstart.py'):
    return load_config(str(QUICKSTART / name))


def test_every_shipped_config_is_handled(torchvision_stub):  # noqa: F811
    assert len(SHIPPED) >= 17
    for path in SHIPPED:
        cfg = load_config(path)
        try:
            # Only the classes matter: no memory, no initialisation.
            with torch.device('meta'):
                model = MODELS.build(cfg.model)
        except RuntimeError:
            # ConvNeXt reads its drop-path rates with .item().
            model = MODELS.build(cfg.model)
        assert type(build_graph(model)) is DetectorGraph


def use_mmdet_ms_heads(model_cfg):
    """mmdet's own MS R-CNN heads (they overwrite scores, no clamp)."""
    head = model_cfg.roi_head
    head.type = 'mmdet.MaskScoringRoIHead'
    head.mask_iou_head.type = 'mmdet.MaskIoUHead'
    # The options of ms_rcnn's head that mmdet's does not take.
    for key in ('thr_on_logits', 'overwrite_scores'):
        head.mask_iou_head.pop(key)


def drop_mask_heads(model_cfg):
    """Faster R-CNN."""
    head = model_cfg.roi_head
    head.type = 'StandardRoIHead'
    for key in ('mask_head', 'mask_roi_extractor', 'mask_iou_head'):
        head.pop(key)


@pytest.mark.parametrize('edit, message', [
    # mmdet's and ms_rcnn's MaskScoringRoIHead told apart.
    (use_mmdet_ms_heads,
     r'model.roi_head is mmdet\.models\.roi_heads\.mask_scoring_roi_head\.'
     r'MaskScoringRoIHead; the export handles .*ms_rcnn\.models\.'
     r'roi_heads\.mask_scoring_roi_head\.MaskScoringRoIHead'),
    (lambda m: m.roi_head.mask_head.update(type='HTCMaskHead'),
     r'model.roi_head.mask_head is mmdet\.models\.roi_heads\.mask_heads\.'
     r'htc_mask_head\.HTCMaskHead; the export handles mmdet\.models\.'
     r'roi_heads\.mask_heads\.fcn_mask_head\.FCNMaskHead$'),
    (lambda m: m.rpn_head.bbox_coder.update(type='DeltaXYWHBBoxCoderForGLIP'),
     r'model.rpn_head.bbox_coder is mmdet\.models\.task_modules\.coders\.'
     r'delta_xywh_bbox_coder\.DeltaXYWHBBoxCoderForGLIP'),
    (drop_mask_heads,
     'no roi_head with a mask head'),
    (lambda m: m.roi_head.mask_roi_extractor.roi_layer.update(aligned=False),
     'mask_roi_extractor.roi_layer must be mmcv.s RoIAlign with '
     'aligned=True'),
    (lambda m: m.test_cfg.rcnn.update(nms=dict(type='soft_nms',
                                               iou_threshold=0.5)),
     "test_cfg.rcnn.nms.type is 'soft_nms'"),
    (lambda m: m.test_cfg.rpn.nms.update(offset=1),
     r"test_cfg.rpn.nms has options the export does not handle: \['offset'"),
])
def test_unhandled_component_is_named(edit, message):
    cfg = quickstart_cfg()
    edit(cfg.model)
    model = build_model(cfg)
    with pytest.raises(UnsupportedModelError, match=message):
        build_graph(model)


def test_model_that_is_not_two_stage_is_refused_by_its_class():
    with pytest.raises(UnsupportedModelError,
                       match=r'the detector is torch\.nn\.modules\.linear\.'
                       r'Linear; only two-stage'):
        build_graph(torch.nn.Linear(1, 1))
