"""Mask scoring of the cascades on hand-computed cases: mask heads and a
MaskIoU head with constant outputs, so that the merged mask, the mask score
and the MaskIoU loss are numbers derived in the comments."""
import pytest
import torch
from cascade_ms_testing import build_ours, shapes_batch
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData
from ms_rcnn_testing import predict

CASCADE, HTC = 'cascade-ms-rcnn_quickstart.py', 'htc-ms_quickstart.py'
# Predicted IoU of classes 0..4 (the MaskIoU head's constant output).
CLASS_IOUS = [0.1, 0.2, 0.75]


def _constant_heads(model, stage_logits):
    """Stage s's mask head outputs ``stage_logits[s]`` at every pixel and
    class; the MaskIoU head outputs ``CLASS_IOUS`` for every RoI."""
    with torch.no_grad():
        for head, logit in zip(model.roi_head.mask_head, stage_logits):
            head.conv_logits.weight.zero_()
            head.conv_logits.bias.fill_(logit)
        fc = model.roi_head.mask_iou_head.fc_mask_iou
        fc.weight.zero_()
        fc.bias.copy_(torch.tensor(CLASS_IOUS))
    return model


# Stage logits -1, 0, 1 are probabilities s(-1) = 1 - s(1), 1/2, s(1)
# (s = sigmoid, s(1) = 0.7310586). Cascade Mask R-CNN merges all stages:
# mean (1 - s(1) + 1/2 + s(1)) / 3 = 1/2, logit 0. HTC outputs the last
# stage: s(1), logit 1. Stage logits 50 are probability 1 in float32: the
# merged mask is clamped to 1 - 1e-6, which float32 rounds to
# 1 - 17 * 2**-24, so its logit is ln(2**24 / 17 - 1) = 13.802318 (not the
# 13.815510 of exactly 1 - 1e-6).
@pytest.mark.parametrize('name,stage_logits,merged_logit',
                         [(CASCADE, (-1., 0., 1.), 0.),
                          (HTC, (-1., 0., 1.), 1.),
                          (CASCADE, (50., 50., 50.), 13.802318),
                          (HTC, (50., 50., 50.), 13.802318)])
def test_maskiou_input_and_mask_score_by_hand(name, stage_logits, merged_logit,
                                              monkeypatch):
    model = _constant_heads(build_ours(name), stage_logits)
    head = model.roi_head.mask_iou_head
    forward, seen = head.forward, []
    monkeypatch.setattr(head, 'forward',
                        lambda f, m: seen.append(m) or forward(f, m))
    pred = predict(model, shapes_batch(seed=3))
    assert len(seen) == 1 and seen[0].shape == (100, 28, 28)
    torch.testing.assert_close(
        seen[0], torch.full_like(seen[0], merged_logit), rtol=0, atol=1e-5)
    # mask score = class score x the class's predicted IoU.
    ious = torch.tensor(CLASS_IOUS)[pred.labels]
    torch.testing.assert_close(pred.mask_scores, pred.scores * ious)


def _one_rectangle_batch():
    """A 96x128 image whose one instance (class 2) fills the box
    (8, 8, 64, 36): 56 x 28 pixels, 2 x 1 pixels per cell of the 28 x 28
    mask grid, so its mask target is 1 in every cell."""
    batch = shapes_batch(seed=0, num_gts=1)
    masks = torch.zeros((1, 96, 128), dtype=torch.uint8)
    masks[0, 8:36, 8:64] = 1
    gt = InstanceData(
        bboxes=torch.tensor([[8., 8., 64., 36.]]),
        labels=torch.tensor([2]),
        masks=BitmapMasks(masks.numpy(), 96, 128))
    batch['data_samples'][0].gt_instances = gt
    return batch


@pytest.mark.parametrize('name', [CASCADE, HTC])
def test_loss_mask_iou_by_hand(name, monkeypatch):
    # Every stage's mask probability s(2) = 0.88 > 0.5: the binarised
    # merged mask is the whole RoI.
    model = _constant_heads(build_ours(name), (2., 2., 2.))
    monkeypatch.setattr(model.roi_head.mask_iou_head.loss_iou, 'loss_weight',
                        0.3)
    model.train()
    data = model.data_preprocessor(_one_rectangle_batch(), True)
    x = model.extract_feat(data['inputs'])
    # No proposals: every stage's only positive is the ground-truth box,
    # which the samplers add as a proposal (and the box refinement drops).
    proposals = [InstanceData(bboxes=torch.zeros((0, 4)))]
    losses = model.roi_head.loss(x, proposals, data['data_samples'])
    # The positive's mask (the whole RoI) equals the whole instance: IoU
    # target 1. Predicted IoU 0.75 (class 2). Loss 0.3 x (0.75 - 1)^2 =
    # 0.01875, not also x 0.25 (the last stage's weight) = 0.0046875.
    torch.testing.assert_close(
        losses['loss_mask_iou'], torch.tensor(0.01875), rtol=0, atol=1e-6)
    assert not [key for key in losses if 'iou' in key and key.startswith('s')]
