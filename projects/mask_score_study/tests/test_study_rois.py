"""Which RoIs the study's MaskIoU head trains on, their targets and loss
weights, on one 16x16 image computed by hand (moved from the core's
test_scored_rois.py with the options).

The image holds one instance of class 1: the square of rows and columns
4..11 (64 pixels, box [4, 4, 12, 12]). Three sampled RoIs, with masks of
8x8 so that a RoI pixel is an image pixel:

* RoI 0, [4, 4, 12, 12]: the positive, exactly on the instance;
* RoI 1, [8, 4, 16, 12]: a negative (box IoU 32 / 96) covering the
  instance's right half;
* RoI 2, [0, 13, 3, 16]: a negative overlapping nothing.

Two more cases: negatives between two instances, and mmdet's own assigner
and sampler drawing the RoIs whose negatives ``max_neg_ratio`` caps.
"""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmdet.registry import TASK_UTILS
from mmdet.structures.mask import BitmapMasks
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from ms_rcnn.models.task_modules.scored_rois import (instance_mask_targets,
                                                     positive_rois)
from projects.mask_score_study.mask_score_study import (StudyMaskIoUHead,
                                                        scored_rois,
                                                        target_bin_weights)

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


def test_paper_rois_are_the_cores_positives(image):
    res, gt = image
    rois = scored_rois(res, gt, 'pos', 'gt')
    assert rois.boxes.tolist() == [[4, 4, 12, 12]]
    assert rois.gt_inds.tolist() == [0]
    assert rois.labels.tolist() == [1]
    assert rois.matches.tolist() == [True]
    for mine, core in zip(rois, positive_rois(res, gt)):
        assert torch.equal(mine, core)


def test_all_rois_negatives_without_an_instance_take_the_predicted_class(
        image):
    res, gt = image
    # The box head predicts class 2 for RoI 2: with 'gt', a RoI without an
    # instance is scored on the predicted class.
    rois = scored_rois(res, gt, 'all', 'gt', torch.tensor([1, 1, 2]))
    assert rois.is_pos.tolist() == [True, False, False]
    assert rois.gt_inds.tolist() == [0, 0, -1]
    assert rois.labels.tolist() == [1, 1, 2]
    assert rois.matches.tolist() == [True, True, False]


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


def test_negatives_take_the_instance_they_overlap_most():
    # A second instance, class 2: rows 4..11, columns 12..15 (box
    # [12, 4, 16, 12], 32 pixels), beside the first.
    gt = two_instances()
    pos = torch.tensor([[4., 4., 12., 12.]])
    # Box IoUs with instances 0 and 1: [8, 4, 16, 12]: 32 / 96 and
    # 32 / 64; [2, 4, 10, 12]: 48 / 80 and 0; [0, 13, 3, 16]: 0 and 0.
    neg = torch.tensor([[8., 4., 16., 12.], [2., 4., 10., 12.],
                        [0., 13., 3., 16.]])
    res = SimpleNamespace(
        pos_priors=pos,
        neg_priors=neg,
        priors=torch.cat([pos, neg]),
        pos_assigned_gt_inds=torch.tensor([0]))
    rois = scored_rois(res, gt, 'all', 'gt', torch.tensor([0, 0, 0, 0]))
    assert rois.gt_inds.tolist() == [0, 1, 0, -1]
    # The instance's class; the predicted one where there is none.
    assert rois.labels.tolist() == [1, 2, 1, 0]
    assert rois.matches.tolist() == [True, True, True, False]


@pytest.mark.parametrize('ratio, num_negs', [(None, 2), (2.0, 2), (0.5, 0)])
def test_negatives_per_positive_are_capped(image, ratio, num_negs):
    res, gt = image
    rois = scored_rois(res, gt, 'all', 'gt', torch.tensor([1, 1, 2]), ratio)
    # One positive: num_negs negatives (here all or none of the two).
    assert torch.equal(rois.boxes, res.priors[:1 + num_negs])
    assert rois.inds.tolist() == [0, 1, 2][:1 + num_negs]
    assert rois.gt_inds.tolist() == [0, 0, -1][:1 + num_negs]
    assert rois.labels.tolist() == [1, 1, 2][:1 + num_negs]


