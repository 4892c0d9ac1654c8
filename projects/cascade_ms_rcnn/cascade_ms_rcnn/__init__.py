"""Mask scoring on Cascade Mask R-CNN and HTC.

Importing this package registers its detectors and RoI heads in
``ms_rcnn.registry.MODELS`` (scope ``ms_rcnn``), and names its module
:mod:`.export` in ``ms_rcnn.deploy.GRAPH_MODULES``; configs import it with
``custom_imports``.
"""
import ms_rcnn.models  # noqa: F401  (registers MaskIoUHead and friends)
from ms_rcnn.deploy import GRAPH_MODULES
from .cascade_mask_scoring_rcnn import CascadeMaskScoringRCNN
from .cascade_mask_scoring_roi_head import CascadeMaskScoringRoIHead
from .htc_mask_scoring import HybridTaskCascadeMaskScoring
from .htc_mask_scoring_roi_head import HybridTaskCascadeMaskScoringRoIHead
from .mask_scoring_cascade import MaskScoringCascadeMixin

# export registers CascadeDetectorGraph, the ONNX graph of the cascades'
# RoI heads (mmdet's and ours); build_graph imports it when an export asks
# for a graph, so training imports neither it nor ms_rcnn.deploy.graph.
GRAPH_MODULES.append(f'{__name__}.export')

__all__ = [
    'CascadeMaskScoringRCNN', 'CascadeMaskScoringRoIHead',
    'HybridTaskCascadeMaskScoring', 'HybridTaskCascadeMaskScoringRoIHead',
    'MaskScoringCascadeMixin'
]
