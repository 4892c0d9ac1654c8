"""The cascades' test path as one ONNX graph.

:class:`CascadeDetectorGraph` is ms_rcnn's
:class:`~ms_rcnn.deploy.graph.DetectorGraph` (RPN, multiclass NMS, the
MaskIoU head's scores, the dummy RoI that keeps every head's batch
non-empty) with the RoI heads of mmdet 3.3's Cascade Mask R-CNN and HTC,
and of this project's mask-scoring twins. It is registered for their RoI
heads, so ``tools/deployment/pytorch2onnx.py``, ``export_onnx`` and
``OnnxMaskScoringDetector`` take the project's configs as they take the
core's. For one image, as ``CascadeRoIHead.predict`` and
``HybridTaskCascadeRoIHead.predict`` compute it:

- boxes: stage s scores and regresses the RoIs that the stages before it
  refined (each box regressed by its stage's deltas, of the argmax class
  of that stage's foreground scores for a class-specific regressor, and
  clipped to the image); the class probabilities are the softmax of the
  mean of all stages' class logits, the boxes the last stage's regression;
  then the core graph's multiclass NMS;
- masks of the kept boxes: Cascade Mask R-CNN averages the mask
  probabilities of all stages (each stage's mask head on its own RoI
  features); HTC outputs the last stage's mask after the mask information
  flow through every stage's head, all on the last stage's mask RoI
  features; HTC's semantic features are added where its
  ``semantic_fusion`` adds them;
- with a MaskIoU head: its prediction for the merged mask (given as
  ``torch.logit(p, 1e-6)``) from the last stage's mask RoI features, and
  the mask score of :class:`~ms_rcnn.models.MaskIoUHead`.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.detectors import CascadeRCNN
from mmdet.models.roi_heads import (CascadeRoIHead, FCNMaskHead,
                                    FusedSemanticHead, HTCMaskHead,
                                    HybridTaskCascadeRoIHead)
from torch import Tensor, nn

from ms_rcnn.deploy.graph import (DetectorGraph, decode, register_graph,
                                  regress, roi_feats)
from ms_rcnn.deploy.support import (UnsupportedModelError, check_bbox_head,
                                    check_class, check_nms,
                                    check_roi_extractor, check_rpn,
                                    qualified_name)
from ms_rcnn.models.roi_heads import MaskIoUHead
from .cascade_mask_scoring_roi_head import CascadeMaskScoringRoIHead
from .htc_mask_scoring_roi_head import HybridTaskCascadeMaskScoringRoIHead
from .mask_scoring_cascade import probs_to_logits

HTC_HEADS = (HybridTaskCascadeRoIHead, HybridTaskCascadeMaskScoringRoIHead)


def check_cascade(model: nn.Module) -> None:
    """Raise ``UnsupportedModelError`` naming the first component of a
    cascade that :class:`CascadeDetectorGraph` does not reproduce.

    Handled: ``RPNHead`` proposals as in the core graph; per stage a
    ``SingleRoIExtractor`` of aligned ``RoIAlign`` and a box head of
    mmdet's FC/conv family with delta boxes and a softmax classifier;
    ``FCNMaskHead`` stages (Cascade Mask R-CNN) or ``HTCMaskHead`` stages
    (HTC), HTC's ``FusedSemanticHead``; ms_rcnn's ``MaskIoUHead``; NMS of
    type ``'nms'``.
    """
    if not isinstance(model, CascadeRCNN):
        raise UnsupportedModelError(
            f'ONNX export: the detector is {qualified_name(type(model))}; '
            f'a cascade RoI head needs {qualified_name(CascadeRCNN)}')
    roi_head = model.roi_head
    if not roi_head.with_mask:
        raise UnsupportedModelError(
            'ONNX export: model.roi_head has no mask head')
    check_rpn(model)
    htc = isinstance(roi_head, HTC_HEADS)
    mask_heads = (HTCMaskHead, ) if htc else (FCNMaskHead, )
    for stage in range(roi_head.num_stages):
        where = f'model.roi_head.{{}}[{stage}]'
        check_roi_extractor(roi_head.bbox_roi_extractor[stage],
                            where.format('bbox_roi_extractor'))
        check_bbox_head(roi_head.bbox_head[stage], where.format('bbox_head'))
        if roi_head.bbox_head[stage].custom_activation:
            raise UnsupportedModelError(
                f'ONNX export: {where.format("bbox_head")} has a custom '
                'classifier activation')
        check_roi_extractor(roi_head.mask_roi_extractor[stage],
                            where.format('mask_roi_extractor'))
        check_class(roi_head.mask_head[stage], where.format('mask_head'),
                    mask_heads)
    if htc and roi_head.with_semantic:
        check_class(roi_head.semantic_head, 'model.roi_head.semantic_head',
                    (FusedSemanticHead, ))
        check_roi_extractor(roi_head.semantic_roi_extractor,
                            'model.roi_head.semantic_roi_extractor')
    if hasattr(roi_head, 'mask_iou_head'):
        check_class(roi_head.mask_iou_head, 'model.roi_head.mask_iou_head',
                    (MaskIoUHead, ))
    check_nms(model.test_cfg.rcnn, 'test_cfg.rcnn')


def refine(head: nn.Module, boxes: Tensor, cls_score: Tensor,
           bbox_pred: Tensor, img_shape: Tensor) -> Tensor:
    """(n, 4) boxes (n, 4) regressed by one stage, as
    ``BBoxHead.regress_by_class`` with the argmax foreground class of
    ``cls_score`` (n, C + 1)."""
    if not head.reg_class_agnostic:
        labels = cls_score[:, :-1].argmax(1)
        inds = torch.arange(labels.shape[0], device=labels.device)
        bbox_pred = bbox_pred.reshape(labels.shape[0], -1, 4)[inds, labels]
    return decode(head.bbox_coder, boxes, bbox_pred, img_shape)


@register_graph(CascadeRoIHead, HybridTaskCascadeRoIHead,
                CascadeMaskScoringRoIHead,
                HybridTaskCascadeMaskScoringRoIHead)
class CascadeDetectorGraph(DetectorGraph):
    """The test path of a built Cascade Mask R-CNN, HTC, or their
    mask-scoring twins, for one image (see the module's docstring).

    Args:
        model (nn.Module): The detector in eval mode (see
            :func:`check_cascade`).
    """

    @staticmethod
    def check(model: nn.Module) -> None:
        check_cascade(model)

    @property
    def htc(self) -> bool:
        return isinstance(self.model.roi_head, HTC_HEADS)

    def extras(self, feats: Tuple[Tensor]) -> tuple:
        """(HTC's semantic features (1, F, h, w), or None)."""
        roi_head = self.model.roi_head
        if self.htc and roi_head.with_semantic:
            return (roi_head.semantic_head(feats)[1], )
        return (None, )

    def with_semantic(self, feats: Tensor, boxes: Tensor,
                      semantic: Optional[Tensor], branch: str) -> Tensor:
        """RoI features (n, F, S, S) plus HTC's pooled semantic features
        where its ``semantic_fusion`` has ``branch``."""
        roi_head = self.model.roi_head
        if semantic is None or branch not in roi_head.semantic_fusion:
            return feats
        pooled = roi_feats(roi_head.semantic_roi_extractor, (semantic, ),
                           boxes)
        if pooled.shape[-2:] != feats.shape[-2:]:
            pooled = F.adaptive_avg_pool2d(pooled, feats.shape[-2:])
        return feats + pooled

    def box_predictions(self, feats: Tuple[Tensor], boxes: Tensor,
                        img_shape: Tensor,
                        semantic: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """Class probabilities (n, C + 1) and boxes (n, R, 4) of RoIs
        ``boxes`` (n, 4), as ``CascadeRoIHead.predict_bbox`` before its
        NMS."""
        roi_head = self.model.roi_head
        last = roi_head.num_stages - 1
        cls_scores = []
        for stage in range(roi_head.num_stages):
            head = roi_head.bbox_head[stage]
            stage_feats = self.with_semantic(
                roi_feats(roi_head.bbox_roi_extractor[stage], feats, boxes),
                boxes, semantic, 'bbox')
            cls_score, bbox_pred = head(stage_feats)
            cls_scores.append(cls_score)
            if stage < last:
                boxes = refine(head, boxes, cls_score, bbox_pred, img_shape)
        # mmdet's mean: summed from 0 in stage order, divided by a float.
        scores = sum(cls_scores) / float(len(cls_scores))
        return scores.softmax(-1), regress(roi_head.bbox_head[last], boxes,
                                           bbox_pred, img_shape)

    def mask_predictions(self, feats: Tuple[Tensor], boxes: Tensor,
                         labels: Tensor, semantic: Optional[Tensor]
                         ) -> Tuple[Tensor, Tensor, Tensor]:
        """Of boxes (n, 4) of classes ``labels`` (n, ): the merged mask
        probabilities (n, M, M) of each box's class, and the MaskIoU
        head's inputs: the last stage's mask RoI features (n, F, S, S) and
        the merged mask's logits (n, M, M)."""
        roi_head = self.model.roi_head
        inds = torch.arange(labels.shape[0], device=labels.device)
        last = roi_head.num_stages - 1
        last_feats = self.with_semantic(
            roi_feats(roi_head.mask_roi_extractor[last], feats, boxes),
            boxes, semantic, 'mask')
        if self.htc:
            if roi_head.mask_info_flow:
                flow = None
                for stage in range(last + 1):
                    preds, flow = roi_head.mask_head[stage](last_feats, flow)
            else:
                preds = roi_head.mask_head[last](last_feats,
                                                 return_feat=False)
            stage_probs = [preds.sigmoid()]
        else:
            stage_probs = [
                roi_head.mask_head[stage](roi_feats(
                    roi_head.mask_roi_extractor[stage], feats,
                    boxes)).sigmoid() for stage in range(last + 1)
            ]
        # mmdet's merge_aug_masks: the mean over the stages.
        merged = torch.stack(stage_probs).mean(0)
        mask_classes = labels * 0 if roi_head.mask_head[last].class_agnostic \
            else labels
        return (merged[inds, mask_classes], last_feats,
                probs_to_logits(merged[inds, labels]))
