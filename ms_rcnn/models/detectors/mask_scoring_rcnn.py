"""Mask Scoring R-CNN detector."""
import numpy as np
import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.structures import SampleList
from mmdet.structures.mask import BitmapMasks
from mmengine.config import ConfigDict
from mmengine.logging import print_log
from torch import Tensor

from ms_rcnn.registry import MODELS


@MODELS.register_module()
class MaskScoringRCNN(TwoStageDetector):
    """`Mask Scoring R-CNN <https://arxiv.org/abs/1903.00241>`_.

    A two-stage detector whose RoI head (:class:`MaskScoringRoIHead`) scores
    every mask with a predicted mask IoU. The structure and parameter names
    are those of mmdet's ``MaskScoringRCNN``, so its checkpoints load.

    With ``frozen_detector=True`` training fits the MaskIoU head alone on a
    trained Mask R-CNN (its checkpoint in ``load_from``): every other module
    stays in eval mode (normalisation statistics as loaded) and runs
    without gradient, and only ``loss_mask_iou`` is computed, on the
    detector's own test-time detections (``test_cfg``; fewer where
    ``train_cfg.rcnn.mask_iou_detections`` says so), each against the
    instance of its class that its box overlaps most (see
    :meth:`MaskScoringRoIHead.detection_mask_iou_loss`): what the head
    scores at test time. The boxes, classes and masks are then the trained
    detector's own, so whatever the mask score changes in mask AP is the
    mask score's doing. ``TrainOnlyHook``
    (``prefixes=['roi_head.mask_iou_head']``) turns the other parameters'
    gradients off and checks that the checkpoint held them all;
    ``tools/add_mask_score.py`` sets all of this up.

    Args:
        frozen_detector (bool): Train the MaskIoU head alone. Defaults to
            False (the paper's joint training).
        **kwargs: Arguments of mmdet's ``TwoStageDetector``.
    """

    # The detector without mask scoring whose checkpoints this one accepts
    # (subclasses for other frameworks name theirs).
    plain_detector_name = 'Mask R-CNN'

    def __init__(self, *args, frozen_detector: bool = False,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.frozen_detector = frozen_detector

    def train(self, mode: bool = True) -> 'MaskScoringRCNN':
        """With ``frozen_detector``, only the MaskIoU head trains; the rest
        stays in eval mode."""
        super().train(mode)
        if mode and self.frozen_detector:
            super().train(False)
            self.roi_head.mask_iou_head.train(True)
        return self

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """mmdet's losses, with every bitmap instance mask made 0/1 first.

        Masks read from image files are often 0/255. mmdet's mask targets
        keep the cells of the mask grid whose RoIAlign average of the raw
        values is >= 0.5: with 0/255 masks, a cell that the instance covers
        by about 1/510 is foreground, so the targets are dilated, and with
        them the mask loss and the MaskIoU targets. Here any non-zero pixel
        is foreground, as in the MaskIoU targets' area ratios, so 0/255 and
        0/1 masks give the same losses.

        Args:
            batch_inputs (Tensor): (B, 3, H, W) images.
            batch_data_samples (list[DetDataSample]): Their samples; their
                ``gt_instances.masks`` are replaced by the 0/1 masks.

        Returns:
            dict: The losses.
        """
        for sample in batch_data_samples:
            masks = sample.gt_instances.get('masks')
            if isinstance(masks, BitmapMasks):
                # A uint8 view of the bool array: no second copy.
                sample.gt_instances.masks = BitmapMasks(
                    (masks.masks != 0).view(np.uint8), masks.height,
                    masks.width)
        if not self.frozen_detector:
            return super().loss(batch_inputs, batch_data_samples)
        return self.frozen_loss(batch_inputs, batch_data_samples)

    def frozen_loss(self, batch_inputs: Tensor,
                    batch_data_samples: SampleList) -> dict:
        """``loss_mask_iou`` of the test-time detections, everything
        before the MaskIoU head computed without gradient
        (``frozen_detector``).

        The proposals are made as ``test_cfg.rpn`` says, with the keys
        that ``train_cfg.rcnn.mask_iou_detections.rpn`` gives replaced
        (fewer proposals: a cheaper search for the detections)."""
        detections = self.train_cfg.rcnn.get('mask_iou_detections') or {}
        # Top-level keys replace test_cfg.rpn's whole (an nms dict too).
        rpn_cfg = ConfigDict({
            **self.test_cfg.rpn,
            **(detections.get('rpn') or {})
        })
        batch_img_metas = [s.metainfo for s in batch_data_samples]
        with torch.no_grad():
            x = self.extract_feat(batch_inputs)
            proposals = self.rpn_head.predict_by_feat(
                *self.rpn_head(x),
                batch_img_metas=batch_img_metas,
                cfg=rpn_cfg)
        return dict(
            loss_mask_iou=self.roi_head.detection_mask_iou_loss(
                x, proposals, batch_data_samples))

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
        ``roi_head.mask_iou_head`` is one of :attr:`plain_detector_name`.
        One line says that the head is not in the checkpoint; the loader
        then lists the head's keys as missing and raises for them if
        ``strict``, or, with ``strict=False``, leaves the head as
        initialised.
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
            # Said before the loader raises (strict) or keeps the head's
            # initialisation (strict=False), which this method cannot tell.
            print_log(
                'roi_head.mask_iou_head is not in the checkpoint (a '
                f'{self.plain_detector_name} checkpoint)',
                logger='current')
