"""RoI head of Mask Scoring R-CNN: Mask R-CNN's heads plus a MaskIoU head."""
from typing import List, Tuple

import torch
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import ConfigType, InstanceList
from mmengine.config import ConfigDict
from torch import Tensor

from ms_rcnn.registry import MODELS
from ..task_modules.scored_rois import (ScoredRoIs, detection_rois,
                                        instance_mask_targets, positive_rois)
from .maskness_roi_head import MasknessRoIHead, select_class

# What mmdet's box head reads of the settings that find the detections.
DETECTION_KEYS = ('score_thr', 'nms', 'max_per_img')


@MODELS.register_module()
class MaskScoringRoIHead(MasknessRoIHead):
    """Mask R-CNN's RoI head with a MaskIoU head scoring each mask.

    Training adds ``loss_mask_iou`` on the positive RoIs; prediction adds
    ``mask_scores`` to every result (see :class:`MaskIoUHead`), beside
    ``maskness`` and, with ``test_cfg.mask2polygon``, ``polygons`` (see
    :class:`MasknessRoIHead`). :meth:`detection_mask_iou_loss` trains the
    MaskIoU head alone on a frozen detector
    (``MaskScoringRCNN(frozen_detector=True)``).

    Args:
        mask_iou_head (dict): Config of the MaskIoU head.
        **kwargs: Arguments of :class:`mmdet.models.StandardRoIHead`.
    """

    def __init__(self, mask_iou_head: ConfigType, **kwargs) -> None:
        super().__init__(**kwargs)
        assert self.with_mask, 'Mask Scoring R-CNN needs a mask head'
        self.mask_iou_head = MODELS.build(mask_iou_head)

    def forward(self,
                x: Tuple[Tensor],
                rpn_results_list: InstanceList,
                batch_data_samples: SampleList = None) -> tuple:
        """Raw head outputs (for FLOPs counting and export).

        Returns:
            tuple: ``cls_score`` (n, C+1), ``bbox_pred`` (n, 4C),
            ``mask_preds`` (m, C, 28, 28) and ``mask_iou_preds`` (m, C),
            where m = min(n, 100) as at test time.
        """
        rois = bbox2roi([res.bboxes for res in rpn_results_list])
        bbox_results = self._bbox_forward(x, rois)
        cls_score = bbox_results['cls_score'][:100]
        mask_results = self._mask_forward(x, rois[:100])
        labels = cls_score[:, :self.bbox_head.num_classes].argmax(dim=1)
        mask_iou_preds = self.mask_iou_head(
            mask_results['mask_feats'],
            select_class(mask_results['mask_preds'], labels))
        return (bbox_results['cls_score'], bbox_results['bbox_pred'],
                mask_results['mask_preds'], mask_iou_preds)

    def scored_mask_iou_loss(self, mask_results: dict, mask_targets: Tensor,
                             scored: List[ScoredRoIs],
                             batch_gt_instances: InstanceList,
                             **kwargs) -> dict:
        """The MaskIoU head's loss of the N scored RoIs, each on the mask
        and IoU channel of its class (``scored``'s ``labels``).

        Args:
            mask_results (dict): ``_mask_forward``'s output for the scored
                RoIs: ``mask_preds`` (N, C, M, M), ``mask_feats``
                (N, F, S, S).
            mask_targets (Tensor): (N, M, M) their instances' masks.
            scored (list[ScoredRoIs]): Per image, the scored RoIs.
            batch_gt_instances (list[InstanceData]): Per image, with
                ``masks``.
            **kwargs: Of :meth:`MaskIoUHead.loss_and_target`.

        Returns:
            dict: ``loss_mask_iou`` (Tensor, scalar).
        """
        labels = torch.cat([rois.labels for rois in scored])
        mask_preds = select_class(mask_results['mask_preds'], labels)
        mask_iou_preds = self.mask_iou_head(mask_results['mask_feats'],
                                            mask_preds)
        return self.mask_iou_head.loss_and_target(
            select_class(mask_iou_preds, labels), mask_preds, mask_targets,
            scored, batch_gt_instances, self.train_cfg, **kwargs)

    def mask_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult], bbox_feats: Tensor,
                  batch_gt_instances: InstanceList) -> dict:
        """Mask loss and MaskIoU loss of the positive RoIs.

        Args:
            x (tuple[Tensor]): Multi-level features, each (B, C, H, W).
            sampling_results (list[SamplingResult]): Per image.
            bbox_feats (Tensor): (n, C, 7, 7) RoI features of the box head,
                used when the mask head shares its RoI extractor.
            batch_gt_instances (list[InstanceData]): Per image, with
                ``bboxes``, ``labels`` and ``masks``.

        Returns:
            dict: ``mask_preds`` (N, C, 28, 28), ``mask_feats``
            (N, 256, 14, 14) of the N positives and ``loss_mask`` with
            ``loss_mask`` and ``loss_mask_iou``.
        """
        if self.share_roi_extractor:
            # The box head's features of the positives, which come first
            # in each image's sampling.
            pos_inds = torch.cat([
                torch.arange(len(res.priors), device=bbox_feats.device) <
                len(res.pos_priors) for res in sampling_results
            ])
            mask_results = self._mask_forward(
                x, pos_inds=pos_inds, bbox_feats=bbox_feats)
        else:
            mask_results = self._mask_forward(
                x, bbox2roi([res.pos_priors for res in sampling_results]))
        mask_out = self.mask_head.loss_and_target(
            mask_preds=mask_results['mask_preds'],
            sampling_results=sampling_results,
            batch_gt_instances=batch_gt_instances,
            rcnn_train_cfg=self.train_cfg)
        scored = [
            positive_rois(res, gt)
            for res, gt in zip(sampling_results, batch_gt_instances)
        ]
        mask_results.update(loss_mask=mask_out['loss_mask'])
        mask_results['loss_mask'].update(
            self.scored_mask_iou_loss(mask_results, mask_out['mask_targets'],
                                      scored, batch_gt_instances))
        return mask_results

    def detection_mask_iou_loss(self, x: Tuple[Tensor],
                                proposals: InstanceList,
                                batch_data_samples: SampleList) -> Tensor:
        """MaskIoU loss of the detections that the box head makes of
        ``proposals`` under ``train_cfg.mask_iou_detections`` (each of
        :data:`DETECTION_KEYS` missing there taken from ``test_cfg``; its
        ``rpn`` is the detector's, for the proposals), in
        the input image's frame, each on its predicted class against the
        instance of that class that its box overlaps most
        (:func:`detection_rois`; target 0 where none does), every target
        counting; found and masked without gradient.

        Args:
            x (tuple[Tensor]): Multi-level features, each (B, C, H, W).
            proposals (list[InstanceData]): Per image, ``bboxes`` (n, 4).
            batch_data_samples (list[DetDataSample]): With
                ``gt_instances``.

        Returns:
            Tensor: the loss, a scalar.
        """
        det_cfg = ConfigDict({
            **(self.test_cfg or {}),
            **(self.train_cfg.get('mask_iou_detections') or {})
        })
        missing = [key for key in DETECTION_KEYS if key not in det_cfg]
        if missing:
            raise ValueError(
                'MaskScoringRoIHead finds the detections that the MaskIoU '
                'head learns from with train_cfg.rcnn.mask_iou_detections '
                'and, for the keys it lacks, test_cfg.rcnn; ' +
                ('the model has neither' if not det_cfg else
                 f'neither gives {", ".join(missing)}'))
        batch_img_metas = [s.metainfo for s in batch_data_samples]
        batch_gt_instances = [s.gt_instances for s in batch_data_samples]
        with torch.no_grad():
            dets = self.predict_bbox(
                x, batch_img_metas, proposals, det_cfg, rescale=False)
            rois = bbox2roi([d.bboxes for d in dets])
            if len(rois):
                mask_results = self._mask_forward(x, rois)
        if len(rois) == 0:
            return self.mask_iou_head.zero_loss()
        scored = [
            detection_rois(d, gt) for d, gt in zip(dets, batch_gt_instances)
        ]
        mask_targets = instance_mask_targets(scored, batch_gt_instances,
                                             self.train_cfg)
        return self.scored_mask_iou_loss(
            mask_results, mask_targets, scored, batch_gt_instances,
            keep_all=True)['loss_mask_iou']

    score_keys = ('maskness', 'mask_scores')

    def score_masks(self, mask_results: dict,
                    results_list: InstanceList) -> None:
        """Add ``maskness`` and ``mask_scores`` (score x predicted IoU, see
        :class:`MaskIoUHead`) to each result.

        Args:
            mask_results (dict): ``_mask_forward``'s output for the
                detections of all images: ``mask_preds`` (N, C, M, M),
                ``mask_feats`` (N, C', S, S).
            results_list (list[InstanceData]): Per image, n detections
                with ``scores`` and ``labels`` (n, ); N over the batch.
        """
        super().score_masks(mask_results, results_list)
        labels = torch.cat([res.labels for res in results_list])
        mask_iou_preds = self.mask_iou_head(
            mask_results['mask_feats'],
            select_class(mask_results['mask_preds'], labels))
        self.mask_iou_head.predict_by_feat(
            mask_iou_preds=mask_iou_preds.split(
                [len(res) for res in results_list], 0),
            results_list=results_list)
