"""Which RoIs the MaskIoU head trains on, and their instances' masks.

Shapes: ``n`` RoIs of one image, ``N`` over the batch, ``G`` instances,
``M x M`` the mask-head resolution (28).
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

    Attributes:
        inds (Tensor): (n, ) index of each RoI in its source (the sampling
            result's ``priors``, positives first, or the detections).
        boxes (Tensor): (n, 4) xyxy.
        is_pos (Tensor): (n, ) bool, a positive of the box head.
        gt_inds (Tensor): (n, ) index of the instance whose mask each RoI's
            target compares with, -1 where it has none.
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


def largest_overlap(boxes: Tensor,
                    gt: InstanceData,
                    labels: Optional[Tensor] = None) -> Tensor:
    """(n, ) index of the instance of ``gt`` (with ``bboxes``, and
    ``labels`` if ``labels`` is given) whose box overlaps each of ``boxes``
    (n, 4) most, among those of the box's class ``labels`` (n, ) if given;
    -1 where none overlaps."""
    gt_inds = torch.full((len(boxes), ), -1, device=boxes.device)
    if len(gt) and len(boxes):
        overlaps = bbox_overlaps(boxes, get_box_tensor(gt.bboxes))
        if labels is not None:
            same_class = labels[:, None] == gt.labels[None].to(labels)
            overlaps = torch.where(same_class, overlaps,
                                   overlaps.new_zeros(()))
        best, best_inds = overlaps.max(dim=1)
        gt_inds = torch.where(best > 0, best_inds, gt_inds)
    return gt_inds


def positive_rois(res: SamplingResult, gt: InstanceData) -> ScoredRoIs:
    """The positive RoIs of one image, each on its instance's class: what
    the paper trains the MaskIoU head on.

    Args:
        res (SamplingResult): The image's sampled RoIs.
        gt (InstanceData): Its instances, with ``labels``.
    """
    gt_inds = res.pos_assigned_gt_inds
    is_pos = torch.ones_like(gt_inds, dtype=torch.bool)
    return ScoredRoIs(
        torch.arange(len(gt_inds), device=gt_inds.device), res.pos_priors,
        is_pos, gt_inds, gt.labels[gt_inds], is_pos)


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
    gt_inds = largest_overlap(boxes, gt, labels)
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
