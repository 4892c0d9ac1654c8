"""Mask Scoring R-CNN detector."""
import logging

from mmdet.models.detectors import TwoStageDetector
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.logging import print_log

from ms_rcnn.registry import MODELS
from ms_rcnn.utils.checkpoint import format_mismatch, state_dict_mismatch


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
        """Name what does not match, and accept Mask R-CNN checkpoints.

        torch calls this on the detector first, with the whole state dict
        (a copy that loading may modify), then on every submodule.

        A Mask R-CNN checkpoint has everything but ``roi_head.mask_iou_head``:
        the head keeps its initialisation, and this is said once in the log
        instead of as a list of missing keys (the head's current tensors are
        put into the state dict, so they load onto themselves). Any other
        difference (e.g. another ``num_classes``) is logged once, naming
        every differing parameter with both shapes.
        """
        own = {
            prefix + k: v
            for k, v in self.state_dict(keep_vars=True).items()
        }
        ckpt = {k: v for k, v in state_dict.items() if k.startswith(prefix)}
        head = prefix + 'roi_head.mask_iou_head.'
        head_keys = [k for k in own if k.startswith(head)]
        mask_head = prefix + 'roi_head.mask_head.'
        if (head_keys and not any(k.startswith(head) for k in ckpt)
                and any(k.startswith(mask_head) for k in ckpt)):
            for k in head_keys:
                state_dict[k] = ckpt[k] = own[k].detach()
            print_log(
                'The checkpoint has no roi_head.mask_iou_head (a '
                f'{self.plain_detector_name} checkpoint): newly initialised: '
                'roi_head.mask_iou_head',
                logger='current')
        mismatch = state_dict_mismatch(own, ckpt)
        if any(mismatch.values()):
            print_log(
                f'The checkpoint does not match {type(self).__name__}: ' +
                format_mismatch(mismatch, own, ckpt),
                logger='current',
                level=logging.WARNING)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
