"""Mask-IoU targets of Mask Scoring R-CNN, as pure functions.

Shapes: ``N`` boxes (the positive RoIs of one image, or any boxes each paired
with any instance), ``G`` ground-truth instances, ``H x W`` the padded image,
``M x M`` the mask-head resolution (28).

The target of a positive RoI is the IoU between its binarised predicted mask
and the *whole* ground-truth instance, not only the part inside the proposal.
Both masks live in the proposal's ``M x M`` grid, so the whole-instance area is
recovered as ``area_in_proposal / area_ratio`` where ``area_ratio`` is the
fraction of the instance's full-resolution area inside the proposal.

Area ratios:

* bitmaps: the non-zero pixels of each box are counted on a view of its
  instance's mask, one box at a time: no mask or window is copied, so the
  extra memory does not grow with the number or the size of the instances;
* polygons, all boxes at once: one vectorised shapely 2 call intersects
  every (box, polygon of its instance) pair (mmdet's crop, also with
  shapely, takes one RoI and one polygon at a time), and the areas are
  summed per box.

Boxes are truncated to integers and clipped to the image as mmdet's
``BitmapMasks.crop`` / ``PolygonMasks.crop`` do, so the ratios equal mmdet's
(for a polygon with a hole, see :func:`polygon_area_ratios`).
"""
from typing import Union

import numpy as np
import shapely
import torch
from mmdet.structures.mask import BitmapMasks, PolygonMasks
from torch import Tensor

# Guards the division by the area ratio; the same constant as mmdet, so that
# the targets stay equal to mmdet's for instances with zero area.
AREA_EPS = 1e-7


def _int_boxes(boxes: Tensor, width: int, height: int) -> Tensor:
    """(N, 4) float xyxy -> (N, 4) int64, truncated and clipped to image."""
    boxes = boxes.to(torch.int32).to(torch.int64)
    x = boxes[:, 0::2].clamp(0, width)
    y = boxes[:, 1::2].clamp(0, height)
    return torch.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], dim=1)


def bitmap_area_ratios(boxes: Tensor, gt_inds: Tensor,
                       masks: Union[np.ndarray, Tensor]) -> Tensor:
    """Fraction of each paired instance's area inside its box.

    Counted with numpy on the host, where mmdet keeps ``BitmapMasks``: the
    boxes are a few numbers, the masks a whole image per instance. A loop
    over the boxes counts the pixels of a view of each box's mask, which
    copies nothing.

    Args:
        boxes (Tensor): (N, 4) boxes, xyxy in image pixels.
        gt_inds (Tensor): (N, ) index of the instance paired with each box.
        masks (ndarray | Tensor): (G, H, W) masks of the instances. Any
            non-zero value is foreground (masks read from PNG files are
            0/255).

    Returns:
        Tensor: (N, ) float32 ratios in [0, 1], on the device of ``boxes``.
    """
    num_gts, height, width = masks.shape
    if boxes.numel() == 0 or num_gts == 0:
        return boxes.new_zeros((boxes.size(0), ), dtype=torch.float32)
    gt_inds = gt_inds.cpu().numpy()
    x1, y1, x2, y2 = _int_boxes(boxes.cpu(), width, height).numpy().T
    # mmdet's crop keeps at least one row and one column.
    x2 = np.minimum(x1 + np.maximum(x2 - x1, 1), width)
    y2 = np.minimum(y1 + np.maximum(y2 - y1, 1), height)

    inside = np.zeros(len(gt_inds))
    full = np.zeros(len(gt_inds))
    for gt in np.unique(gt_inds):
        # One instance on the host at a time; host masks are not copied.
        mask = masks[gt].cpu().numpy() if torch.is_tensor(masks) else masks[gt]
        sel = np.flatnonzero(gt_inds == gt)
        full[sel] = np.count_nonzero(mask)
        inside[sel] = [
            np.count_nonzero(mask[top:bottom, left:right]) for left, top,
            right, bottom in zip(x1[sel], y1[sel], x2[sel], y2[sel])
        ]
    ratios = inside / (full + AREA_EPS)
    return torch.from_numpy(ratios).float().to(boxes.device)


