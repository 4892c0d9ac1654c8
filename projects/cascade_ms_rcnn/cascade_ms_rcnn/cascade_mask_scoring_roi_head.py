"""Cascade Mask R-CNN's RoI head plus a MaskIoU head on the merged mask."""
from typing import List, Tuple

from mmdet.models.roi_heads import CascadeRoIHead
from mmdet.utils import InstanceList
from torch import Tensor

from ms_rcnn.registry import MODELS
from .mask_scoring_cascade import MaskScoringCascadeMixin


@MODELS.register_module()
class CascadeMaskScoringRoIHead(MaskScoringCascadeMixin, CascadeRoIHead):
    """mmdet's :class:`CascadeRoIHead` whose final masks get mask scores.

    Boxes, labels, scores and masks are those of ``CascadeRoIHead``. The
    MaskIoU head scores the merged mask (mean of all stages'
    probabilities) from the last stage's mask RoI features; see
    :mod:`.mask_scoring_cascade`. Training adds ``loss_mask_iou`` on the
    last stage's positives, weighted by the MaskIoU head's ``loss_iou``
    only; prediction adds ``mask_scores`` (``scores`` stays the class score
    unless the MaskIoU head has ``overwrite_scores=True``).

    Args:
        mask_iou_head (dict): Config of :class:`MaskIoUHead`.
        **kwargs: Arguments of :class:`mmdet.models.CascadeRoIHead`.
    """

    @property
    def mask_stages(self) -> List[int]:
        """All stages: ``CascadeRoIHead`` outputs the mean of their
        masks."""
        return list(range(self.num_stages))

    def _stage_mask_logits(self, stage: int, x: Tuple[Tensor],
                           rois: Tensor) -> Tensor:
        """(n, C, M, M) mask logits of ``stage`` for ``rois``."""
        return self._mask_forward(stage, x, rois)['mask_preds']

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
