"""Mask Scoring R-CNN detector."""
from mmdet.models.detectors import TwoStageDetector
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.logging import print_log

from ms_rcnn.registry import MODELS


@MODELS.register_module()
class MaskScoringRCNN(TwoStageDetector):
    """`Mask Scoring R-CNN <https://arxiv.org/abs/1903.00241>`_.

    A two-stage detector whose RoI head (:class:`MaskScoringRoIHead`) scores
    every mask with a predicted mask IoU. The structure and parameter names
    are those of mmdet's ``MaskScoringRCNN``, so its checkpoints load.
    """

    # The detector without mask scoring whose checkpoints this one accepts
    # (subclasses for other frameworks name theirs).
    plain_detector_name = 'Mask R-CNN'

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

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys,
                              error_msgs) -> None:
        """Say so when a checkpoint of the plain detector is loaded.

        torch and mmengine call this on the detector first, with the whole
        state dict, then on every submodule; they list missing, unexpected
        and mis-shaped keys (with both shapes) themselves, and raise for
        them if ``strict``. (The ``strict`` passed here is always True, so
        the detector cannot tell a strict load from a lenient one.)

        A checkpoint with ``roi_head.mask_head`` but no
        ``roi_head.mask_iou_head`` is one of :attr:`plain_detector_name`:
        loaded with ``strict=False``, the MaskIoU head keeps its
        initialisation. One line says so, beside the loader's list of the
        head's missing keys.
        """
        # mmdet's parent first renames the bbox_head.* keys of single-stage
        # (RPN) checkpoints to rpn_head.*.
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
        head, mask_head = (prefix + 'roi_head.mask_iou_head.',
                           prefix + 'roi_head.mask_head.')
        if (getattr(self.roi_head, 'mask_iou_head', None) is not None
                and not any(k.startswith(head) for k in state_dict)
                and any(k.startswith(mask_head) for k in state_dict)):
            print_log(
                'The checkpoint has no roi_head.mask_iou_head (a '
                f'{self.plain_detector_name} checkpoint): newly initialised: '
                'roi_head.mask_iou_head',
                logger='current')
