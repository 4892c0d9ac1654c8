"""The MaskIoU head with the study's training and scoring options."""
from typing import List, Optional, Tuple

import torch
from mmdet.utils import InstanceList
from mmengine.config import ConfigDict
from torch import Tensor

from ms_rcnn.models import MaskIoUHead
from ms_rcnn.models.task_modules.scored_rois import ScoredRoIs
from ms_rcnn.registry import MODELS
from .study_rois import target_bin_weights


@MODELS.register_module()
class StudyMaskIoUHead(MaskIoUHead):
    """:class:`MaskIoUHead` that can also train on what it meets at test
    time, and score masks with other exponents.

    The paper trains on the positive RoIs (box IoU >= 0.5 with an
    instance), on the mask of the instance's class, and only where the
    target is above 0; at test time the head scores every detection, on
    the predicted class, background and shifted boxes included, none of
    which it saw. The defaults are the paper's training (that of
    :class:`MaskIoUHead`); the other values train on what the head meets
    at test time (with :class:`StudyMaskScoringRoIHead`, which reads them):

    * ``train_rois='all'``: every RoI the sampler drew. A negative RoI's
      target is the IoU of its binarised mask with the whole instance its
      box overlaps most (the same definition as for positives), 0 where it
      overlaps none; targets of 0 count in the loss;
    * ``add_detections=True``: besides the RoIs of ``train_rois``, the
      head also trains on the detections that the box head makes of the
      image's proposals at each training step, as at test time
      (``train_cfg.rcnn.mask_iou_detections``: ``score_thr``, ``nms`` and
      ``max_per_img`` as in ``test_cfg.rcnn``, whose values it takes when
      absent), each on its predicted class, in a loss of its own
      (``loss_mask_iou_det``; see
      :meth:`MaskScoringRoIHead.detection_mask_iou_loss`). The detections
      are found and their masks predicted without gradient, so this loss
      trains the head alone (as ``detach_inputs``), on the background,
      shifted, duplicate and wrong-class detections that the paper's
      training never shows it;
    * ``train_class='pred'``: score the mask of the class the box head
      predicts for the RoI, as at test time; the target is 0 where that is
      not the instance's class, and counts in the loss. (With
      ``train_rois='all'`` and ``'gt'``, RoIs that overlap no instance are
      scored on the predicted class.)
    * ``max_neg_ratio=r``: with ``'all'``, at most ``r`` negatives per
      positive of the image, a random draw among the sampled negatives,
      which bounds the extra cost of scoring negatives and their share of
      the loss;
    * ``target_bins=K``: most RoIs of ``'all'`` have targets near 0 and
      would pull every prediction towards 0. Each RoI's squared error is
      weighted by the inverse of how many RoIs of the batch have a target
      in its bin (K equal bins over [0, 1]), normalised to a mean weight of
      1: every non-empty bin weighs the same in the loss;
    * ``detach_inputs=True``: the RoI features and mask probabilities are
      detached from the graph, so ``loss_mask_iou`` trains this head alone:
      the rest of the detector gets the gradients of Mask R-CNN's losses
      only, and the backward of this loss stops at the head's inputs;
    * ``score_exponents=(a, b)``: at test time the mask score is
      ``score ** a * IoU ** b`` (the paper's: ``(1, 1)``). Only ``b / a``
      changes the ranking; ``tools/fit_mask_score.py`` of this project
      fits ``b`` with ``a = 1`` on the training set.

    Args:
        train_rois (str): ``'pos'`` or ``'all'``. Defaults to ``'pos'``.
        train_class (str): ``'gt'`` or ``'pred'``. Defaults to ``'gt'``.
        max_neg_ratio (float, optional): Negatives per positive with
            ``train_rois='all'``; None: all sampled negatives. Defaults to
            None.
        target_bins (int): Bins of the target weighting; 0 weighs every RoI
            alike. Defaults to 0.
        detach_inputs (bool): Stop the gradient of ``loss_mask_iou`` at the
            head's inputs. Defaults to False (the paper's).
        add_detections (bool): Also train on the detections of the
            proposals. Defaults to False (the paper's).
        score_exponents (tuple[float, float]): ``(a, b)`` of the mask
            score ``score ** a * IoU ** b``. Defaults to (1.0, 1.0).
        **kwargs: Arguments of :class:`MaskIoUHead`.
    """

    def __init__(self,
                 train_rois: str = 'pos',
                 train_class: str = 'gt',
                 max_neg_ratio: Optional[float] = None,
                 target_bins: int = 0,
                 detach_inputs: bool = False,
                 add_detections: bool = False,
                 score_exponents: Tuple[float, float] = (1.0, 1.0),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        name = type(self).__name__
        options = (('train_rois', train_rois, ('pos', 'all')),
                   ('train_class', train_class, ('gt', 'pred')))
        for option, value, allowed in options:
            if value not in allowed:
                raise ValueError(f'{name}: {option} must be one of '
                                 f'{allowed}, got {value!r}')
        if target_bins < 0:
            raise ValueError(f'{name}: target_bins must be >= 0, got '
                             f'{target_bins}')
        if max_neg_ratio is not None and not max_neg_ratio >= 0:
            raise ValueError(f'{name}: max_neg_ratio must be >= 0 or '
                             f'None, got {max_neg_ratio!r}')
        if not isinstance(score_exponents, (list, tuple)) or len(
                score_exponents) != 2 or not all(
                    isinstance(e, (int, float)) and e >= 0
                    for e in score_exponents):
            raise ValueError(f'{name}: score_exponents must be two '
                             f'numbers >= 0, got {score_exponents!r}')
        self.train_rois = train_rois
        self.train_class = train_class
        self.max_neg_ratio = max_neg_ratio
        self.target_bins = target_bins
        self.detach_inputs = detach_inputs
        self.add_detections = add_detections
        self.score_exponents = tuple(float(e) for e in score_exponents)

    def forward(self, mask_feat: Tensor, mask_preds: Tensor) -> Tensor:
        """:meth:`MaskIoUHead.forward`, on detached inputs with
        ``detach_inputs``.

        Args:
            mask_feat (Tensor): (N, C, S, S) RoI features, S = 14.
            mask_preds (Tensor): (N, 2S, 2S) mask logits of one class each.

        Returns:
            Tensor: (N, num_classes) predicted IoUs (not clamped).
        """
        if self.detach_inputs:
            mask_feat, mask_preds = mask_feat.detach(), mask_preds.detach()
        return super().forward(mask_feat, mask_preds)

    @property
    def needs_pred_labels(self) -> bool:
        """Whether training needs the box head's predicted class of each
        sampled RoI (``SamplingResult.pred_labels``)."""
        return self.train_class == 'pred' or self.train_rois == 'all'

    def loss_and_target(self,
                        mask_iou_pred: Tensor,
                        mask_preds: Tensor,
                        mask_targets: Tensor,
                        scored: List[ScoredRoIs],
                        batch_gt_instances: InstanceList,
                        rcnn_train_cfg: ConfigDict,
                        keep_all: bool = False) -> dict:
        """Loss of the scored RoIs (see the class docstring).

        Args:
            mask_iou_pred (Tensor): (N, ) predicted IoU of the scored class.
            mask_preds (Tensor): (N, M, M) mask logits of the scored class.
            mask_targets (Tensor): (N, M, M) binary masks of each RoI's
                instance inside the RoI.
            scored (list[ScoredRoIs]): Per image, the N RoIs.
            batch_gt_instances (list[InstanceData]): Per image, with
                ``masks`` (BitmapMasks or PolygonMasks).
            rcnn_train_cfg (ConfigDict): With ``mask_thr_binary``.
            keep_all (bool): Every RoI counts, targets of 0 included
                (detections), whatever ``train_rois`` says.

        Returns:
            dict: ``loss_mask_iou`` (Tensor, scalar).
        """
        targets = self.get_targets(scored, batch_gt_instances, mask_preds,
                                   mask_targets, rcnn_train_cfg)
        # In fp32 under AMP: the squared error of small IoU differences
        # underflows in fp16.
        mask_iou_pred = mask_iou_pred.float()
        if self.train_rois == 'pos' and not keep_all:
            # The paper's: positives whose target is above 0. Those of a
            # wrong predicted class ('pred') stay, with their target 0.
            matches = torch.cat([rois.matches for rois in scored])
            keep = (targets > 0) | ~matches
            mask_iou_pred, targets = mask_iou_pred[keep], targets[keep]
        if self.target_thr is not None:
            targets = (targets > self.target_thr).to(targets.dtype)
        if len(targets) == 0:
            return dict(loss_mask_iou=self.zero_loss(mask_iou_pred))
        weight = target_bin_weights(
            targets, self.target_bins) if self.target_bins else None
        return dict(
            loss_mask_iou=self.loss_iou(mask_iou_pred, targets, weight=weight))

    def mask_scores(self, scores: Tensor, ious: Tensor) -> Tensor:
        """(n, ) mask scores ``scores ** a * clamp(ious, 0, 1) ** b`` of
        (n, ) class scores and predicted IoUs (``score_exponents``)."""
        a, b = self.score_exponents
        return scores.pow(a) * ious.clamp(0, 1).pow(b)
