from .hmean_iou_metric import HmeanIoUMetric
from .mask_iou_calibration_metric import MaskIoUCalibrationMetric

__all__ = ['HmeanIoUMetric', 'MaskIoUCalibrationMetric']
