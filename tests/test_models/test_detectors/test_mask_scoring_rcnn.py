"""MaskScoringRCNN checkpoint loading: a strict load fails on a missing
MaskIoU head; old RPN checkpoints load and are reported as mmengine does.

Lenient loads of Mask R-CNN checkpoints: tests/test_robustness/
test_checkpoint_mismatch.py."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_state_dict

from ms_rcnn.registry import MODELS

QUICKSTART = Path(__file__).parents[3] / 'configs' / 'quickstart'
HEAD = 'roi_head.mask_iou_head.'


def _build(name):
    cfg = Config.fromfile(str(QUICKSTART / name)).model
    init_default_scope('ms_rcnn')
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


@pytest.fixture
def model():
    return _build('ms-rcnn_quickstart.py')


def test_strict_load_of_mask_rcnn_weights_names_the_missing_head(model):
    mask_rcnn_state = _build('mask-rcnn_quickstart.py').state_dict()
    head_keys = [k for k in model.state_dict() if k.startswith(HEAD)]
    with pytest.raises(RuntimeError, match='Missing key') as torch_error:
        model.load_state_dict(mask_rcnn_state, strict=True)
    with pytest.raises(RuntimeError, match='missing keys') as mmengine_error:
        load_state_dict(model, mask_rcnn_state, strict=True)
    for error in (torch_error, mmengine_error):
        assert all(k in str(error.value) for k in head_keys)
    # Nothing else is missing.
    missing = model.load_state_dict(mask_rcnn_state, strict=False)
    assert sorted(missing.missing_keys) == sorted(head_keys)
    assert missing.unexpected_keys == []


def test_rpn_checkpoint_bbox_head_keys_load_into_rpn_head(model, log_records):
    # mmdet's single-stage RPN detector stores its head as bbox_head;
    # mmdet's TwoStageDetector renames those keys to rpn_head.
    rpn = {
        k.replace('rpn_head.', 'bbox_head.', 1): v.clone() + 1
        for k, v in model.state_dict().items()
        if k.split('.')[0] in ('backbone', 'neck', 'rpn_head')
    }
    log_records.clear()
    load_state_dict(model, rpn, strict=False, logger='current')
    after = model.state_dict()
    assert all(
        torch.equal(after[k.replace('bbox_head.', 'rpn_head.', 1)], v)
        for k, v in rpn.items())
    # Said once, by mmengine: the roi_head is missing, nothing is
    # unexpected, and this is no Mask R-CNN checkpoint.
    said = [r for r in log_records if 'head' in r]
    assert len(said) == 1 and 'unexpected' not in said[0]
    missing = said[0].split('missing keys in source state_dict: ')[1]
    assert sorted(missing.strip().split(', ')) == sorted(
        k for k in after if k.startswith('roi_head.'))
