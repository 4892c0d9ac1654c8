"""Mask-IoU targets of Mask Scoring R-CNN, as pure batched tensor functions.

Shapes: ``N`` positive RoIs of one image, ``G`` ground-truth instances,
``H x W`` the padded image, ``M x M`` the mask-head resolution (28).

The target of a positive RoI is the IoU between its binarised predicted mask
and the *whole* ground-truth instance, not only the part inside the proposal.
Both masks live in the proposal's ``M x M`` grid, so the whole-instance area is
recovered as ``area_in_proposal / area_ratio`` where ``area_ratio`` is the
fraction of the instance's full-resolution area inside the proposal.

The area ratio is computed for all RoIs at once, on the device of the inputs
and without reading anything back to the host:

* bitmaps: per-row prefix sums over blocks of eight pixels (summed eight at
  a time in an int64) give the count left of any column; the area inside a
  box is a difference of two gathered columns, summed over its rows (on the
  CPU only a window of rows and columns around each instance's boxes is
  summed: this reads the window size back to the host, which costs nothing
  there);
* polygons: the area of a polygon inside a box is the contour integral of
  ``clamp(x, x1, x2) dy`` over the parts of its edges with ``y1 <= y <= y2``
  (Green's theorem applied line by line), evaluated in closed form per edge.

Boxes are truncated to integers and clipped to the image as mmdet's
``BitmapMasks.crop`` / ``PolygonMasks.crop`` do, so the ratios equal mmdet's.
"""
from typing import Optional, Union

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


# Multiplying a word of eight 0/1 bytes by this constant accumulates their sum
# in the top byte (no carries: the sum is at most 8).
_BYTE_ONES = 0x0101010101010101


def _byte_sums(words: Tensor, inplace: bool = False) -> Tensor:
    """Sum of the eight 0/1 bytes of each int64 word."""
    sums = words.mul_(_BYTE_ONES) if inplace else words * _BYTE_ONES
    return sums.bitwise_right_shift_(56).bitwise_and_(0xFF)


# Byte lanes 0, 2, 4, 6 of an int64 word.
_EVEN_BYTES = 0x00FF00FF00FF00FF


def _lane_totals(lanes: Tensor) -> Tensor:
    """Sum of the eight byte lanes (each <= 255) of each int64 word."""
    pairs = (lanes & _EVEN_BYTES) + ((lanes >> 8) & _EVEN_BYTES)  # <= 510
    # As in _byte_sums, one multiplication adds the four 16-bit lanes.
    return (pairs * 0x0001000100010001).bitwise_right_shift_(48).bitwise_and_(
        0xFFFF)


def _mask_areas(words: Tensor) -> Tensor:
    """(G, H, Wb) int64 words of eight 0/1 bytes -> (G, ) pixel counts."""
    # Summing whole words adds the eight byte lanes in parallel; a lane
    # summed over at most 255 words cannot carry into the next one.
    return sum(
        _lane_totals(words[..., i:i + 255].sum(2)).sum(1)
        for i in range(0, words.size(2), 255))


