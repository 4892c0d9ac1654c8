"""Which RoIs the study's MaskIoU head trains on, and their loss weights.

Shapes: ``n`` sampled RoIs of one image, ``N`` over the batch.
"""
from typing import Optional

import torch
from mmdet.models.task_modules.samplers import SamplingResult
from mmengine.structures import InstanceData
from torch import Tensor

from ms_rcnn.models.task_modules.scored_rois import ScoredRoIs, largest_overlap


def scored_rois(res: SamplingResult,
                gt: InstanceData,
                train_rois: str,
                train_class: str,
                pred_labels: Optional[Tensor] = None,
                max_neg_ratio: Optional[float] = None) -> ScoredRoIs:
    """Which RoIs of one image the MaskIoU head trains on, and on which
    class's mask; n RoIs, positives first, in sampling order.

    Args:
        res (SamplingResult): The image's sampled RoIs.
        gt (InstanceData): Its instances, with ``bboxes`` and ``labels``.
        train_rois (str): ``'pos'`` or ``'all'`` (see
            :class:`StudyMaskIoUHead`).
        train_class (str): ``'gt'`` or ``'pred'``.
        pred_labels (Tensor, optional): (n, ) the box head's predicted class
            of each sampled RoI, in ``res.priors`` order. Needed for
            ``train_class='pred'`` and for ``train_rois='all'``.
        max_neg_ratio (float, optional): With ``'all'``, score at most this
            many negatives per positive of the image, drawn at random among
            the sampled negatives (torch's global generator), kept in
            sampling order. None: every sampled negative.

    Returns:
        ScoredRoIs: negatives paired with the instance of largest box IoU
        (-1 where none overlaps).
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
    gt_inds = torch.cat(
        [res.pos_assigned_gt_inds,
         largest_overlap(boxes[~is_pos], gt)])
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
