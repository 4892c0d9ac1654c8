"""Cascade Mask R-CNN's RoI head plus a MaskIoU head on the merged mask."""
from typing import List, Optional, Tuple

from mmdet.models.roi_heads import CascadeRoIHead
from mmdet.utils import InstanceList
from torch import Tensor

from ms_rcnn.registry import MODELS
from .mask_scoring_cascade import MaskScoringCascadeMixin


@MODELS.register_module()
class CascadeMaskScoringRoIHead(MaskScoringCascadeMixin, CascadeRoIHead):
    """mmdet's :class:`CascadeRoIHead` whose final masks get mask scores.

    Boxes, labels, scores and masks are those of ``CascadeRoIHead``. The
    MaskIoU head scores the merged mask (mean of the stages' probabilities)
    from the last stage's mask RoI features; see
    :mod:`.mask_scoring_cascade`. Training adds ``s{N-1}.loss_mask_iou`` on
    the last stage's positives, scaled by that stage's loss weight like its
    mask loss; prediction adds ``mask_scores`` (``scores`` stays the class
    score unless the MaskIoU head has ``overwrite_scores=True``).

    Args:
        mask_iou_head (dict): Config of :class:`MaskIoUHead`.
        **kwargs: Arguments of :class:`mmdet.models.CascadeRoIHead`.
    """

    def _stage_mask_probs(
            self,
            x: Tuple[Tensor],
            rois: Tensor,
            last_mask_preds: Optional[Tensor] = None) -> List[Tensor]:
        """Per stage, (n, C, M, M) mask probabilities of ``rois`` (the last
        stage's from ``last_mask_preds`` when given)."""
        stages = range(self.num_stages - (last_mask_preds is not None))
        preds = [self._mask_forward(s, x, rois)['mask_preds'] for s in stages]
        if last_mask_preds is not None:
            preds.append(last_mask_preds)
        return [p.sigmoid() for p in preds]

    def _mask_iou_feats(self, x: Tuple[Tensor], rois: Tensor) -> Tensor:
        """(n, F, S, S) mask RoI features of the last stage."""
        extractor = self.mask_roi_extractor[-1]
        return extractor(x[:extractor.num_inputs], rois)

    def predict_mask(self,
                     x: Tuple[Tensor],
                     batch_img_metas: List[dict],
                     results_list: InstanceList,
                     rescale: bool = False) -> InstanceList:
        """Merged masks with ``mask_scores``; see
        :meth:`MaskScoringCascadeMixin.predict_scored_masks`."""
        return self.predict_scored_masks(x, batch_img_metas, results_list,
                                         rescale)
