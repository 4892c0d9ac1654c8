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
* polygons, all boxes at once: the area of a polygon inside a box is the
  contour integral of ``clamp(x, x1, x2) dy`` over the parts of its edges
  with ``y1 <= y <= y2`` (Green's theorem applied line by line), evaluated
  in closed form per edge.

Boxes are truncated to integers and clipped to the image as mmdet's
``BitmapMasks.crop`` / ``PolygonMasks.crop`` do, so the ratios equal mmdet's.
"""
from typing import Union

import numpy as np
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
    over the boxes, each counting the pixels of a view of its mask, measured
    faster than prefix sums over windows around all instances at once (see
    docs/advanced_guides/speed.md), and copies nothing.

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


def _packed_edges(masks: PolygonMasks, device) -> tuple:
    """Pack the polygon edges of all instances into padded tensors.

    Returns:
        tuple: ``edges`` (G, E, 4) float64 rows (xa, ya, xb, yb); ``ring``
        (G, E) int64 index of the polygon (within its instance) each edge
        belongs to. Padding edges are (0, 0, 0, 0) and contribute nothing.
    """
    per_gt = []
    for polys in masks.masks:  # one loop over instances, none over RoIs
        edges, rings = [], []
        for ring_id, poly in enumerate(polys):
            pts = torch.as_tensor(poly, dtype=torch.float64).view(-1, 2)
            edges.append(torch.cat([pts, pts.roll(-1, dims=0)], dim=1))
            rings.append(torch.full((len(pts), ), ring_id, dtype=torch.int64))
        per_gt.append((torch.cat(edges) if edges else torch.zeros(0, 4),
                       torch.cat(rings) if rings else torch.zeros(0)))
    max_edges = max([len(e) for e, _ in per_gt] + [1])
    edges = torch.zeros((len(per_gt), max_edges, 4), dtype=torch.float64)
    ring = torch.zeros((len(per_gt), max_edges), dtype=torch.int64)
    for i, (e, r) in enumerate(per_gt):
        edges[i, :len(e)] = e
        ring[i, :len(r)] = r
    return edges.to(device), ring.to(device)


def _clamped_x_integral(edges: Tensor, box: Tensor) -> Tensor:
    """Signed integral of clamp(x, x1, x2) dy along each edge, y in [y1, y2].

    Args:
        edges (Tensor): (N, E, 4) float64 edges (xa, ya, xb, yb).
        box (Tensor): (N, 1, 4) float64 boxes (x1, y1, x2, y2).

    Returns:
        Tensor: (N, E) float64.
    """
    xa, ya, xb, yb = edges.unbind(-1)
    bx1, by1, bx2, by2 = box.unbind(-1)
    lo = torch.maximum(torch.minimum(ya, yb), by1)
    hi = torch.minimum(torch.maximum(ya, yb), by2)
    dy = yb - ya
    valid = (hi > lo) & (dy != 0)
    slope = torch.where(valid, (xb - xa) / torch.where(dy != 0, dy, 1), 0)
    u_lo = xa + (lo - ya) * slope
    u_hi = xa + (hi - ya) * slope

    def excess(u):  # integral of clamp(t, x1, x2) - x1 from x1 to u
        width = bx2 - bx1
        t = (u - bx1).clamp(0, None)
        return torch.where(t <= width, 0.5 * t * t,
                           0.5 * width * width + width * (t - width))

    span = hi - lo
    # Nearly vertical edges: the closed form divides by a tiny slope, so use
    # the (exact for a constant) midpoint value instead.
    steep = (u_hi - u_lo).abs() < 1e-9
    mid = ((u_lo + u_hi) * 0.5).clamp(bx1, bx2) - bx1
    curved = (excess(u_hi) - excess(u_lo)) / torch.where(steep, 1, slope)
    integral = bx1 * span + torch.where(steep, mid * span, curved)
    return torch.where(valid, integral * dy.sign(), 0)


def polygon_area_ratios(boxes: Tensor, gt_inds: Tensor,
                        masks: PolygonMasks) -> Tensor:
    """Polygon counterpart of :func:`bitmap_area_ratios`.

    The area of an instance is the sum of the absolute areas of its polygons,
    as in ``PolygonMasks.areas``; inside a box, each polygon is clipped
    exactly (mmdet clips with shapely, one RoI at a time).

    Args:
        boxes (Tensor): (N, 4) boxes, xyxy in image pixels.
        gt_inds (Tensor): (N, ) index of the instance paired with each box.
        masks (PolygonMasks): G instances.

    Returns:
        Tensor: (N, ) float32 ratios in [0, 1].
    """
    if boxes.numel() == 0 or len(masks) == 0:
        return boxes.new_zeros((boxes.size(0), ), dtype=torch.float32)
    edges, ring = _packed_edges(masks, boxes.device)
    num_rings = int(ring.max()) + 1 if ring.numel() else 1

    full = torch.as_tensor(masks.areas, device=edges.device)[gt_inds]

    box = _int_boxes(boxes, masks.width, masks.height).to(torch.float64)
    contrib = _clamped_x_integral(edges[gt_inds], box[:, None])
    clipped = contrib.new_zeros((len(box), num_rings))
    clipped.scatter_add_(1, ring[gt_inds], contrib)
    inside = clipped.abs().sum(1)
    return (inside / (full + AREA_EPS)).float()


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
