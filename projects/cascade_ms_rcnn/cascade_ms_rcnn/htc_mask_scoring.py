"""Hybrid Task Cascade with mask scoring (the detector)."""
from mmdet.models.detectors import HybridTaskCascade

from ms_rcnn.models.detectors import MaskScoringRCNN
from ms_rcnn.registry import MODELS


@MODELS.register_module()
class HybridTaskCascadeMaskScoring(MaskScoringRCNN, HybridTaskCascade):
    """mmdet's :class:`HybridTaskCascade` with a
    :class:`HybridTaskCascadeMaskScoringRoIHead`.

    Everything but checkpoint loading is ``HybridTaskCascade``'s (the method
    resolution order is this class, ``MaskScoringRCNN``,
    ``HybridTaskCascade``, ``CascadeRCNN``, ``TwoStageDetector``). From
    :class:`MaskScoringRCNN` it takes ``_load_from_state_dict``: an mmdet
    HTC checkpoint, which has everything but ``roi_head.mask_iou_head``,
    loads (with ``strict=False``, as ``load_from`` does) with that head as
    initialised; the log says that the head is not in the checkpoint.
    """

    plain_detector_name = 'HTC'