def _sampled_proposals():
    """mmdet's MaxIoUAssigner and RandomSampler (as in the configs) on 40
    proposals around two instances of a 64x64 image, in decreasing
    objectness as the RPN outputs them."""
    gt = InstanceData(
        bboxes=torch.tensor([[8., 8., 24., 24.], [36., 30., 60., 58.]]),
        labels=torch.tensor([0, 2]))
    rng = torch.Generator().manual_seed(0)
    centres = torch.rand((40, 2), generator=rng) * 56 + 4
    sizes = torch.rand((40, 2), generator=rng) * 12 + 6
    proposals = torch.cat([centres - sizes, centres + sizes], 1).clamp(0, 64)
    proposals[:4] = gt.bboxes.repeat(2, 1) + torch.tensor([1., -1, 1, 1])
    assigner = TASK_UTILS.build(
        dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.5,
            min_pos_iou=0.5,
            match_low_quality=True,
            ignore_iof_thr=-1))
    sampler = TASK_UTILS.build(
        dict(
            type='RandomSampler',
            num=16,
            pos_fraction=0.25,
            neg_pos_ub=-1,
            add_gt_as_proposals=True))
    pred = InstanceData(priors=proposals)
    torch.manual_seed(0)
    res = sampler.sample(assigner.assign(pred, gt), pred, gt)
    return res, gt


def test_capped_negatives_are_a_random_draw_with_mmdets_sampler():
    res, gt = _sampled_proposals()
    num_pos, num_neg = len(res.pos_priors), len(res.neg_priors)
    assert (num_pos, num_neg) == (4, 12)
    # mmdet's sampler returns its negatives in proposal order, i.e. in
    # decreasing objectness: the first ones would be the hardest.
    assert torch.equal(res.neg_inds, res.neg_inds.sort().values)
    pred_labels = torch.arange(16) % 3
    chosen = torch.zeros(num_neg)
    for seed in range(300):
        torch.manual_seed(seed)
        rois = scored_rois(res, gt, 'all', 'pred', pred_labels, 0.5)
        # 0.5 x 4 positives: the 4 positives and 2 of the 12 negatives,
        # in sampling order, with their own predicted classes.
        assert torch.equal(rois.inds[:num_pos], torch.arange(num_pos))
        negs = rois.inds[num_pos:] - num_pos
        assert len(negs) == 2 and negs[0] < negs[1]
        assert torch.equal(rois.boxes, res.priors[rois.inds])
        assert torch.equal(rois.labels, pred_labels[rois.inds])
        chosen[negs] += 1
    # Each negative drawn 300 x 2 / 12 = 50 times on average (standard
    # deviation 6.5).
    assert ((chosen > 25) & (chosen < 75)).all(), chosen


def test_predicted_class_other_than_the_instances_does_not_match(image):
    res, gt = image
    rois = scored_rois(res, gt, 'all', 'pred', torch.tensor([1, 2, 0]))
    assert rois.labels.tolist() == [1, 2, 0]
    assert rois.matches.tolist() == [True, False, False]


def test_instance_masks_cropped_to_each_roi(image):
    res, gt = image
    rois = scored_rois(res, gt, 'all', 'gt', torch.tensor([1, 1, 1]))
    targets = instance_mask_targets([rois], [gt], CFG)
    expected = torch.zeros(3, 8, 8)
    expected[0] = 1  # the whole instance
    expected[1, :, :4] = 1  # its right half, in the RoI's left half
    assert torch.equal(targets, expected)  # RoI 2: nothing


def head(**kwargs):
    return StudyMaskIoUHead(
        num_convs=1,
        num_fcs=1,
        roi_feat_size=4,
        in_channels=2,
        conv_out_channels=2,
        fc_out_channels=4,
        num_classes=3,
        **kwargs)


