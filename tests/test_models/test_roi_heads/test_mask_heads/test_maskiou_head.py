"""MaskIoUHead: shapes, a hand-computed loss, fp32 loss under autocast, a
zero loss that reaches every parameter."""
import numpy as np
import pytest
import torch
from mmdet.structures.mask import BitmapMasks
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from ms_rcnn.models import MaskIoUHead
from ms_rcnn.models.task_modules.scored_rois import ScoredRoIs


@pytest.fixture(autouse=True)
def ms_rcnn_scope():
    """The head builds its loss through the registry of the current scope
    (other tests may leave another one)."""
    init_default_scope('ms_rcnn')


def _case():
    """Two positives on one 32x32 instance: a perfect mask and an empty one.

    Targets: IoU 1 for the first; 0 for the second (left out of the loss).
    """
    masks = np.zeros((1, 64, 64), np.uint8)
    masks[0, 16:48, 16:48] = 1
    res = ScoredRoIs(
        inds=torch.tensor([0, 1]),
        boxes=torch.tensor([[16., 16., 48., 48.], [16., 16., 48., 48.]]),
        is_pos=torch.tensor([True, True]),
        gt_inds=torch.tensor([0, 0]),
        labels=torch.tensor([0, 0]),
        matches=torch.tensor([True, True]))
    gt = InstanceData(masks=BitmapMasks(masks, 64, 64))
    mask_targets = torch.ones(2, 28, 28)
    mask_preds = torch.full((2, 28, 28), -10.)
    mask_preds[0] = 10.
    return res, gt, mask_preds, mask_targets


def test_forward_shapes_and_names():
    head = MaskIoUHead(num_classes=3)
    out = head(torch.rand(5, 256, 14, 14), torch.randn(5, 28, 28))
    assert out.shape == (5, 3)
    names = {k: v.shape for k, v in head.state_dict().items()}
    assert names == {
        'convs.0.weight': (256, 257, 3, 3), 'convs.0.bias': (256, ),
        'convs.1.weight': (256, 256, 3, 3), 'convs.1.bias': (256, ),
        'convs.2.weight': (256, 256, 3, 3), 'convs.2.bias': (256, ),
        'convs.3.weight': (256, 256, 3, 3), 'convs.3.bias': (256, ),
        'fcs.0.weight': (1024, 12544), 'fcs.0.bias': (1024, ),
        'fcs.1.weight': (1024, 1024), 'fcs.1.bias': (1024, ),
        'fc_mask_iou.weight': (3, 1024), 'fc_mask_iou.bias': (3, )
    }


def test_loss_by_hand():
    res, gt, mask_preds, mask_targets = _case()
    head = MaskIoUHead(num_classes=1)
    cfg = ConfigDict(mask_thr_binary=0.5)
    targets = head.get_targets([res], [gt], mask_preds, mask_targets, cfg)
    assert targets.tolist() == [1.0, 0.0]
    pred = torch.tensor([0.5, 0.9], requires_grad=True)
    loss = head.loss_and_target(pred, mask_preds, mask_targets, [res], [gt],
                                cfg)['loss_mask_iou']
    # 0.5 * mean over the positives with target > 0: 0.5 * (0.5 - 1)^2
    assert loss.item() == pytest.approx(0.125)
    loss.backward()
    assert pred.grad.tolist() == [-0.5, 0.0]


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_loss_in_fp32_under_autocast(dtype):
    res, gt, mask_preds, mask_targets = _case()
    head = MaskIoUHead(num_classes=1)
    cfg = ConfigDict(mask_thr_binary=0.5)
    pred = torch.tensor([0.3, 0.9]).to(dtype)
    with torch.autocast('cpu', dtype=dtype):
        out = head.loss_and_target(pred, mask_preds.to(dtype),
                                   mask_targets.to(dtype), [res], [gt], cfg)
    loss = out['loss_mask_iou']
    assert loss.dtype == torch.float32
    expected = 0.5 * (pred[0].float() - 1)**2
    assert loss.item() == pytest.approx(expected.item(), abs=1e-7)


def test_no_positive_target_gives_zero_connected_loss():
    res, gt, mask_preds, mask_targets = _case()
    mask_preds[:] = -10.  # both predictions empty: both targets 0
    head = MaskIoUHead(num_classes=1)
    pred = torch.tensor([0.3, 0.9], requires_grad=True)
    loss = head.loss_and_target(pred, mask_preds, mask_targets, [res], [gt],
                                ConfigDict(mask_thr_binary=0.5))
    assert loss['loss_mask_iou'].item() == 0.0
    loss['loss_mask_iou'].backward()
    assert pred.grad.tolist() == [0.0, 0.0]
    # DDP waits for a gradient of every parameter: each gets a 0.
    assert all(p.grad is not None and not p.grad.any()
               for p in head.parameters())


@pytest.mark.parametrize('target_thr, target', [(None, 0.5), (0.4, 1.0),
                                                (0.6, 0.0)])
def test_target_thr_makes_the_target_binary(target_thr, target):
    res, gt, mask_preds, mask_targets = _case()
    # The first mask keeps the left 14 of 28 columns of the box, which is
    # the instance's: IoU 1/2.
    mask_preds[0, :, 14:] = -10.
    head = MaskIoUHead(num_classes=1, target_thr=target_thr)
    loss = head.loss_and_target(
        torch.tensor([0.3, 0.9]), mask_preds, mask_targets, [res], [gt],
        ConfigDict(mask_thr_binary=0.5))['loss_mask_iou']
    # The second (empty) mask stays out of the loss, as without target_thr.
    assert loss.item() == pytest.approx(0.5 * (0.3 - target)**2)


def test_predict_by_feat_clamps_and_keeps_scores():
    head = MaskIoUHead(num_classes=2)
    results = InstanceData(
        scores=torch.tensor([0.8, 0.5, 0.4]), labels=torch.tensor([0, 1, 1]))
    ious = torch.tensor([[0.5, 9.], [9., 1.7], [0.2, -0.3]])
    out = head.predict_by_feat([ious], [results])[0]
    torch.testing.assert_close(out.scores, torch.tensor([0.8, 0.5, 0.4]))
    torch.testing.assert_close(out.mask_scores, torch.tensor([0.4, 0.5, 0.]))
    legacy = MaskIoUHead(num_classes=2, overwrite_scores=True)
    results = InstanceData(
        scores=torch.tensor([0.8]), labels=torch.tensor([0]))
    out = legacy.predict_by_feat([torch.tensor([[0.5, 0.1]])], [results])[0]
    torch.testing.assert_close(out.scores, torch.tensor([0.4]))