def _box_windows(words: Tensor, gt_inds: Tensor, x1: Tensor, y1: Tensor,
                 x2: Tensor, y2: Tensor) -> tuple:
    """Per instance, the rows and words covering all of its boxes.

    Returns:
        tuple: ``windows`` (G, w, h) int64 words, column-major (one column of
        words is contiguous, so gathering it per box copies one row);
        ``row0`` and ``word0`` (G, ) int64 where each window starts in
        ``words``.
    """
    num_gts, height, num_words = words.shape

    def reduce(init, values, how):
        out = values.new_full((num_gts, ), init)
        return out.scatter_reduce_(0, gt_inds, values, how)

    word0 = reduce(num_words, x1 // 8, 'amin')
    row0 = reduce(height, y1, 'amin')
    win_w, win_h = torch.stack([
        reduce(0, (x2 + 7) // 8, 'amax') - word0,
        reduce(0, y2, 'amax') - row0
    ]).amax(1).tolist()
    # Instances without boxes get an empty window; all are the largest size,
    # shifted left / up where they would leave the image.
    word0 = word0.clamp(max=num_words - win_w)
    row0 = row0.clamp(max=height - win_h)
    # The transposed (w, h) window starting at every word as one strided
    # view; index_select copies out the G wanted ones.
    starts = words.reshape(-1).as_strided(
        (words.numel() - (win_h - 1) * num_words - win_w + 1, win_w, win_h),
        (1, 1, num_words))
    offsets = (torch.arange(num_gts, device=words.device) * height +
               row0) * num_words + word0
    return starts.index_select(0, offsets), row0, word0


def bitmap_area_ratios(boxes: Tensor,
                       gt_inds: Tensor,
                       masks: Tensor,
                       windowed: Optional[bool] = None) -> Tensor:
    """Fraction of each assigned instance's area inside its box.

    The masks are read eight pixels per int64 operation: per row, prefix
    sums over blocks of 8 columns give the count left of any column from one
    block prefix plus the low bytes of one word. On the CPU the prefix sums
    cover only a window per instance around its boxes (the full masks are
    read once, for the areas); on accelerators they cover the whole image,
    which avoids reading the window size back to the host.

    Args:
        boxes (Tensor): (N, 4) proposals, xyxy in image pixels.
        gt_inds (Tensor): (N, ) index of the instance assigned to each box.
        masks (Tensor): (G, H, W) uint8 masks of the instances, values 0/1
            (as mmdet's loaders make them).
        windowed (bool, optional): Sum only the windows around the boxes.
            Defaults to True on the CPU, False elsewhere.

    Returns:
        Tensor: (N, ) float32 ratios in [0, 1].
    """
    num_gts, height, width = masks.shape
    if boxes.numel() == 0 or num_gts == 0:
        return boxes.new_zeros((boxes.size(0), ), dtype=torch.float32)
    masks = masks.to(torch.uint8)
    if width % 8:
        masks = torch.nn.functional.pad(masks, (0, 8 - width % 8))
    words = masks.contiguous().view(torch.int64)  # (G, H, Wb), little-endian
    full = _mask_areas(words)  # (G, )

    gt_inds = gt_inds.to(words.device)
    x1, y1, x2, y2 = _int_boxes(boxes.to(words.device), width,
                                height).unbind(1)
    # mmdet's crop keeps at least one row and one column.
    x2 = torch.minimum(x1 + (x2 - x1).clamp(min=1), x2.new_tensor(width))
    y2 = torch.minimum(y1 + (y2 - y1).clamp(min=1), y2.new_tensor(height))
    if windowed is None:
        windowed = words.device.type == 'cpu'
    if windowed:
        # Touching memory is what costs on the CPU: the boxes of an
        # instance usually cover a small part of the image.
        columns, row0, word0 = _box_windows(words, gt_inds, x1, y1, x2, y2)
    else:
        columns = words.transpose(1, 2).contiguous()
        row0 = word0 = gt_inds.new_zeros((num_gts, ))
    _, win_w, win_h = columns.shape  # (G, w, h): words by rows
    # before[:, b]: mask pixels of each row in the window's words [0, b).
    before = columns.new_zeros((num_gts, win_w + 1, win_h))
    torch.cumsum(_byte_sums(columns), 1, out=before[:, 1:])

    # Both sides of all boxes at once: (2N, ) columns and their instances.
    xs, gts = torch.cat([x1, x2]), gt_inds.repeat(2)
    block = xs // 8 - word0[gts]
    # Pixels in columns [0, x) of each window row: the whole words before
    # x's word plus its low x % 8 bytes (none at a word boundary).
    word = columns.view(num_gts * win_w, win_h).index_select(
        0, gts * win_w + block.clamp(max=win_w - 1))
    word &= ((1 << (8 * (xs % 8))) - 1)[:, None]
    left_of = before.view(num_gts * (win_w + 1), win_h).index_select(
        0, gts * (win_w + 1) + block)
    left_of += _byte_sums(word, inplace=True)  # (2N, h)
    per_row = left_of[len(x1):] - left_of[:len(x1)]
    rows = torch.arange(win_h, device=words.device) + row0[gt_inds, None]
    per_row.masked_fill_((rows < y1[:, None]) | (rows >= y2[:, None]), 0)
    inside = per_row.sum(1)
    return (inside.float() / (full[gt_inds].float() + AREA_EPS)).to(
        boxes.device)


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
        boxes (Tensor): (N, 4) proposals, xyxy in image pixels.
        gt_inds (Tensor): (N, ) index of the instance assigned to each box.
        masks (PolygonMasks): G instances.

    Returns:
        Tensor: (N, ) float32 ratios in [0, 1].
    """
    if boxes.numel() == 0 or len(masks) == 0:
        return boxes.new_zeros((boxes.size(0), ), dtype=torch.float32)
    edges, ring = _packed_edges(masks, boxes.device)
    num_rings = int(ring.max()) + 1 if ring.numel() else 1

    # Full areas by the shoelace formula, per polygon then per instance.
    xa, ya, xb, yb = edges.unbind(-1)
    ring_area = edges.new_zeros((len(masks), num_rings))
    ring_area.scatter_add_(1, ring, 0.5 * (xa * yb - xb * ya))
    full = ring_area.abs().sum(1)[gt_inds]

    box = _int_boxes(boxes, masks.width, masks.height).to(torch.float64)
    contrib = _clamped_x_integral(edges[gt_inds], box[:, None])
    clipped = contrib.new_zeros((len(box), num_rings))
    clipped.scatter_add_(1, ring[gt_inds], contrib)
    inside = clipped.abs().sum(1)
    return (inside / (full + AREA_EPS)).float()


def area_ratios(boxes: Tensor, gt_inds: Tensor,
                masks: Union[BitmapMasks, PolygonMasks, Tensor]) -> Tensor:
    """Dispatch :func:`bitmap_area_ratios` / :func:`polygon_area_ratios`."""
    if isinstance(masks, PolygonMasks):
        return polygon_area_ratios(boxes, gt_inds, masks)
    if isinstance(masks, BitmapMasks):
        # torch.as_tensor shares the host memory: no copy on CPU.
        masks = torch.as_tensor(masks.masks).to(boxes.device)
    return bitmap_area_ratios(boxes, gt_inds.to(boxes.device), masks)


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
