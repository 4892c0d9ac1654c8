"""Mask Scoring R-CNN detector."""
from mmdet.models.detectors import TwoStageDetector
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig

from ms_rcnn.registry import MODELS


@MODELS.register_module()
class MaskScoringRCNN(TwoStageDetector):
    """`Mask Scoring R-CNN <https://arxiv.org/abs/1903.00241>`_.

    A two-stage detector whose RoI head (:class:`MaskScoringRoIHead`) scores
    every mask with a predicted mask IoU. The structure and parameter names
    are those of mmdet's ``MaskScoringRCNN``, so its checkpoints load.
    """

    def __init__(self,
                 backbone: ConfigType,
                 rpn_head: ConfigType,
                 roi_head: ConfigType,
                 train_cfg: ConfigType,
                 test_cfg: ConfigType,
                 neck: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            rpn_head=rpn_head,
            roi_head=roi_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
