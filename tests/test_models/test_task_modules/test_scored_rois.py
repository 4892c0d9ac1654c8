"""Which RoIs the MaskIoU head trains on and their targets, on one 16x16
image computed by hand.

The image holds one instance of class 1: the square of rows and columns
4..11 (64 pixels, box [4, 4, 12, 12]). Three RoIs, with masks of 8x8 so
that a RoI pixel is an image pixel:

* RoI 0, [4, 4, 12, 12]: exactly on the instance (the positive);
* RoI 1, [8, 4, 16, 12]: covering the instance's right half;
* RoI 2, [0, 13, 3, 16]: overlapping nothing.

The options that train on negatives and predicted classes, with their
tests: projects/mask_score_study.
"""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmdet.structures.mask import BitmapMasks
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from ms_rcnn.models.roi_heads.mask_heads.maskiou_head import MaskIoUHead
from ms_rcnn.models.task_modules.scored_rois import (ScoredRoIs,
                                                     detection_rois,
                                                     instance_mask_targets,
                                                     largest_overlap,
                                                     positive_rois)

CFG = ConfigDict(mask_size=8, mask_thr_binary=0.5)


@pytest.fixture(autouse=True)
def ms_rcnn_scope():
    """The head builds its loss through the registry of the current scope
    (other tests may leave another one)."""
    init_default_scope('ms_rcnn')


@pytest.fixture
def image():
    masks = np.zeros((1, 16, 16), np.uint8)
    masks[0, 4:12, 4:12] = 1
    gt = InstanceData(
        bboxes=torch.tensor([[4., 4., 12., 12.]]),
        labels=torch.tensor([1]),
        masks=BitmapMasks(masks, 16, 16))
    pos = torch.tensor([[4., 4., 12., 12.]])
    neg = torch.tensor([[8., 4., 16., 12.], [0., 13., 3., 16.]])
    res = SimpleNamespace(
        pos_priors=pos,
        neg_priors=neg,
        priors=torch.cat([pos, neg]),
        pos_assigned_gt_inds=torch.tensor([0]))
    return res, gt


def three_rois():
    """The three RoIs, each on class 1, with the instance of RoIs 0 and 1
    (RoI 2 has none, so its class does not match)."""
    return ScoredRoIs(
        inds=torch.arange(3),
        boxes=torch.tensor([[4., 4., 12., 12.], [8., 4., 16., 12.],
                            [0., 13., 3., 16.]]),
        is_pos=torch.tensor([True, False, False]),
        gt_inds=torch.tensor([0, 0, -1]),
        labels=torch.tensor([1, 1, 1]),
        matches=torch.tensor([True, True, False]))


def test_paper_rois_are_the_positives_on_their_gt_class(image):
    res, gt = image
    rois = positive_rois(res, gt)
    assert rois.inds.tolist() == [0]
    assert rois.boxes.tolist() == [[4, 4, 12, 12]]
    assert rois.is_pos.tolist() == [True]
    assert rois.gt_inds.tolist() == [0]
    assert rois.labels.tolist() == [1]
    assert rois.matches.tolist() == [True]


def test_instance_masks_cropped_to_each_roi(image):
    _, gt = image
    targets = instance_mask_targets([three_rois()], [gt], CFG)
    expected = torch.zeros(3, 8, 8)
    expected[0] = 1  # the whole instance
    expected[1, :, :4] = 1  # its right half, in the RoI's left half
    assert torch.equal(targets, expected)  # RoI 2: nothing


def roi_mask_logits(right_half_too):
    """(3, 8, 8) logits: RoI 0 all foreground, RoI 1 its left half (or all
    of it), RoI 2 all foreground."""
    logits = torch.full((3, 8, 8), 5.)
    if not right_half_too:
        logits[1, :, 4:] = -5.
    return logits


@pytest.mark.parametrize('right_half_too, iou', [(False, 0.5), (True, 1 / 3)])
def test_targets_of_a_roi_partly_on_the_instance(image, right_half_too, iou):
    _, gt = image
    rois = three_rois()
    mask_targets = instance_mask_targets([rois], [gt], CFG)
    targets = MaskIoUHead(num_classes=3).get_targets(
        [rois], [gt], roi_mask_logits(right_half_too), mask_targets, CFG)
    # RoI 1 holds half of the instance (area ratio 32 / 64): the whole
    # instance has 64 pixels. Left half predicted: 32 / (32 + 64 - 32).
    # Whole RoI predicted: 32 / (64 + 64 - 32). RoI 2: no instance, 0.
    assert targets.tolist() == pytest.approx([1, iou, 0])


