"""HTC's RoI head plus a MaskIoU head on its final mask."""
from typing import List, Optional, Tuple

import torch.nn.functional as F
from mmdet.models.roi_heads import HybridTaskCascadeRoIHead
from mmdet.utils import InstanceList
from torch import Tensor

from ms_rcnn.registry import MODELS
from .mask_scoring_cascade import MaskScoringCascadeMixin


@MODELS.register_module()
class HybridTaskCascadeMaskScoringRoIHead(MaskScoringCascadeMixin,
                                          HybridTaskCascadeRoIHead):
    """mmdet's :class:`HybridTaskCascadeRoIHead` whose final masks get mask
    scores.

    Boxes, labels, scores and masks are those of HTC's head. The output
    mask is the last stage's (after the mask information flow through the
    stages before it), as mmdet 3.3's HTC outputs it; ``mask_stages`` says
    so for training and prediction alike, and this head computes it itself
    rather than taking whatever list of stages mmdet's test-time mask
    forward collects. The MaskIoU head scores it from the last stage's mask
    RoI features with the semantic features fused as HTC's mask heads get
    them; see :mod:`.mask_scoring_cascade`. Training adds ``loss_mask_iou``
    on the last stage's (re-sampled, with ``interleaved``) positives,
    weighted by the MaskIoU head's ``loss_iou`` only; prediction adds
    ``mask_scores``.

    Args:
        mask_iou_head (dict): Config of :class:`MaskIoUHead`.
        **kwargs: Arguments of :class:`mmdet.models.HybridTaskCascadeRoIHead`.
    """

    @property
    def mask_stages(self) -> List[int]:
        """The last stage only, whose mask mmdet 3.3's HTC outputs."""
        return [self.num_stages - 1]

    def _stage_mask_logits(self,
                           stage: int,
                           x: Tuple[Tensor],
                           rois: Tensor,
                           semantic_feat: Optional[Tensor] = None) -> Tensor:
        """(n, C, M, M) mask logits of ``stage`` for ``rois``.

        mmdet's mask forward with ``training=True`` returns one stage's
        logits, through the mask information flow of the stages before it,
        as that stage's mask loss uses them (``training`` selects the
        output, not a mode: no layer behaves differently).
        """
        return self._mask_forward(
            stage=stage,
            x=x,
            rois=rois,
            semantic_feat=semantic_feat,
            training=True)['mask_preds']

    def _mask_iou_feats(self,
                        x: Tuple[Tensor],
                        rois: Tensor,
                        semantic_feat: Optional[Tensor] = None) -> Tensor:
        """(n, F, S, S) last-stage mask RoI features, plus the pooled
        semantic features where HTC fuses them into the mask branch."""
        extractor = self.mask_roi_extractor[-1]
        feats = extractor(x[:extractor.num_inputs], rois)
        if self.with_semantic and 'mask' in self.semantic_fusion:
            semantic = self.semantic_roi_extractor([semantic_feat], rois)
            if semantic.shape[-2:] != feats.shape[-2:]:
                semantic = F.adaptive_avg_pool2d(semantic, feats.shape[-2:])
            feats = feats + semantic
        return feats

    def predict_mask(self,
                     x: Tuple[Tensor],
                     semantic_heat: Optional[Tensor],
                     batch_img_metas: List[dict],
                     results_list: InstanceList,
                     rescale: bool = False) -> InstanceList:
        """Final masks with ``mask_scores``; see
        :meth:`MaskScoringCascadeMixin.predict_scored_masks`.

        ``semantic_heat`` (sic) is the semantic feature map, named as in
        mmdet's ``HybridTaskCascadeRoIHead.predict``, which passes it by
        that keyword.
        """
        return self.predict_scored_masks(
            x,
            batch_img_metas,
            results_list,
            rescale,
            semantic_feat=semantic_heat)
