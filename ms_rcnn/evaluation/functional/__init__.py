from .calibration import (best_mask_ious, coco_segm_ap, image_actual_ious,
                          pearson, reliability_curve, spearman)

__all__ = [
    'best_mask_ious', 'image_actual_ious', 'pearson', 'spearman',
    'reliability_curve', 'coco_segm_ap'
]
