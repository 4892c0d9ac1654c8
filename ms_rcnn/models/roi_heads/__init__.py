from .mask_heads import MaskIoUHead
from .mask_scoring_roi_head import MaskScoringRoIHead
from .maskness_roi_head import MasknessRoIHead, maskness

__all__ = ['MaskIoUHead', 'MaskScoringRoIHead', 'MasknessRoIHead', 'maskness']
