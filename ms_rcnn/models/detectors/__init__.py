from .mask_scoring_rcnn import MaskScoringRCNN

__all__ = ['MaskScoringRCNN']
