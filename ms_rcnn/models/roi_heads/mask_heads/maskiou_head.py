"""MaskIoU head: regresses the IoU of each predicted mask with its instance."""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmdet.utils import ConfigType, InstanceList, OptMultiConfig
from mmengine.config import ConfigDict
from mmengine.model import BaseModule
from torch import Tensor
from torch.nn.modules.utils import _pair

from ms_rcnn.registry import MODELS
from ...task_modules.mask_iou_target import area_ratios, mask_iou_targets
from ...task_modules.scored_rois import ScoredRoIs


@MODELS.register_module()
class MaskIoUHead(BaseModule):
    """MaskIoU head of Mask Scoring R-CNN
    (`paper <https://arxiv.org/abs/1903.00241>`_).

    Input: RoI features concatenated with the predicted mask of one class,
    max-pooled to the feature resolution. Four 3x3 convs (the last with
    stride 2), two fcs and a per-class IoU regressor. Parameter names and
    shapes are those of mmdet's ``MaskIoUHead``, so its checkpoints load.
    It trains as the paper does: on the positive RoIs, on the mask of their
    instance's class, where the target is above 0.

    Differences from mmdet's head, each configurable:

    * targets binarise the predicted mask on probabilities, not logits
      (``thr_on_logits=True`` restores mmdet's behaviour);
    * the predicted IoU is clamped to [0, 1] at test time;
    * predictions keep the class score in ``scores`` and write
      ``score * IoU`` to ``mask_scores`` (``overwrite_scores=True`` also
      writes it to ``scores``, as mmdet does);
    * targets are computed for all RoIs at once (no per-RoI loop), from
      bitmap or polygon masks;
    * ``target_thr=t``: the target is 1 where the mask's IoU is above
      ``t`` and 0 elsewhere, the question a threshold metric asks (the
      ICDAR protocol counts a text polygon of IoU above 0.5).

    The training options that the quick-start measurements did not keep
    are ``StudyMaskIoUHead``'s, in ``projects/mask_score_study``.

    Args:
        num_convs (int): Number of 3x3 convs. Defaults to 4.
        num_fcs (int): Number of hidden fcs. Defaults to 2.
        roi_feat_size (int | tuple): RoI feature size. Defaults to 14.
        in_channels (int): Channels of the RoI features. Defaults to 256.
        conv_out_channels (int): Channels of the convs. Defaults to 256.
        fc_out_channels (int): Width of the fcs. Defaults to 1024.
        num_classes (int): Number of classes. Defaults to 80.
        loss_iou (dict): IoU loss. Defaults to ``MSELoss`` of weight 0.5.
        thr_on_logits (bool): Binarise the predicted mask for the targets by
            comparing logits with ``mask_thr_binary``. Defaults to False.
        overwrite_scores (bool): Also replace ``scores`` with the mask score
            at test time. Defaults to False.
        target_thr (float, optional): Binary targets above this IoU.
            Defaults to None (the IoU itself, the paper's).
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
                 target_thr: Optional[float] = None,
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
        self.target_thr = target_thr

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
        pooled = self.max_pool(mask_preds.sigmoid().unsqueeze(1))
        x = torch.cat((mask_feat, pooled.to(mask_feat.dtype)), 1)
        for conv in self.convs:
            x = self.relu(conv(x))
        x = x.flatten(1)
        for fc in self.fcs:
            x = self.relu(fc(x))
        return self.fc_mask_iou(x)

    def loss_and_target(self,
                        mask_iou_pred: Tensor,
                        mask_preds: Tensor,
                        mask_targets: Tensor,
                        scored: List[ScoredRoIs],
                        batch_gt_instances: InstanceList,
                        rcnn_train_cfg: ConfigDict,
                        keep_all: bool = False) -> dict:
        """MSE (``loss_iou``) of the scored RoIs' predicted IoUs against
        :meth:`get_targets`, over those whose target is above 0 (the
        paper's) or, with ``keep_all``, over all of them.

        Args:
            mask_iou_pred (Tensor): (N, ) predicted IoU of the scored class.
            mask_preds (Tensor): (N, M, M) mask logits of the scored class.
            mask_targets (Tensor): (N, M, M) binary masks of each RoI's
                instance inside the RoI.
            scored (list[ScoredRoIs]): Per image, the N RoIs.
            batch_gt_instances (list[InstanceData]): Per image, with
                ``masks`` (BitmapMasks or PolygonMasks).
            rcnn_train_cfg (ConfigDict): With ``mask_thr_binary``.
            keep_all (bool): Every RoI counts, targets of 0 included (the
                detections of :meth:`MaskScoringRoIHead.
                detection_mask_iou_loss`).

        Returns:
            dict: ``loss_mask_iou`` (Tensor, scalar).
        """
        targets = self.get_targets(scored, batch_gt_instances, mask_preds,
                                   mask_targets, rcnn_train_cfg)
        # In fp32 under AMP: the squared error of small IoU differences
        # underflows in fp16.
        mask_iou_pred = mask_iou_pred.float()
        if not keep_all:
            keep = targets > 0
            mask_iou_pred, targets = mask_iou_pred[keep], targets[keep]
        if self.target_thr is not None:
            targets = (targets > self.target_thr).to(targets.dtype)
        if len(targets) == 0:
            return dict(loss_mask_iou=self.zero_loss(mask_iou_pred))
        return dict(loss_mask_iou=self.loss_iou(mask_iou_pred, targets))

    def zero_loss(self, *inputs: Tensor) -> Tensor:
        """A loss of 0 whose graph reaches every parameter of the head and
        ``inputs``: DDP waits for a gradient of each parameter, so a step
        without a target must still give every one of them (a 0)."""
        return sum(t.sum() for t in (*self.parameters(), *inputs)) * 0

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
        """(n, ) mask scores ``scores * clamp(ious, 0, 1)`` of (n, ) class
        scores and predicted IoUs."""
        return scores * ious.clamp(0, 1)
