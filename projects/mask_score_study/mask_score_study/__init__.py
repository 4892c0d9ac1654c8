"""The MaskIoU head's training and scoring options that the quick-start
measurements did not keep (README.md of this project).

Importing this package registers :class:`StudyMaskIoUHead`,
:class:`StudyMaskScoringRoIHead` and :class:`StudyMaskScoringRCNN` in
``ms_rcnn.registry.MODELS`` (scope ``ms_rcnn``); configs import it with
``custom_imports``.
"""
import ms_rcnn.models  # noqa: F401  (registers MaskIoUHead and friends)
from .study_detector import StudyMaskScoringRCNN
from .study_maskiou_head import StudyMaskIoUHead
from .study_roi_head import StudyMaskScoringRoIHead
from .study_rois import scored_rois, target_bin_weights

__all__ = [
    'StudyMaskIoUHead', 'StudyMaskScoringRoIHead', 'StudyMaskScoringRCNN',
    'scored_rois', 'target_bin_weights'
]
