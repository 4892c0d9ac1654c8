"""MaskIoU head: regresses the IoU of each predicted mask with its instance."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmdet.utils import ConfigType, InstanceList, OptMultiConfig
from mmengine.config import ConfigDict
from mmengine.model import BaseModule
from torch import Tensor
from torch.nn.modules.utils import _pair

from ms_rcnn.registry import MODELS
from ...task_modules.mask_iou_target import area_ratios, mask_iou_targets
from ...task_modules.scored_rois import ScoredRoIs, target_bin_weights


@MODELS.register_module()
class MaskIoUHead(BaseModule):
    """MaskIoU head of Mask Scoring R-CNN
    (`paper <https://arxiv.org/abs/1903.00241>`_).

    Input: RoI features concatenated with the predicted mask of one class,
    max-pooled to the feature resolution. Four 3x3 convs (the last with
    stride 2), two fcs and a per-class IoU regressor. Parameter names and
    shapes are those of mmdet's ``MaskIoUHead``, so its checkpoints load.

    Differences from mmdet's head, each configurable:

    * targets binarise the predicted mask on probabilities, not logits
      (``thr_on_logits=True`` restores mmdet's behaviour);
    * the predicted IoU is clamped to [0, 1] at test time;
    * predictions keep the class score in ``scores`` and write
      ``score * IoU`` to ``mask_scores`` (``overwrite_scores=True`` also
      writes it to ``scores``, as mmdet does);
    * targets are computed for all RoIs at once (no per-RoI loop);
    * what it trains on can match what it scores at test time (below).

    Training options. The paper trains on the positive RoIs (box IoU >= 0.5
    with an instance), on the mask of the instance's class, and only where
    the target is above 0; at test time the head scores every detection,
    on the predicted class, background and shifted boxes included, none of
    which it saw. ``train_rois='pos', train_class='gt', target_bins=0`` is
    the paper's (and mmdet's) training; the other values train on what the
    head meets at test time:

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
      (``loss_mask_iou_det``). A detection's target is the IoU of its
      binarised mask with the whole instance of its class that its box
      overlaps most, 0 where none does; targets of 0 count in the loss. The
      detections are found and their masks predicted without gradient, so
      this loss trains the head alone (as ``detach_inputs``), on the
      background, shifted, duplicate and wrong-class detections that the
      paper's training never shows it;
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
    * ``target_thr=t``: the target is 1 where the mask's IoU is above
      ``t`` and 0 elsewhere, the question a threshold metric asks (the
      ICDAR protocol counts a text polygon of IoU above 0.5): the head
      then predicts how likely the mask is to count;
    * ``score_exponents=(a, b)``: at test time the mask score is
      ``score ** a * IoU ** b`` (the paper's: ``(1, 1)``). Only ``b / a``
      changes the ranking; ``tools/analysis_tools/fit_mask_score.py`` fits
      ``b`` with ``a = 1`` on the training set;
    * ``detach_inputs=True``: the RoI features and mask probabilities are
      detached from the graph, so ``loss_mask_iou`` trains this head alone:
      the rest of the detector gets the gradients of Mask R-CNN's losses
      only, and the backward of this loss stops at the head's inputs. Off
      by default: on the quick start (seeds 0-2, README "Detached MaskIoU
      inputs") it did not bring box AP to the Mask R-CNN twin's on any
      seed when it was built (0.200 / 0.214 / 0.204 against 0.231 / 0.228
      / 0.208), nor on two seeds of three with the current recipe, and its
      mask AP was below the paper's training on two seeds of three, then
      on one.

    Args:
        num_convs (int): Number of 3x3 convs. Defaults to 4.
        num_fcs (int): Number of hidden fcs. Defaults to 2.
        roi_feat_size (int | tuple): RoI feature size. Defaults to 14.
        in_channels (int): Channels of the RoI features. Defaults to 256.
        conv_out_channels (int): Channels of the convs. Defaults to 256.
        fc_out_channels (int): Width of the fcs. Defaults to 1024.
        num_classes (int): Number of classes. Defaults to 80.
        loss_iou (dict): IoU loss (an ``MSELoss`` or another loss taking
            ``weight``).
        thr_on_logits (bool): Binarise the predicted mask for the targets by
            comparing logits with ``mask_thr_binary``. Defaults to False.
        overwrite_scores (bool): Also replace ``scores`` with the mask score
            at test time. Defaults to False.
        train_rois (str): ``'pos'`` or ``'all'``. Defaults to ``'pos'``.
        train_class (str): ``'gt'`` or ``'pred'``. Defaults to ``'gt'``.
        max_neg_ratio (float, optional): Negatives per positive with
            ``train_rois='all'``; None: all sampled negatives. Defaults to
            None.
        target_bins (int): Bins of the target weighting; 0 weighs every RoI
            alike. Defaults to 0.
        target_thr (float, optional): Binary targets above this IoU.
            Defaults to None (the IoU itself, the paper's).
        detach_inputs (bool): Stop the gradient of ``loss_mask_iou`` at the
            head's inputs. Defaults to False (the paper's).
        add_detections (bool): Also train on the detections of the
            proposals. Defaults to False (the paper's).
        score_exponents (tuple[float, float]): ``(a, b)`` of the mask
            score ``score ** a * IoU ** b``. Defaults to (1.0, 1.0).
        init_cfg (dict | list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 num_convs: int = 4,
                 num_fcs: int = 2,
                 roi_feat_size: int = 14,
                 in_channels: int = 256,
                 conv_out_channels: int = 256,
                 fc_out_channels: int = 1024,
                 num_classes: int = 80,
                 loss_iou: ConfigType = dict(type='MSELoss', loss_weight=0.5),
                 thr_on_logits: bool = False,
                 overwrite_scores: bool = False,
                 train_rois: str = 'pos',
                 train_class: str = 'gt',
                 max_neg_ratio: Optional[float] = None,
                 target_bins: int = 0,
                 target_thr: Optional[float] = None,
                 detach_inputs: bool = False,
                 add_detections: bool = False,
                 score_exponents: Tuple[float, float] = (1.0, 1.0),
                 init_cfg: OptMultiConfig = [
                     dict(type='Kaiming', override=dict(name='convs')),
                     dict(type='Caffe2Xavier', override=dict(name='fcs')),
                     dict(
                         type='Normal',
                         std=0.01,
                         override=dict(name='fc_mask_iou'))
                 ]) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_classes = num_classes
        self.thr_on_logits = thr_on_logits
        self.overwrite_scores = overwrite_scores
        options = (('train_rois', train_rois, ('pos', 'all')),
                   ('train_class', train_class, ('gt', 'pred')))
        for name, value, allowed in options:
            if value not in allowed:
                raise ValueError(f'MaskIoUHead: {name} must be one of '
                                 f'{allowed}, got {value!r}')
        if target_bins < 0:
            raise ValueError('MaskIoUHead: target_bins must be >= 0, got '
                             f'{target_bins}')
        if max_neg_ratio is not None and not max_neg_ratio >= 0:
            raise ValueError('MaskIoUHead: max_neg_ratio must be >= 0 or '
                             f'None, got {max_neg_ratio!r}')
        self.train_rois = train_rois
        self.train_class = train_class
        self.max_neg_ratio = max_neg_ratio
        self.target_bins = target_bins
        self.target_thr = target_thr
        self.detach_inputs = detach_inputs
        self.add_detections = add_detections
        if not isinstance(score_exponents, (list, tuple)) or len(
                score_exponents) != 2 or not all(
                    isinstance(e, (int, float)) and e >= 0
                    for e in score_exponents):
            raise ValueError('MaskIoUHead: score_exponents must be two '
                             f'numbers >= 0, got {score_exponents!r}')
        self.score_exponents = tuple(float(e) for e in score_exponents)

        # +1 input channel: the pooled predicted mask.
        channels = [in_channels + 1] + [conv_out_channels] * num_convs
        self.convs = nn.ModuleList(
            nn.Conv2d(
                channels[i],
                channels[i + 1],
                3,
                stride=2 if i == num_convs - 1 else 1,
                padding=1) for i in range(num_convs))
        feat_h, feat_w = _pair(roi_feat_size)
        widths = [conv_out_channels * (feat_h // 2) * (feat_w // 2)
                  ] + [fc_out_channels] * num_fcs
        self.fcs = nn.ModuleList(
            nn.Linear(widths[i], widths[i + 1]) for i in range(num_fcs))
        self.fc_mask_iou = nn.Linear(widths[-1], num_classes)
        self.relu = nn.ReLU(inplace=True)
        self.max_pool = nn.MaxPool2d(2, 2)
        self.loss_iou = MODELS.build(loss_iou)

    def forward(self, mask_feat: Tensor, mask_preds: Tensor) -> Tensor:
        """Predict the mask IoU of every class.

        Args:
            mask_feat (Tensor): (N, C, S, S) RoI features, S = 14.
            mask_preds (Tensor): (N, 2S, 2S) mask logits of one class each.

        Returns:
            Tensor: (N, num_classes) predicted IoUs (not clamped).
        """
        if self.detach_inputs:
            mask_feat, mask_preds = mask_feat.detach(), mask_preds.detach()
        pooled = self.max_pool(mask_preds.sigmoid().unsqueeze(1))
        x = torch.cat((mask_feat, pooled.to(mask_feat.dtype)), 1)
        for conv in self.convs:
            x = self.relu(conv(x))
        x = x.flatten(1)
        for fc in self.fcs:
            x = self.relu(fc(x))
        return self.fc_mask_iou(x)

    @property
    def needs_pred_labels(self) -> bool:
        """Whether training needs the box head's predicted class of each
        sampled RoI (``SamplingResult.pred_labels``)."""
        return self.train_class == 'pred' or self.train_rois == 'all'

    def loss_and_target(self, mask_iou_pred: Tensor, mask_preds: Tensor,
                        mask_targets: Tensor, scored: List[ScoredRoIs],
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
            # Keeps the graph connected so that DDP sees every parameter.
            return dict(loss_mask_iou=mask_iou_pred.sum() * 0)
        weight = target_bin_weights(
            targets, self.target_bins) if self.target_bins else None
        return dict(
            loss_mask_iou=self.loss_iou(mask_iou_pred, targets, weight=weight))

    def get_targets(self, scored: List[ScoredRoIs],
                    batch_gt_instances: InstanceList, mask_preds: Tensor,
                    mask_targets: Tensor,
                    rcnn_train_cfg: ConfigDict) -> Tensor:
        """IoU of each scored RoI's binarised mask with its whole instance;
        0 where it has none or the scored class is not the instance's.

        Args:
            scored (list[ScoredRoIs]): Per image, the N RoIs.
            batch_gt_instances (list[InstanceData]): Per image, with
                ``masks``.
            mask_preds (Tensor): (N, M, M) mask logits of the scored class.
            mask_targets (Tensor): (N, M, M) binary masks of each RoI's
                instance inside the RoI.
            rcnn_train_cfg (ConfigDict): With ``mask_thr_binary``.

        Returns:
            Tensor: (N, ) float32 targets in [0, 1].
        """
        ratios = [
            area_ratios(rois.boxes, rois.gt_inds.clamp(min=0), gt.masks)
            if len(gt) else rois.boxes.new_zeros(len(rois.boxes))
            for rois, gt in zip(scored, batch_gt_instances)
        ]
        ratios = torch.cat(ratios) if ratios else mask_preds.new_zeros(0)
        assert ratios.numel() == mask_targets.size(0), \
            'one area ratio per scored RoI'
        ious = mask_iou_targets(mask_preds, mask_targets,
                                ratios.to(mask_preds.device),
                                rcnn_train_cfg.mask_thr_binary,
                                self.thr_on_logits)
        matches = torch.cat([rois.matches for rois in scored]) if scored \
            else ious.new_zeros(0, dtype=bool)
        return torch.where(matches, ious, ious.new_zeros(()))

    def predict_by_feat(self, mask_iou_preds: Sequence[Tensor],
                        results_list: InstanceList) -> InstanceList:
        """Add ``mask_scores`` (:meth:`mask_scores` of the class score and
        the predicted IoU of the detection's class) to each result.

        Args:
            mask_iou_preds (Sequence[Tensor]): Per image, (n, num_classes).
            results_list (list[InstanceData]): Per image, with ``scores``
                and ``labels`` (n, ).

        Returns:
            list[InstanceData]: The same objects, with ``mask_scores`` (n, )
            and, if ``overwrite_scores``, ``scores`` replaced by it.
        """
        assert len(mask_iou_preds) == len(results_list)
        for results, ious in zip(results_list, mask_iou_preds):
            labels = results.labels
            iou = ious[torch.arange(len(labels), device=labels.device),
                       labels]
            results.mask_scores = self.mask_scores(results.scores,
                                                   iou.to(results.scores))
            if self.overwrite_scores:
                results.scores = results.mask_scores
        return results_list

    def mask_scores(self, scores: Tensor, ious: Tensor) -> Tensor:
        """(n, ) mask scores ``scores ** a * clamp(ious, 0, 1) ** b`` of
        (n, ) class scores and predicted IoUs (``score_exponents``)."""
        a, b = self.score_exponents
        return scores.pow(a) * ious.clamp(0, 1).pow(b)
