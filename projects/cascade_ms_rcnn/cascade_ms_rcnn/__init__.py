"""Mask scoring on Cascade Mask R-CNN and HTC.

Importing this package registers its detectors and RoI heads in
``ms_rcnn.registry.MODELS`` (scope ``ms_rcnn``); configs import it with
``custom_imports``.
"""
import ms_rcnn.models  # noqa: F401  (registers MaskIoUHead and friends)

from .cascade_mask_scoring_rcnn import CascadeMaskScoringRCNN
from .cascade_mask_scoring_roi_head import CascadeMaskScoringRoIHead
from .htc_mask_scoring import HybridTaskCascadeMaskScoring
from .htc_mask_scoring_roi_head import HybridTaskCascadeMaskScoringRoIHead
from .mask_scoring_cascade import MaskScoringCascadeMixin

__all__ = [
    'CascadeMaskScoringRCNN', 'CascadeMaskScoringRoIHead',
    'HybridTaskCascadeMaskScoring', 'HybridTaskCascadeMaskScoringRoIHead',
    'MaskScoringCascadeMixin'
]
