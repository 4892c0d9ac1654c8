from .calibration import (coco_ap_bound, coco_segm_ap, image_ious, mask_ious,
                          pearson, reliability_curve, spearman)
from .rankings import RANKINGS, max_matches, ranking_scores, to_numpy

__all__ = [
    'mask_ious', 'image_ious', 'pearson', 'spearman', 'reliability_curve',
    'coco_segm_ap', 'coco_ap_bound', 'RANKINGS', 'max_matches',
    'ranking_scores', 'to_numpy'
]
