"""Mismatched checkpoints are named once; Mask R-CNN weights fine-tune
MS R-CNN."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_checkpoint, load_state_dict
from robustness_testing import ROOT

from ms_rcnn.registry import MODELS

QUICKSTART = ROOT / 'configs' / 'quickstart'
NOT_IN_CHECKPOINT = ('roi_head.mask_iou_head is not in the checkpoint (a '
                     'Mask R-CNN checkpoint)')


def _build(name, **bbox_and_mask):
    cfg = Config.fromfile(str(QUICKSTART / name)).model
    for head in ('bbox_head', 'mask_head', 'mask_iou_head'):
        if head in cfg.roi_head and 'num_classes' in bbox_and_mask:
            cfg.roi_head[head].num_classes = bbox_and_mask['num_classes']
    init_default_scope('ms_rcnn')
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def test_other_num_classes_names_every_differing_parameter_once(log_records):
    model = _build('ms-rcnn_quickstart.py')  # 3 classes
    other = _build('ms-rcnn_quickstart.py', num_classes=5).state_dict()
    log_records.clear()
    load_state_dict(model, other, strict=False, logger='current')
    # mmengine names each one with both shapes; the detector adds nothing.
    said, = [r for r in log_records if 'mismatch' in r]
    differing = {
        'roi_head.bbox_head.fc_cls.weight': ((6, 256), (4, 256)),
        'roi_head.bbox_head.fc_cls.bias': ((6, ), (4, )),
        'roi_head.bbox_head.fc_reg.weight': ((20, 256), (12, 256)),
        'roi_head.bbox_head.fc_reg.bias': ((20, ), (12, )),
        'roi_head.mask_head.conv_logits.weight':
        ((5, 64, 1, 1), (3, 64, 1, 1)),
        'roi_head.mask_head.conv_logits.bias': ((5, ), (3, )),
        'roi_head.mask_iou_head.fc_mask_iou.weight': ((5, 256), (3, 256)),
        'roi_head.mask_iou_head.fc_mask_iou.bias': ((5, ), (3, )),
    }
    lines = [line for line in said.splitlines() if 'mismatch' in line]
    assert lines == [
        f'size mismatch for {k}: copying a param with shape '
        f'{torch.Size(ckpt)} from checkpoint, the shape in current model '
        f'is {torch.Size(ours)}.' for k, (ckpt, ours) in differing.items()
    ]


def test_mask_rcnn_checkpoint_initialises_only_the_maskiou_head(
        tmp_path, log_records):
    mask_rcnn = _build('mask-rcnn_quickstart.py').state_dict()
    path = str(tmp_path / 'mask_rcnn.pth')
    torch.save(dict(state_dict=mask_rcnn, meta=dict()), path)
    model = _build('ms-rcnn_quickstart.py')
    torch.nn.init.constant_(model.roi_head.mask_iou_head.fc_mask_iou.weight,
                            0.5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    log_records.clear()  # init_weights logs every parameter
    load_checkpoint(
        model, path, map_location='cpu', strict=False, logger='current')
    after = model.state_dict()
    new = [k for k in after if k not in mask_rcnn]
    assert new and all(k.startswith('roi_head.mask_iou_head.') for k in new)
    assert all(torch.equal(after[k], before[k]) for k in new)
    assert all(torch.equal(after[k], v) for k, v in mask_rcnn.items())
    # mmengine lists the head's keys as missing, and one line says why.
    missing, = [r for r in log_records if 'missing keys' in r]
    assert sorted(missing.split('state_dict: ')[1].strip().split(', ')) == (
        sorted(new))
    assert [
        r for r in log_records
        if 'mask_iou_head' in r and 'missing keys' not in r
    ] == [NOT_IN_CHECKPOINT]
    assert not [r for r in log_records if 'initialised' in r]
    # A complete MS R-CNN checkpoint loads without a word.
    log_records.clear()
    load_state_dict(model, dict(after), strict=True, logger='current')
    assert not [r for r in log_records if 'checkpoint' in r or 'key' in r]


def test_strict_load_of_a_mask_rcnn_checkpoint_says_what_is_missing(
        log_records):
    # The line comes before the loader raises: it must not claim that the
    # head was initialised and the rest loaded.
    mask_rcnn = _build('mask-rcnn_quickstart.py').state_dict()
    model = _build('ms-rcnn_quickstart.py')
    log_records.clear()
    with pytest.raises(RuntimeError) as info:
        load_state_dict(model, mask_rcnn, strict=True, logger='current')
    assert 'missing keys in source state_dict: roi_head.mask_iou_head.' in (
        str(info.value))
    assert [r for r in log_records if 'mask_iou_head' in r] == [
        NOT_IN_CHECKPOINT
    ]