def test_paper_loss_of_the_positive(image):
    res, gt = image
    rois = positive_rois(res, gt)
    mask_targets = instance_mask_targets([rois], [gt], CFG)
    out = MaskIoUHead(num_classes=3).loss_and_target(
        torch.tensor([0.8]),
        roi_mask_logits(False)[:1], mask_targets, [rois], [gt], CFG)
    # Only RoI 0 (target 1 > 0): 0.5 * (0.8 - 1)^2.
    assert out['loss_mask_iou'].item() == pytest.approx(0.5 * 0.04)


def two_instances():
    """Instance 0: class 1, rows and columns 4..11 (box [4, 4, 12, 12]);
    instance 1: class 2, rows 4..11, columns 12..15 (box [12, 4, 16, 12],
    32 pixels), beside it, in a 16x16 image."""
    masks = np.zeros((2, 16, 16), np.uint8)
    masks[0, 4:12, 4:12] = 1
    masks[1, 4:12, 12:16] = 1
    return InstanceData(
        bboxes=torch.tensor([[4., 4., 12., 12.], [12., 4., 16., 12.]]),
        labels=torch.tensor([1, 2]),
        masks=BitmapMasks(masks, 16, 16))


def test_largest_overlap_of_any_class_or_of_the_boxes_class():
    gt = two_instances()
    # Box IoUs with instances 0 and 1: [8, 4, 16, 12]: 32 / 96 and
    # 32 / 64; [2, 4, 10, 12]: 48 / 80 and 0; [0, 13, 3, 16]: 0 and 0.
    boxes = torch.tensor([[8., 4., 16., 12.], [2., 4., 10., 12.],
                          [0., 13., 3., 16.]])
    assert largest_overlap(boxes, gt).tolist() == [1, 0, -1]
    # Among the instances of class 1 only: instance 0 for the first two.
    assert largest_overlap(boxes, gt, torch.tensor([1, 1, 1])).tolist() == [
        0, 0, -1
    ]
    assert largest_overlap(boxes[:0], gt).tolist() == []


def test_detections_pair_with_the_instance_of_their_class():
    # Instance 0: class 1, box [4, 4, 12, 12]; instance 1: class 2, box
    # [12, 4, 16, 12] (rows 4..11, columns 12..15). Four detections:
    # on instance 0 as class 1; over both as class 2 (box IoU 1/3 with
    # instance 0, 1/2 with instance 1); on instance 0 as class 2, which
    # only touches instance 1; and one overlapping nothing.
    gt = two_instances()
    dets = InstanceData(
        bboxes=torch.tensor([[4., 4., 12., 12.], [8., 4., 16., 12.],
                             [4., 4., 12., 12.], [0., 13., 3., 16.]]),
        labels=torch.tensor([1, 2, 2, 1]))
    rois = detection_rois(dets, gt)
    assert rois.inds.tolist() == [0, 1, 2, 3]
    assert rois.gt_inds.tolist() == [0, 1, -1, -1]
    assert rois.labels.tolist() == [1, 2, 2, 1]
    assert rois.matches.tolist() == [True, True, False, False]
    # Targets of masks covering each whole RoI (8x8 masks, one RoI pixel
    # per image pixel): 1 on instance 0; instance 1's 32 pixels of the 64
    # predicted, 1/2; 0 for the two without an instance of their class.
    head = MaskIoUHead(num_classes=3)
    mask_preds = torch.full((4, 8, 8), 10.)
    targets = head.get_targets([rois], [gt], mask_preds,
                               instance_mask_targets([rois], [gt], CFG), CFG)
    torch.testing.assert_close(targets, torch.tensor([1., 0.5, 0., 0.]))
    # All four count in the detections' loss, targets of 0 included:
    # 0.5 x the mean of (0.8 - 1)^2, (0.5 - 0.5)^2, 0.2^2, 0.2^2.
    loss = head.loss_and_target(
        torch.tensor([0.8, 0.5, 0.2, 0.2]), mask_preds,
        instance_mask_targets([rois], [gt], CFG), [rois], [gt], CFG,
        keep_all=True)['loss_mask_iou']
    assert loss.item() == pytest.approx(0.5 * 0.12 / 4)


def test_no_instance_leaves_every_detection_unpaired():
    gt = InstanceData(
        bboxes=torch.zeros((0, 4)), labels=torch.zeros(0, dtype=torch.long),
        masks=BitmapMasks(np.zeros((0, 16, 16), np.uint8), 16, 16))
    dets = InstanceData(
        bboxes=torch.tensor([[4., 4., 12., 12.]]), labels=torch.tensor([1]))
    rois = detection_rois(dets, gt)
    assert rois.gt_inds.tolist() == [-1]
    assert rois.matches.tolist() == [False]
