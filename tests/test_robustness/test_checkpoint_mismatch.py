"""Mismatched checkpoints are named; Mask R-CNN weights fine-tune MS R-CNN."""
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_checkpoint, load_state_dict
from robustness_testing import ROOT

from ms_rcnn.registry import MODELS
from ms_rcnn.utils.checkpoint import (format_mismatch, module_prefixes,
                                      state_dict_mismatch)

QUICKSTART = ROOT / 'configs' / 'quickstart'


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


def test_mismatch_helpers():
    model = dict(
        a=torch.zeros(2),
        **{
            'h.x.w': torch.zeros(1),
            'h.x.b': torch.zeros(1),
            'h.y': torch.zeros(3)
        })
    ckpt = dict(
        a=torch.zeros(3), **{
            'h.y': torch.zeros(3),
            'old.w': torch.zeros(1)
        })
    mismatch = state_dict_mismatch(model, ckpt)
    assert mismatch == dict(
        missing=['h.x.b', 'h.x.w'],
        unexpected=['old'
                    '.w'],
        shape=[('a', (3, ), (2, ))])
    assert module_prefixes(['h.x.b', 'h.x.w'], model) == ['h.x']
    assert format_mismatch(
        mismatch, model,
        ckpt) == ('shape mismatch (checkpoint vs model): a (3,) vs (2,); '
                  'not in the checkpoint: h.x; not in the model: old')


def test_other_num_classes_names_every_differing_parameter(log_records):
    model = _build('ms-rcnn_quickstart.py')  # 5 classes
    other = _build('ms-rcnn_quickstart.py', num_classes=3).state_dict()
    log_records.clear()
    load_state_dict(model, other, strict=False)
    ours = [r for r in log_records if 'does not match MaskScoringRCNN' in r]
    assert ours == [
        'The checkpoint does not match MaskScoringRCNN: shape mismatch '
        '(checkpoint vs model): '
        'roi_head.bbox_head.fc_cls.weight (4, 256) vs (6, 256), '
        'roi_head.bbox_head.fc_cls.bias (4,) vs (6,), '
        'roi_head.bbox_head.fc_reg.weight (12, 256) vs (20, 256), '
        'roi_head.bbox_head.fc_reg.bias (12,) vs (20,), '
        'roi_head.mask_head.conv_logits.weight (3, 64, 1, 1) vs '
        '(5, 64, 1, 1), '
        'roi_head.mask_head.conv_logits.bias (3,) vs (5,), '
        'roi_head.mask_iou_head.fc_mask_iou.weight (3, 256) vs (5, 256), '
        'roi_head.mask_iou_head.fc_mask_iou.bias (3,) vs (5,)'
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
    load_checkpoint(model, path, map_location='cpu', strict=False)
    after = model.state_dict()
    new = [k for k in after if k not in mask_rcnn]
    assert new and all(k.startswith('roi_head.mask_iou_head.') for k in new)
    assert all(torch.equal(after[k], before[k]) for k in new)
    assert all(torch.equal(after[k], v) for k, v in mask_rcnn.items())
    # One line, and no list of missing keys from mmengine.
    said = [r for r in log_records if 'mask_iou_head' in r]
    assert said == [
        'The checkpoint has no roi_head.mask_iou_head (a Mask R-CNN '
        'checkpoint): newly initialised: roi_head.mask_iou_head'
    ]
    assert not [r for r in log_records if 'missing keys' in r]
    # A complete MS R-CNN checkpoint loads without a word.
    log_records.clear()
    load_state_dict(model, dict(after), strict=True)
    assert not [r for r in log_records if 'checkpoint' in r]
