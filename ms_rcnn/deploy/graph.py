"""mmdet's test path of (MS) Mask R-CNN as one traceable forward.

``torch.export`` stops at mmdet's data-dependent Python branches (``if
inds.numel() > 0`` ...), and ``torch.onnx.is_in_onnx_export()`` sends mmdet
onto old code paths. :class:`DetectorGraph` runs the same computation as
``model.predict`` for one image, with mmdet's own modules (backbone, neck,
heads' layers, anchor generator, box coder, the RoI extractors' level
mapping) and the ops of :mod:`ms_rcnn.deploy.ops`, but with no branch on a
data-dependent size:

- RPN, per level: the ``nms_pre`` best anchors (sorted, as mmdet sorts when
  a level has more; ties keep their order), decoded and clipped to the
  image, boxes not wider and taller than ``min_bbox_size`` dropped, then
  NMS over all levels with mmcv's ``batched_nms`` offsets (boxes shifted by
  ``level * (max coordinate + 1)``) and the ``max_per_img`` best kept;
- R-CNN: every class of every RoI above ``score_thr`` (strictly), then the
  same batched NMS over classes and the ``max_per_img`` best, as
  ``multiclass_nms``; masks and MaskIoU predictions of the kept boxes, of
  their class;
- the RoI heads also run on one dummy RoI, dropped from their outputs, so
  that they never see an empty batch (every RoI is computed on its own).

Subclasses for other RoI heads (e.g. the cascades of
``projects/cascade_ms_rcnn``) reuse these steps: they override
:meth:`DetectorGraph.check`, :meth:`~DetectorGraph.extras`,
:meth:`~DetectorGraph.box_predictions` and
:meth:`~DetectorGraph.mask_predictions`, and register themselves for
their RoI heads with :func:`register_graph`. :func:`build_graph` gives
a model its graph; the modules of other graphs (a project's) are imported
then, from :data:`ms_rcnn.deploy.GRAPH_MODULES`.

In eager runs, ``forward(img, img_shape, cuts={})`` also records the
scores on both sides of each cut of a ranking (:mod:`.cuts`), from which
``--verify`` tells near-ties apart.

Shapes: ``img`` (1, 3, H, W) normalised and padded, ``img_shape`` (2, )
int64 (height, width) of the image inside the padding.
"""
import importlib
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmdet.models.detectors import TwoStageDetector
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.coders.delta_xywh_bbox_coder import delta2bbox
from torch import Tensor

from ms_rcnn.models.roi_heads import MasknessRoIHead, MaskScoringRoIHead
from . import GRAPH_MODULES
from .cuts import record_cut, record_nms
from .support import UnsupportedModelError, check_supported, qualified_name

# RoI head class -> the graph class that reproduces it.
GRAPHS: Dict[type, type] = {}


def batched_nms(boxes: Tensor,
                scores: Tensor,
                idxs: Tensor,
                iou_threshold: float,
                class_agnostic: bool,
                cuts: Optional[dict] = None,
                name: str = 'nms') -> Tensor:
    """Indices kept by mmcv's ``batched_nms`` (the boxes of different
    ``idxs`` never suppress each other), by decreasing score.

    Args:
        boxes (Tensor): (n, 4).
        scores (Tensor): (n, ).
        idxs (Tensor): (n, ) class or level of each box.
        iou_threshold (float): NMS threshold.
        class_agnostic (bool): Ignore ``idxs``.
        cuts (dict, optional): Eager only: receives under ``name`` the
            closest call of the suppression (see
            :func:`~ms_rcnn.deploy.cuts.record_nms`).

    Returns:
        Tensor: (k, ) int64.
    """
    from .ops import nms  # see roi_feats
    if not class_agnostic:
        # mmcv's offsets, the same floats. -inf only makes the max of no
        # boxes defined; it never wins against a real coordinate.
        max_coordinate = torch.cat(
            [boxes.reshape(-1),
             boxes.new_full((1, ), float('-inf'))]).max()
        offsets = idxs.to(boxes) * (max_coordinate + 1)
        boxes = boxes + offsets[:, None]
    keep = nms(boxes, scores, iou_threshold)
    if cuts is not None:
        record_nms(cuts, name, boxes, scores, keep, iou_threshold)
    return keep


