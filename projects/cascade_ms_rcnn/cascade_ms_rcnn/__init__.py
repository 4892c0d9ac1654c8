"""Mask scoring on Cascade Mask R-CNN and HTC.

Importing this package registers its detectors and RoI heads in
``ms_rcnn.registry.MODELS`` (scope ``ms_rcnn``), and the cascades' ONNX
graph with ``ms_rcnn.deploy``; configs import it with ``custom_imports``.
"""
import ms_rcnn.models  # noqa: F401  (registers MaskIoUHead and friends)

# export registers CascadeDetectorGraph, the ONNX graph of the cascades'
# RoI heads (mmdet's and ours), with ms_rcnn.deploy.
from . import export  # noqa: F401
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
