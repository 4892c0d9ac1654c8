"""MaskIoU head: regresses the IoU of each predicted mask with its instance."""
from typing import List, Sequence

import torch
import torch.nn as nn
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.utils import ConfigType, InstanceList, OptMultiConfig
from mmengine.config import ConfigDict
from mmengine.model import BaseModule
from torch import Tensor
from torch.nn.modules.utils import _pair

from ms_rcnn.registry import MODELS
from ...task_modules.mask_iou_target import area_ratios, mask_iou_targets


@MODELS.register_module()
class MaskIoUHead(BaseModule):
    """MaskIoU head of `Mask Scoring R-CNN <https://arxiv.org/abs/1903.00241>`_.

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
    * targets are computed batched on the inputs' device.

    Args:
        num_convs (int): Number of 3x3 convs. Defaults to 4.
        num_fcs (int): Number of hidden fcs. Defaults to 2.
        roi_feat_size (int | tuple): RoI feature size. Defaults to 14.
        in_channels (int): Channels of the RoI features. Defaults to 256.
        conv_out_channels (int): Channels of the convs. Defaults to 256.
        fc_out_channels (int): Width of the fcs. Defaults to 1024.
        num_classes (int): Number of classes. Defaults to 80.
        loss_iou (dict): IoU loss, applied to positives with target > 0.
        thr_on_logits (bool): Binarise the predicted mask for the targets by
            comparing logits with ``mask_thr_binary``. Defaults to False.
        overwrite_scores (bool): Also replace ``scores`` with the mask score
            at test time. Defaults to False.
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

    def loss_and_target(self, mask_iou_pred: Tensor, mask_preds: Tensor,
                        mask_targets: Tensor,
                        sampling_results: List[SamplingResult],
                        batch_gt_instances: InstanceList,
                        rcnn_train_cfg: ConfigDict) -> dict:
        """Loss on the positive RoIs whose target is above 0.

        Args:
            mask_iou_pred (Tensor): (N, ) predicted IoU of the GT class.
            mask_preds (Tensor): (N, M, M) mask logits of the GT class.
            mask_targets (Tensor): (N, M, M) binary GT masks in each RoI.
            sampling_results (list[SamplingResult]): Per image.
            batch_gt_instances (list[InstanceData]): Per image, with
                ``masks`` (BitmapMasks or PolygonMasks).
            rcnn_train_cfg (ConfigDict): With ``mask_thr_binary``.

        Returns:
            dict: ``loss_mask_iou`` (Tensor, scalar).
        """
        targets = self.get_targets(sampling_results, batch_gt_instances,
                                   mask_preds, mask_targets, rcnn_train_cfg)
        # In fp32 under AMP: the squared error of small IoU differences
        # underflows in fp16.
        mask_iou_pred = mask_iou_pred.float()
        pos = targets > 0
        if pos.any():
            loss = self.loss_iou(mask_iou_pred[pos], targets[pos])
        else:
            # Keeps the graph connected so that DDP sees every parameter.
            loss = mask_iou_pred.sum() * 0
        return dict(loss_mask_iou=loss)

    def get_targets(self, sampling_results: List[SamplingResult],
                    batch_gt_instances: InstanceList, mask_preds: Tensor,
                    mask_targets: Tensor,
                    rcnn_train_cfg: ConfigDict) -> Tensor:
        """IoU of each positive's binarised mask with its whole instance.

        Args:
            sampling_results (list[SamplingResult]): Per image.
            batch_gt_instances (list[InstanceData]): Per image, with
                ``masks``.
            mask_preds (Tensor): (N, M, M) mask logits of the GT class.
            mask_targets (Tensor): (N, M, M) binary GT masks in each RoI.
            rcnn_train_cfg (ConfigDict): With ``mask_thr_binary``.

        Returns:
            Tensor: (N, ) float32 targets in [0, 1].
        """
        ratios = [
            area_ratios(res.pos_priors, res.pos_assigned_gt_inds, gt.masks)
            for res, gt in zip(sampling_results, batch_gt_instances)
        ]
        ratios = torch.cat(ratios) if ratios else mask_preds.new_zeros(0)
        assert ratios.numel() == mask_targets.size(0), \
            'one area ratio per positive RoI'
        return mask_iou_targets(mask_preds, mask_targets,
                                ratios.to(mask_preds.device),
                                rcnn_train_cfg.mask_thr_binary,
                                self.thr_on_logits)

    def predict_by_feat(self, mask_iou_preds: Sequence[Tensor],
                        results_list: InstanceList) -> InstanceList:
        """Add ``mask_scores`` (= score * clamped IoU) to each result.

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
                       labels].clamp(0, 1)
            results.mask_scores = results.scores * iou.to(results.scores)
            if self.overwrite_scores:
                results.scores = results.mask_scores
        return results_list
