"""Which RoIs the MaskIoU head trains on, and their instances' masks.

Shapes: ``n`` sampled RoIs of one image, ``N`` over the batch, ``M x M`` the
mask-head resolution (28).
"""
from typing import List, NamedTuple, Optional

import torch
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor
from mmdet.structures.mask.mask_target import mask_target_single
from mmdet.utils import InstanceList
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor
from torch.nn.modules.utils import _pair


class ScoredRoIs(NamedTuple):
    """The RoIs of one image that the MaskIoU head trains on.

    n RoIs, positives first, in the order of the sampling result.

    Attributes:
        inds (Tensor): (n, ) index of each RoI in the sampling result's
            ``priors`` (positives, then negatives).
        boxes (Tensor): (n, 4) xyxy.
        is_pos (Tensor): (n, ) bool, a positive of the box head.
        gt_inds (Tensor): (n, ) index of the instance whose mask each RoI's
            target compares with: the assigned one for positives, the one
            of largest box IoU for negatives, -1 where none overlaps.
        labels (Tensor): (n, ) class whose mask and IoU channel are scored.
        matches (Tensor): (n, ) bool, ``labels`` is the class of instance
            ``gt_inds`` (the target is 0 elsewhere).
    """
    inds: Tensor
    boxes: Tensor
    is_pos: Tensor
    gt_inds: Tensor
    labels: Tensor
    matches: Tensor


def scored_rois(res: SamplingResult,
                gt: InstanceData,
                train_rois: str,
                train_class: str,
                pred_labels: Optional[Tensor] = None,
                max_neg_ratio: Optional[float] = None) -> ScoredRoIs:
    """Which RoIs of one image the MaskIoU head trains on, and on which
    class's mask.

    Args:
        res (SamplingResult): The image's sampled RoIs.
        gt (InstanceData): Its instances, with ``bboxes`` and ``labels``.
        train_rois (str): ``'pos'`` or ``'all'`` (see :class:`MaskIoUHead`).
        train_class (str): ``'gt'`` or ``'pred'``.
        pred_labels (Tensor, optional): (n, ) the box head's predicted class
            of each sampled RoI, in ``res.priors`` order. Needed for
            ``train_class='pred'`` and for ``train_rois='all'``.
        max_neg_ratio (float, optional): With ``'all'``, score at most this
            many negatives per positive of the image, drawn at random among
            the sampled negatives (torch's global generator), kept in
            sampling order. None: every sampled negative.
    """
    num_pos, num_neg = len(res.pos_priors), len(res.neg_priors)
    device = res.pos_priors.device
    if train_rois == 'pos':
        inds = torch.arange(num_pos, device=device)
    else:
        neg_inds = torch.arange(num_neg, device=device)
        if max_neg_ratio is not None:
            # A random draw, not the first ones: mmdet's sampler returns
            # its negatives sorted by proposal index, which is the RPN's
            # objectness order, so the first ones are the hardest.
            num_kept = min(int(max_neg_ratio * num_pos), num_neg)
            neg_inds = torch.randperm(
                num_neg, device=device)[:num_kept].sort().values
        inds = torch.cat([torch.arange(num_pos, device=device),
                          num_pos + neg_inds])
    boxes = res.priors[inds]
    is_pos = inds < num_pos
    # Negatives: the instance of largest box IoU, -1 where none overlaps.
    overlaps = bbox_overlaps(boxes[~is_pos], get_box_tensor(gt.bboxes))
    neg_gt_inds = overlaps.new_full((len(overlaps), ), -1, dtype=torch.long)
    if overlaps.numel():
        best, best_inds = overlaps.max(dim=1)
        neg_gt_inds = torch.where(best > 0, best_inds, neg_gt_inds)
    gt_inds = torch.cat([res.pos_assigned_gt_inds, neg_gt_inds])
    has_gt = gt_inds >= 0
    gt_labels = gt.labels[gt_inds.clamp(min=0)] if len(gt) else gt_inds
    if train_class == 'pred':
        labels = pred_labels[inds]
    elif train_rois == 'all':
        # RoIs overlapping no instance have no ground-truth class: they
        # are scored on the class the box head predicts, as at test time.
        labels = torch.where(has_gt, gt_labels, pred_labels[inds])
    else:
        labels = gt_labels
    return ScoredRoIs(inds, boxes, is_pos, gt_inds, labels,
                      has_gt & (labels == gt_labels))


def detection_rois(dets: InstanceData, gt: InstanceData) -> ScoredRoIs:
    """The detections of one image as RoIs for the MaskIoU head, each on
    its predicted class and paired with the instance of that class that
    its box overlaps most.

    Args:
        dets (InstanceData): n detections with ``bboxes`` (n, 4) and
            ``labels`` (n, ), in the frame of ``gt``.
        gt (InstanceData): The image's instances, with ``bboxes`` and
            ``labels``.

    Returns:
        ScoredRoIs: ``inds`` 0..n-1; ``gt_inds`` -1 where no instance of
        the detection's class overlaps it; ``matches`` and ``is_pos`` both
        mark the detections with an instance.
    """
    boxes, labels = dets.bboxes, dets.labels
    gt_inds = labels.new_full((len(boxes), ), -1)
    if len(gt) and len(boxes):
        overlaps = bbox_overlaps(boxes, get_box_tensor(gt.bboxes))
        same_class = labels[:, None] == gt.labels[None].to(labels)
        best, best_inds = torch.where(same_class, overlaps,
                                      overlaps.new_zeros(())).max(dim=1)
        gt_inds = torch.where(best > 0, best_inds, gt_inds)
    matches = gt_inds >= 0
    return ScoredRoIs(
        torch.arange(len(boxes), device=boxes.device), boxes, matches,
        gt_inds, labels, matches)


def instance_mask_targets(scored: List[ScoredRoIs],
                          batch_gt_instances: InstanceList,
                          rcnn_train_cfg: ConfigDict) -> Tensor:
    """(N, M, M) mask of each RoI's instance (``gt_inds``) cropped to the
    RoI, as mmdet's ``mask_target`` makes them for positives; zeros where a
    RoI has no instance."""
    targets = []
    for rois, gt in zip(scored, batch_gt_instances):
        if len(gt):
            masks = mask_target_single(rois.boxes, rois.gt_inds.clamp(min=0),
                                       gt.masks, rcnn_train_cfg)
            masks = masks * (rois.gt_inds >= 0)[:, None, None]
        else:
            masks = rois.boxes.new_zeros(
                (len(rois.boxes), ) + _pair(rcnn_train_cfg.mask_size))
        targets.append(masks)
    return torch.cat(targets)


def target_bin_weights(targets: Tensor, num_bins: int) -> Tensor:
    """Per-target loss weights that give every bin of targets the same
    total weight.

    Args:
        targets (Tensor): (N, ) targets in [0, 1].
        num_bins (int): equal bins over [0, 1]; 1.0 falls in the last.

    Returns:
        Tensor: (N, ) weights ``1 / count(bin of target)``, scaled to a
        mean of 1.
    """
    bins = (targets * num_bins).long().clamp(0, num_bins - 1)
    counts = torch.bincount(bins, minlength=num_bins)
    weights = 1 / counts[bins].to(targets.dtype)
    return weights * (len(targets) / weights.sum())
