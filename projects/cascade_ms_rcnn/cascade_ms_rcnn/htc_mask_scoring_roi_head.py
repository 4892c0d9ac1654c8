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

    Boxes, labels, scores and masks are those of HTC's head. The final mask
    is what HTC's test-time mask forward returns, merged (mmdet 3.3 returns
    the last stage's mask only, after the mask information flow through all
    stages). The MaskIoU head scores it from the last stage's mask RoI
    features with the semantic features fused as HTC's mask heads get them;
    see :mod:`.mask_scoring_cascade`. Training adds ``s{N-1}.loss_mask_iou``
    on the last stage's (re-sampled, with ``interleaved``) positives, scaled
    by that stage's loss weight; prediction adds ``mask_scores``.

    Args:
        mask_iou_head (dict): Config of :class:`MaskIoUHead`.
        **kwargs: Arguments of :class:`mmdet.models.HybridTaskCascadeRoIHead`.
    """

    def _stage_mask_probs(
            self,
            x: Tuple[Tensor],
            rois: Tensor,
            last_mask_preds: Optional[Tensor] = None,
            semantic_feat: Optional[Tensor] = None) -> List[Tensor]:
        """(n, C, M, M) probabilities that HTC merges at test time.

        That is the last stage's mask only (mmdet 3.3), which the training
        forward of the last stage computes as well: ``last_mask_preds``
        are used as they are when given.
        """
        if last_mask_preds is not None:
            return [last_mask_preds.sigmoid()]
        mask_preds = self._mask_forward(
            stage=-1,
            x=x,
            rois=rois,
            semantic_feat=semantic_feat,
            training=False)['mask_preds']
        return [m.sigmoid() for m in mask_preds]

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
