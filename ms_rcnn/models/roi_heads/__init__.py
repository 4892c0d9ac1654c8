from .mask_heads import MaskIoUHead
from .mask_scoring_roi_head import MaskScoringRoIHead

__all__ = ['MaskIoUHead', 'MaskScoringRoIHead']