def decode(coder: nn.Module, boxes: Tensor, deltas: Tensor,
           img_shape: Tensor) -> Tensor:
    """(n, 4) boxes: ``DeltaXYWHBBoxCoder.decode`` of a single image.

    The coder's own ``decode`` takes mmdet's ONNX branch whenever
    ``torch.onnx.is_in_onnx_export()``, which is also true while the
    dynamo exporter traces; its single-image math is ``delta2bbox``.
    """
    return delta2bbox(boxes, deltas, coder.means, coder.stds, img_shape,
                      16 / 1000, coder.clip_border, coder.add_ctr_clamp,
                      coder.ctr_clamp)


def with_dummy(boxes: Tensor) -> Tensor:
    """(n + 1, 4): ``boxes`` (n, 4) and a dummy box."""
    return torch.cat([boxes, boxes.new_tensor([[0., 0., 1., 1.]])])


def roi_feats(extractor: nn.Module, feats: Tuple[Tensor],
              boxes: Tensor) -> Tensor:
    """(n, C, S, S) RoI features of ``boxes`` (n, 4), as
    ``SingleRoIExtractor`` (each box on the level of its size)."""
    # Importing .ops registers ms_rcnn::roi_align and ms_rcnn::nms with
    # torch: done when a graph first runs, not when a graph class is
    # defined (the cascade project defines its graph at its import).
    from .ops import roi_align
    rois = torch.cat([boxes.new_zeros((boxes.shape[0], 1)), boxes], 1)
    feats = feats[:extractor.num_inputs]
    if len(feats) == 1:
        levels = rois.new_zeros(rois.shape[0], dtype=torch.long)
    else:
        levels = extractor.map_roi_levels(rois, len(feats))
    out_h, out_w = extractor.roi_layers[0].output_size
    out = feats[0].new_zeros(
        (rois.shape[0], extractor.out_channels, out_h, out_w))
    for level, (feat, layer) in enumerate(zip(feats, extractor.roi_layers)):
        inds = (levels == level).nonzero().reshape(-1)
        level_feats = roi_align(feat, rois[inds], out_h, out_w,
                                layer.spatial_scale, layer.sampling_ratio)
        out = out.index_put((inds, ), level_feats)
    return out


def regress(head: nn.Module, boxes: Tensor, bbox_pred: Tensor,
            img_shape: Tensor) -> Tensor:
    """(n, R, 4) boxes of a box head's (n, 4 R) deltas from ``boxes``
    (n, 4), R = 1 (class-agnostic) or C, clipped to ``img_shape``."""
    num_reg = 1 if head.reg_class_agnostic else head.num_classes
    return decode(head.bbox_coder, boxes.repeat_interleave(num_reg, dim=0),
                  bbox_pred.reshape(-1, 4), img_shape).reshape(-1, num_reg, 4)


def register_graph(*roi_heads: type) -> Callable[[type], type]:
    """Class decorator: the graph reproduces models whose ``roi_head`` is
    one of ``roi_heads`` (exact classes)."""

    def register(graph_cls: type) -> type:
        for roi_head in roi_heads:
            GRAPHS[roi_head] = graph_cls
        return graph_cls

    return register


def build_graph(model: nn.Module) -> nn.Module:
    """The registered graph of ``model``'s RoI head, built on ``model``.

    Raises:
        UnsupportedModelError: No graph reproduces the model (its RoI head
            and the handled ones named), or the graph's own check fails.
    """
    # Projects' graphs register when their modules are first imported:
    # here, when an export asks for a graph, not when a project is.
    for name in GRAPH_MODULES:
        importlib.import_module(name)
    if not isinstance(model, TwoStageDetector):
        raise UnsupportedModelError(
            f'ONNX export: the detector is {qualified_name(type(model))}; '
            'only two-stage detectors with masks are exported')
    roi_head = getattr(model, 'roi_head', None)
    graph_cls = GRAPHS.get(type(roi_head))
    if graph_cls is None:
        handled = ', '.join(qualified_name(cls) for cls in GRAPHS)
        raise UnsupportedModelError(
            f'ONNX export: model.roi_head is '
            f'{qualified_name(type(roi_head))}; the export handles '
            f'{handled}')
    return graph_cls(model)


