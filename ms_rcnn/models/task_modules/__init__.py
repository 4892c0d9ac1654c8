from .mask_iou_target import (area_ratios, bitmap_area_ratios,
                              mask_iou_targets, polygon_area_ratios)

__all__ = [
    'area_ratios', 'bitmap_area_ratios', 'polygon_area_ratios',
    'mask_iou_targets'
]
