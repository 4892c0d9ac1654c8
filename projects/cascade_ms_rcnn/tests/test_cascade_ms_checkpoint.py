"""mmdet Cascade Mask R-CNN / HTC checkpoints load into the COCO configs
with only the MaskIoU head left as initialised."""
import pytest
import torch
from cascade_ms_testing import CONFIGS
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_state_dict

import projects.cascade_ms_rcnn.cascade_ms_rcnn as project
from ms_rcnn.registry import MODELS

COCO = [('cascade-ms-rcnn_r50_fpn_1x_coco.py',
         'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py',
         project.CascadeMaskScoringRCNN, 'Cascade Mask R-CNN'),
        ('htc-ms_r50_fpn_1x_coco.py', 'mmdet::htc/htc_r50_fpn_1x_coco.py',
         project.HybridTaskCascadeMaskScoring, 'HTC')]
HEAD = 'roi_head.mask_iou_head.'


def _build(model_cfg, scope, registry):
    model_cfg.backbone.init_cfg = None  # no download
    init_default_scope(scope)
    return registry.build(model_cfg)


@pytest.mark.parametrize('ours,theirs,cls,plain', COCO)
def test_mmdet_checkpoint_initialises_only_the_maskiou_head(
        ours, theirs, cls, plain, log_records, capsys):
    from mmdet.registry import MODELS as MMDET_MODELS
    torch.manual_seed(0)
    ckpt = _build(get_config(theirs).model, 'mmdet',
                  MMDET_MODELS).state_dict()
    model = _build(Config.fromfile(str(CONFIGS / ours)).model, 'ms_rcnn',
                   MODELS)
    assert type(model) is cls
    own = model.state_dict()
    # The state dict is mmdet's plus the MaskIoU head, with equal shapes.
    assert {k: v.shape
            for k, v in own.items() if not k.startswith(HEAD)
            } == {k: v.shape
                  for k, v in ckpt.items()}
    assert own[HEAD + 'convs.0.weight'].shape == (256, 257, 3, 3)
    assert own[HEAD + 'fc_mask_iou.weight'].shape == (80, 1024)

    with torch.no_grad():
        model.roi_head.mask_iou_head.fc_mask_iou.weight.fill_(0.5)
    head_before = {
        k: v.clone()
        for k, v in model.state_dict().items() if k.startswith(HEAD)
    }
    log_records.clear()
    capsys.readouterr()
    # As the Runner loads `load_from`: without a logger.
    load_state_dict(model, ckpt, strict=False)
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in ckpt.items())
    assert all(torch.equal(after[k], v) for k, v in head_before.items())
    # One line of the log says why the head is missing...
    assert [r for r in log_records if 'mask_iou_head' in r] == [
        f'roi_head.mask_iou_head is not in the checkpoint (a {plain} '
        'checkpoint)'
    ]
    # ...and mmengine prints the missing keys, the head's and no other,
    # on stdout.
    out = capsys.readouterr().out
    listed, = [
        line for line in out.splitlines()
        if line.startswith('missing keys in source state_dict: ')
    ]
    assert sorted(listed.split(': ', 1)[1].split(', ')) == sorted(head_before)
    assert 'unexpected key' not in out and 'size mismatch' not in out
