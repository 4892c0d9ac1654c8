"""mmcv's RoIAlign and NMS as torch custom ops that export to ONNX.

``torch.export`` cannot trace into mmcv's compiled ops, and mmcv 2.1 gives
them no ONNX rule for the dynamo exporter (its legacy NMS export stores the
kept indices as constants). Wrapped as ``torch.library.custom_op``, they run
mmcv's kernels in PyTorch, trace as single nodes (the fake implementations
only give shapes), and :data:`ONNX_TRANSLATIONS` maps them to ONNX
``RoiAlign`` (opset >= 16) and ``NonMaxSuppression``:

- ``RoiAlign`` with ``coordinate_transformation_mode='half_pixel'`` is
  mmcv's ``aligned=True`` (the -0.5 pixel shift, no minimum RoI size), also
  for RoIs thinner than a feature pixel; ``sampling_ratio=0`` is adaptive in
  both;
- ``NonMaxSuppression`` suppresses a box whose IoU with a kept,
  higher-scoring one is above the threshold (strictly), as mmcv's ``nms``
  does, and returns the kept indices by decreasing score.
"""
import torch
from torch import Tensor


@torch.library.custom_op('ms_rcnn::roi_align', mutates_args=())
def roi_align(feat: Tensor, rois: Tensor, output_height: int,
              output_width: int, spatial_scale: float,
              sampling_ratio: int) -> Tensor:
    """mmcv's aligned, average RoIAlign.

    Args:
        feat (Tensor): (B, C, H, W) features.
        rois (Tensor): (n, 5) rows of (batch index, x1, y1, x2, y2) in
            image pixels.
        output_height (int): Output rows.
        output_width (int): Output columns.
        spatial_scale (float): Feature pixels per image pixel.
        sampling_ratio (int): Samples per output bin side, 0: adaptive.

    Returns:
        Tensor: (n, C, output_height, output_width).
    """
    from mmcv.ops import roi_align as mmcv_roi_align
    return mmcv_roi_align(feat, rois, (output_height, output_width),
                          spatial_scale, sampling_ratio, 'avg', True)


@roi_align.register_fake
def _roi_align_fake(feat, rois, output_height, output_width, spatial_scale,
                    sampling_ratio):
    return feat.new_empty(
        (rois.shape[0], feat.shape[1], output_height, output_width))


@torch.library.custom_op('ms_rcnn::nms', mutates_args=())
def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """mmcv's NMS.

    Args:
        boxes (Tensor): (n, 4) boxes (x1, y1, x2, y2).
        scores (Tensor): (n, ) scores.
        iou_threshold (float): A box is dropped when its IoU with a kept,
            higher-scoring box is above this.

    Returns:
        Tensor: (k, ) int64 indices of the kept boxes, by decreasing score.
    """
    from mmcv.ops import nms as mmcv_nms
    return mmcv_nms(boxes, scores, iou_threshold)[1]


@nms.register_fake
def _nms_fake(boxes, scores, iou_threshold):
    num_kept = torch.library.get_ctx().new_dynamic_size()
    return boxes.new_empty((num_kept, ), dtype=torch.long)


def _onnx_roi_align(feat, rois, output_height, output_width, spatial_scale,
                    sampling_ratio):
    from onnxscript import opset18 as op
    batch_indices = op.Cast(
        op.Reshape(op.Slice(rois, [0], [1], [1]), [-1]), to=7)  # int64
    boxes = op.Slice(rois, [1], [5], [1])
    return op.RoiAlign(
        feat,
        boxes,
        batch_indices,
        coordinate_transformation_mode='half_pixel',
        mode='avg',
        output_height=output_height,
        output_width=output_width,
        sampling_ratio=sampling_ratio,
        spatial_scale=spatial_scale)


def _onnx_nms(boxes, scores, iou_threshold):
    from onnxscript import opset18 as op
    # One batch, one class: (1, n, 4) boxes and (1, 1, n) scores; every box
    # may be kept. No score threshold, as in mmcv.
    num_boxes = op.Shape(boxes, start=0, end=1)
    selected = op.NonMaxSuppression(
        op.Unsqueeze(boxes, [0]), op.Unsqueeze(scores, [0, 1]), num_boxes,
        op.Constant(value_float=iou_threshold))
    # Rows of (batch, class, box index).
    return op.Reshape(op.Slice(selected, [2], [3], [1]), [-1])


ONNX_TRANSLATIONS = {
    torch.ops.ms_rcnn.roi_align.default: _onnx_roi_align,
    torch.ops.ms_rcnn.nms.default: _onnx_nms,
}