@register_graph(StandardRoIHead, MasknessRoIHead, MaskScoringRoIHead)
class DetectorGraph(nn.Module):
    """The test path of a built (MS) Mask R-CNN, for one image.

    Args:
        model (nn.Module): A ``MaskRCNN`` or ms_rcnn ``MaskScoringRCNN`` in
            eval mode (see :func:`ms_rcnn.deploy.support.check_supported`).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.check(model)
        self.model = model
        self.with_mask_iou = hasattr(model.roi_head, 'mask_iou_head')

    @staticmethod
    def check(model: nn.Module) -> None:
        """Raise ``UnsupportedModelError`` naming what the graph cannot
        reproduce."""
        check_supported(model)

    def forward(self,
                img: Tensor,
                img_shape: Tensor,
                cuts: Optional[dict] = None) -> Tuple[Tensor, ...]:
        """Detections of one image.

        ``cuts`` (a dict, in eager runs only) receives the scores on both
        sides of each cut of a ranking (see :meth:`proposals` and
        :meth:`class_nms`).

        Returns:
            tuple: ``boxes`` (n, 4) in ``img`` pixels, ``labels`` (n, )
            int64, ``scores`` (n, ), with a MaskIoU head ``mask_scores``
            (n, ), and ``mask_probs`` (n, M, M) of each box's class.
        """
        feats = self.model.extract_feat(img)
        extras = self.extras(feats)
        proposals = self.proposals(feats, img_shape, cuts)
        num_rois = proposals.shape[0]
        # Box heads run with the dummy; decoding too: mmdet's decoder
        # branches on an empty input, and n + 1 is never 0.
        scores, boxes = self.box_predictions(feats, with_dummy(proposals),
                                             img_shape, *extras)
        boxes, scores, labels = self.class_nms(scores[:num_rois],
                                               boxes[:num_rois], cuts)
        # Class 0 for the dummy RoI.
        mask_outputs = self.mask_predictions(
            feats, with_dummy(boxes), torch.cat([labels,
                                                 labels.new_zeros(1)]),
            *extras)
        return (boxes, labels) + self.scored_masks(scores, labels,
                                                   *mask_outputs)

    def extras(self, feats: Tuple[Tensor]) -> tuple:
        """What the heads need besides ``feats`` (nothing here; HTC: its
        semantic features), given to :meth:`box_predictions` and
        :meth:`mask_predictions` after their own arguments."""
        return ()

    def proposals(self,
                  feats: Tuple[Tensor],
                  img_shape: Tensor,
                  cuts: Optional[dict] = None) -> Tensor:
        """(p, 4) RPN proposals, as ``RPNHead.predict``.

        Cuts recorded: ``rpn.level{i}.nms_pre`` (each level's top-k),
        ``rpn.nms`` (see :func:`record_nms`) and ``rpn.max_per_img``
        (after NMS)."""
        head, cfg = self.model.rpn_head, self.model.test_cfg.rpn
        nms_pre = cfg.get('nms_pre', -1)
        all_scores, all_deltas, all_anchors, levels = [], [], [], []
        for level, (cls_score, bbox_pred) in enumerate(zip(*head(feats))):
            anchors = head.prior_generator.single_level_grid_priors(
                cls_score.shape[-2:], level, device=cls_score.device)
            scores = cls_score[0].permute(1, 2, 0).reshape(
                -1, head.cls_out_channels)
            scores = scores.sigmoid() if head.use_sigmoid_cls else \
                scores.softmax(-1)[:, :-1]
            scores = scores.reshape(-1)
            deltas = bbox_pred[0].permute(1, 2, 0).reshape(-1, 4)
            if nms_pre > 0:
                record_cut(cuts, f'rpn.level{level}.nms_pre',
                           scores.sort(descending=True)[0], nms_pre)
                scores, inds = scores.topk(
                    torch.sym_min(nms_pre, scores.shape[0]))
                deltas, anchors = deltas[inds], anchors[inds]
            all_scores.append(scores)
            all_deltas.append(deltas)
            all_anchors.append(anchors)
            levels.append(torch.full_like(scores, level, dtype=torch.long))
        scores, levels = torch.cat(all_scores), torch.cat(levels)
        boxes = decode(head.bbox_coder, torch.cat(all_anchors),
                       torch.cat(all_deltas), img_shape)
        if cfg.get('min_bbox_size', -1) >= 0:
            wh = boxes[:, 2:] - boxes[:, :2]
            valid = (wh > cfg.min_bbox_size).all(1)
            boxes, scores, levels = boxes[valid], scores[valid], levels[valid]
        keep = batched_nms(boxes, scores, levels, cfg.nms.iou_threshold,
                           cfg.nms.get('class_agnostic', False), cuts,
                           'rpn.nms')
        record_cut(cuts, 'rpn.max_per_img', scores[keep], cfg.max_per_img)
        return boxes[keep[:cfg.max_per_img]]

    def box_predictions(self, feats: Tuple[Tensor], boxes: Tensor,
                        img_shape: Tensor) -> Tuple[Tensor, Tensor]:
        """Class probabilities (n, C + 1) and boxes (n, R, 4) of RoIs
        ``boxes`` (n, 4), as ``StandardRoIHead.predict_bbox`` before its
        NMS (R: see :func:`regress`)."""
        roi_head = self.model.roi_head
        cls_score, bbox_pred = roi_head.bbox_head(
            roi_feats(roi_head.bbox_roi_extractor, feats, boxes))
        return cls_score.softmax(-1), regress(roi_head.bbox_head, boxes,
                                              bbox_pred, img_shape)

    def class_nms(
            self,
            scores: Tensor,
            boxes: Tensor,
            cuts: Optional[dict] = None) -> Tuple[Tensor, Tensor, Tensor]:
        """Boxes (k, 4), scores (k, ) and labels (k, ) of ``multiclass_nms``
        on class probabilities ``scores`` (n, C + 1) and boxes (n, R, 4).

        Cuts recorded: ``rcnn.score_thr.above`` (the lowest score above
        ``score_thr``, and it), ``rcnn.score_thr.below`` (it, and the
        highest score at or below it), ``rcnn.nms`` and
        ``rcnn.max_per_img`` (after NMS)."""
        cfg = self.model.test_cfg.rcnn
        num_rois, num_classes = scores.shape[0], scores.shape[1] - 1
        boxes = boxes.expand(num_rois, num_classes, 4).reshape(-1, 4)
        labels = torch.arange(
            num_classes, device=boxes.device).repeat(num_rois)
        scores = scores[:, :-1].reshape(-1)
        valid = scores > cfg.score_thr
        if cuts is not None and valid.any():
            cuts['rcnn.score_thr.above'] = (scores[valid].min().item(),
                                            cfg.score_thr)
        if cuts is not None and not valid.all():
            cuts['rcnn.score_thr.below'] = (cfg.score_thr,
                                            scores[~valid].max().item())
        boxes, scores, labels = boxes[valid], scores[valid], labels[valid]
        keep = batched_nms(boxes, scores, labels, cfg.nms.iou_threshold,
                           cfg.nms.get('class_agnostic', False), cuts,
                           'rcnn.nms')
        record_cut(cuts, 'rcnn.max_per_img', scores[keep], cfg.max_per_img)
        keep = keep[:cfg.max_per_img]
        return boxes[keep], scores[keep], labels[keep]

    def mask_predictions(self, feats: Tuple[Tensor], boxes: Tensor,
                         labels: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Of boxes (n, 4) of classes ``labels`` (n, ): the mask
        probabilities (n, M, M) of each box's class, and the MaskIoU
        head's inputs, RoI features (n, F, S, S) and mask logits
        (n, M, M), as ``MaskScoringRoIHead.predict_mask``."""
        roi_head = self.model.roi_head
        mask_feats = roi_feats(roi_head.mask_roi_extractor, feats, boxes)
        mask_preds = roi_head.mask_head(mask_feats)
        inds = torch.arange(labels.shape[0], device=labels.device)
        mask_classes = labels * 0 if roi_head.mask_head.class_agnostic \
            else labels
        return (mask_preds[inds, mask_classes].sigmoid(), mask_feats,
                mask_preds[inds, labels])

    def scored_masks(self, scores: Tensor, labels: Tensor, mask_probs: Tensor,
                     iou_feats: Tensor,
                     iou_logits: Tensor) -> Tuple[Tensor, ...]:
        """``scores`` (n, ), with a MaskIoU head ``mask_scores`` (n, ), and
        ``mask_probs`` (n, M, M), of n detections from the outputs of
        :meth:`mask_predictions` for n + 1 RoIs (the last, dummy one
        dropped)."""
        num = scores.shape[0]
        mask_probs = mask_probs[:num]
        if not self.with_mask_iou:
            return scores, mask_probs
        iou_head = self.model.roi_head.mask_iou_head
        ious = iou_head(iou_feats, iou_logits)[:num]
        inds = torch.arange(num, device=labels.device)
        mask_scores = iou_head.mask_scores(scores, ious[inds, labels])
        if iou_head.overwrite_scores:
            scores = mask_scores
        return scores, mask_scores, mask_probs