def roi_mask_logits(right_half_too):
    """(3, 8, 8) logits: RoI 0 all foreground, RoI 1 its left half (or all
    of it), RoI 2 all foreground."""
    logits = torch.full((3, 8, 8), 5.)
    if not right_half_too:
        logits[1, :, 4:] = -5.
    return logits


@pytest.mark.parametrize('right_half_too, iou', [(False, 0.5), (True, 1 / 3)])
def test_targets_of_a_negative_partly_on_the_instance(image, right_half_too,
                                                      iou):
    res, gt = image
    rois = scored_rois(res, gt, 'all', 'gt', torch.tensor([1, 1, 2]))
    mask_targets = instance_mask_targets([rois], [gt], CFG)
    targets = head(train_rois='all').get_targets(
        [rois], [gt], roi_mask_logits(right_half_too), mask_targets, CFG)
    # RoI 1 holds half of the instance (area ratio 32 / 64): the whole
    # instance has 64 pixels. Left half predicted: 32 / (32 + 64 - 32).
    # Whole RoI predicted: 32 / (64 + 64 - 32). RoI 2: no instance, 0.
    assert targets.tolist() == pytest.approx([1, iou, 0])


def test_targets_of_a_wrong_predicted_class_are_zero(image):
    res, gt = image
    rois = scored_rois(res, gt, 'all', 'pred', torch.tensor([1, 2, 2]))
    mask_targets = instance_mask_targets([rois], [gt], CFG)
    targets = head(train_rois='all', train_class='pred').get_targets(
        [rois], [gt], roi_mask_logits(False), mask_targets, CFG)
    assert targets.tolist() == pytest.approx([1, 0, 0])


def test_bin_weights_give_each_bin_the_same_total():
    # Two bins: 0 holds {0}, 1 holds {0.5, 1}. Raw weights (1, 1/2, 1/2)
    # sum to 2; scaled to a mean of 1: (1.5, 0.75, 0.75).
    weights = target_bin_weights(torch.tensor([0., 0.5, 1.]), 2)
    assert weights.tolist() == pytest.approx([1.5, 0.75, 0.75])
    assert target_bin_weights(torch.tensor([.2, .3]), 4).tolist() == [1, 1]


@pytest.mark.parametrize(
    'kwargs, loss',
    [
        # The paper's: only RoI 0 (target 1 > 0): 0.5 * (0.8 - 1)^2.
        (dict(), 0.5 * 0.04),
        # All RoIs, targets (1, 0.5, 0), squared errors (.04, 0, .04).
        (dict(train_rois='all'), 0.5 * 0.08 / 3),
        # Bin weights (0.75, 0.75, 1.5) as above.
        (dict(train_rois='all', target_bins=2),
         0.5 * (0.75 * 0.04 + 1.5 * 0.04) / 3),
    ])
def test_loss_of_each_training_option(image, kwargs, loss):
    res, gt = image
    iou_head = head(**kwargs)
    rois = scored_rois(res, gt, iou_head.train_rois, iou_head.train_class,
                       torch.tensor([1, 1, 2]))
    n = len(rois.boxes)
    mask_targets = instance_mask_targets([rois], [gt], CFG)
    out = iou_head.loss_and_target(
        torch.tensor([0.8, 0.5, 0.2])[:n],
        roi_mask_logits(False)[:n], mask_targets, [rois], [gt], CFG)
    assert out['loss_mask_iou'].item() == pytest.approx(loss)


@pytest.mark.parametrize('kwargs', [
    dict(train_rois='neg'),
    dict(train_class='box'),
    dict(target_bins=-1),
    dict(max_neg_ratio=-1.0),
])
def test_unknown_training_option_is_refused(kwargs):
    with pytest.raises(ValueError, match='StudyMaskIoUHead: ' +
                       next(iter(kwargs))):
        head(**kwargs)
