"""MS R-CNN whose MaskIoU head, on a frozen detector, may also learn from
the paper's positive RoIs."""
from typing import Optional, Sequence

import torch
from mmdet.structures import SampleList
from torch import Tensor

from ms_rcnn.models import MaskScoringRCNN
from ms_rcnn.registry import MODELS
from .study_roi_head import StudyMaskScoringRoIHead


@MODELS.register_module()
class StudyMaskScoringRCNN(MaskScoringRCNN):
    """:class:`MaskScoringRCNN` whose ``frozen_detector`` training learns
    from what ``frozen_rois`` names: ``'detections'``, the detector's
    test-time detections (the core's training, logged here as
    ``loss_mask_iou_det`` where the core logs ``loss_mask_iou``);
    ``'proposals'``, the positive RoIs of the training proposals, as the
    paper trains the head (``loss_mask_iou``,
    :meth:`StudyMaskScoringRoIHead.positive_mask_iou_loss`); or both.

    Args:
        frozen_rois (Sequence[str], optional): A list of them; only with
            ``frozen_detector=True``. Defaults to ``('detections', )``.
        **kwargs: Arguments of :class:`MaskScoringRCNN`; its RoI head must
            be a :class:`StudyMaskScoringRoIHead`.
    """

    def __init__(self,
                 *args,
                 frozen_rois: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if frozen_rois is not None and not self.frozen_detector:
            raise ValueError('StudyMaskScoringRCNN: frozen_rois applies to '
                             'frozen_detector=True only')
        frozen_rois = ('detections', ) if frozen_rois is None else frozen_rois
        # A bare string would be read letter by letter.
        if (isinstance(frozen_rois, str) or not frozen_rois
                or set(frozen_rois) - {'proposals', 'detections'}):
            raise ValueError('StudyMaskScoringRCNN: frozen_rois must be a '
                             "list or tuple naming 'proposals', "
                             f"'detections' or both, got {frozen_rois!r}")
        if not isinstance(self.roi_head, StudyMaskScoringRoIHead):
            raise TypeError('StudyMaskScoringRCNN needs a '
                            'StudyMaskScoringRoIHead, got a '
                            f'{type(self.roi_head).__name__}')
        self.frozen_rois = tuple(frozen_rois)

    def frozen_loss(self, batch_inputs: Tensor,
                    batch_data_samples: SampleList) -> dict:
        """The MaskIoU losses of ``frozen_rois``, everything before the
        MaskIoU head computed without gradient."""
        batch_img_metas = [s.metainfo for s in batch_data_samples]
        with torch.no_grad():
            x = self.extract_feat(batch_inputs)
            rpn_outs = self.rpn_head(x)
        losses = {}
        for rois, key, cfg in (('proposals', 'loss_mask_iou',
                                self.train_cfg.get('rpn_proposal',
                                                   self.test_cfg.rpn)),
                               ('detections', 'loss_mask_iou_det',
                                self.test_cfg.rpn)):
            if rois not in self.frozen_rois:
                continue
            with torch.no_grad():
                proposals = self.rpn_head.predict_by_feat(
                    *rpn_outs, batch_img_metas=batch_img_metas, cfg=cfg)
            loss = (self.roi_head.positive_mask_iou_loss if rois
                    == 'proposals' else self.roi_head.detection_mask_iou_loss)
            losses[key] = loss(x, proposals, batch_data_samples)
        return losses