def polygon_area_ratios(boxes: Tensor, gt_inds: Tensor,
                        masks: PolygonMasks) -> Tensor:
    """Polygon counterpart of :func:`bitmap_area_ratios`.

    The area of an instance is the sum of the absolute areas of its polygons,
    as in ``PolygonMasks.areas``; inside a box, the sum of the areas of its
    polygons intersected with the box, as ``PolygonMasks.crop`` and
    ``areas`` give (mmdet intersects one RoI at a time with shapely, here
    all pairs go to shapely at once). A hole that making a ring valid opens
    (a ring that runs around it and back) stays outside, as in the full
    area; mmdet's crop keeps only the outline of each piece there.

    Args:
        boxes (Tensor): (N, 4) boxes, xyxy in image pixels.
        gt_inds (Tensor): (N, ) index of the instance paired with each box.
        masks (PolygonMasks): G instances.

    Returns:
        Tensor: (N, ) float32 ratios in [0, 1], on the device of ``boxes``.
    """
    if boxes.numel() == 0 or len(masks) == 0:
        return boxes.new_zeros((boxes.size(0), ), dtype=torch.float32)
    gt_inds = gt_inds.cpu().numpy()
    # One shapely polygon per ring, made valid (buffer(0)) as mmdet's crop
    # does: a self-intersecting ring cannot be intersected.
    rings = [np.reshape(p, (-1, 2)) for polys in masks.masks for p in polys]
    owner = np.repeat(
        np.arange(len(masks)), [len(polys) for polys in masks.masks])
    polys = shapely.buffer(np.array([shapely.Polygon(r) for r in rings]), 0)
    x1, y1, x2, y2 = _int_boxes(boxes.cpu(), masks.width,
                                masks.height).numpy().T
    crops = shapely.box(x1, y1, x2, y2)
    # Every (box, polygon of its instance) pair, summed per box.
    box_of, ring_of = np.nonzero(gt_inds[:, None] == owner[None])
    inside = np.bincount(
        box_of,
        shapely.area(shapely.intersection(polys[ring_of], crops[box_of])),
        minlength=len(gt_inds))
    ratios = inside / (masks.areas[gt_inds] + AREA_EPS)
    return torch.from_numpy(ratios).float().to(boxes.device)


def area_ratios(
        boxes: Tensor, gt_inds: Tensor,
        masks: Union[BitmapMasks, PolygonMasks, np.ndarray, Tensor]) -> Tensor:
    """Dispatch :func:`bitmap_area_ratios` / :func:`polygon_area_ratios`.

    Any box may be paired with any instance (positive RoIs with their
    assigned instance, or other boxes): ``gt_inds`` (N, ) indexes ``masks``.
    """
    if boxes.dim() != 2 or boxes.size(1) != 4 or gt_inds.shape != (
            boxes.size(0), ):
        raise ValueError('area_ratios: boxes must be (N, 4) and gt_inds (N, '
                         f'), got {tuple(boxes.shape)} and '
                         f'{tuple(gt_inds.shape)}')
    if gt_inds.numel() and not (0 <= int(gt_inds.min())
                                and int(gt_inds.max()) < len(masks)):
        raise IndexError(
            f'area_ratios: gt_inds must index the {len(masks)} masks, got '
            f'values from {int(gt_inds.min())} to {int(gt_inds.max())}')
    if isinstance(masks, PolygonMasks):
        return polygon_area_ratios(boxes, gt_inds, masks)
    if isinstance(masks, BitmapMasks):
        masks = masks.masks
    return bitmap_area_ratios(boxes, gt_inds, masks)


def mask_iou_targets(mask_preds: Tensor,
                     mask_targets: Tensor,
                     area_ratios: Tensor,
                     mask_thr_binary: float = 0.5,
                     thr_on_logits: bool = False) -> Tensor:
    """IoU of each binarised predicted mask with its whole instance.

    Args:
        mask_preds (Tensor): (N, M, M) mask logits of the assigned class.
        mask_targets (Tensor): (N, M, M) binary instance masks in each RoI.
        area_ratios (Tensor): (N, ) from :func:`area_ratios`.
        mask_thr_binary (float): Probability threshold of the mask.
        thr_on_logits (bool): Compare the *logits* with the threshold, as
            mmdet does (an effective probability threshold of 0.62 for 0.5).
            Only for reproducing mmdet's numbers.

    Returns:
        Tensor: (N, ) float32 targets in [0, 1].
    """
    mask_preds = mask_preds.float()
    probs = mask_preds if thr_on_logits else mask_preds.sigmoid()
    binary = (probs > mask_thr_binary).float()
    mask_targets = mask_targets.float()
    pred_areas = binary.sum((-1, -2))
    overlaps = (binary * mask_targets).sum((-1, -2))
    full_areas = mask_targets.sum((-1, -2)) / (area_ratios.float() + AREA_EPS)
    unions = pred_areas + full_areas - overlaps
    # An empty prediction of an empty instance has union 0: target 0. The
    # AREA_EPS in the ratio can push a perfect mask a hair above 1.
    ious = overlaps / unions.clamp(min=AREA_EPS)
    return torch.where(unions > 0, ious.clamp(max=1), unions.new_zeros(()))
