"""Cascade Mask R-CNN with mask scoring (the detector)."""
from mmdet.models.detectors import CascadeRCNN

from ms_rcnn.models.detectors import MaskScoringRCNN
from ms_rcnn.registry import MODELS


@MODELS.register_module()
class CascadeMaskScoringRCNN(MaskScoringRCNN, CascadeRCNN):
    """mmdet's :class:`CascadeRCNN` with a
    :class:`CascadeMaskScoringRoIHead`.

    Everything but checkpoint loading is ``CascadeRCNN``'s (the method
    resolution order is this class, ``MaskScoringRCNN``, ``CascadeRCNN``,
    ``TwoStageDetector``). From :class:`MaskScoringRCNN` it takes
    ``_load_from_state_dict``: an mmdet Cascade Mask R-CNN checkpoint, which
    has everything but ``roi_head.mask_iou_head``, loads (with
    ``strict=False``, as ``load_from`` does) with that head as initialised;
    the log says that the head is not in the checkpoint.
    """

    plain_detector_name = 'Cascade Mask R-CNN'
