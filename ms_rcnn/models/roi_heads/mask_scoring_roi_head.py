"""RoI head of Mask Scoring R-CNN: Mask R-CNN's heads plus a MaskIoU head."""
from typing import List, Tuple

import torch
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.utils import empty_instances, unpack_gt_instances
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import ConfigType, InstanceList
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from ms_rcnn.registry import MODELS
from ..task_modules.scored_rois import (detection_rois, instance_mask_targets,
                                        scored_rois)
from .maskness_roi_head import MasknessRoIHead, select_class


def empty_scored_results(batch_img_metas: List[dict], device,
                         results_list: InstanceList,
                         mask_thr_binary: float) -> InstanceList:
    """mmdet's empty mask results, with empty ``mask_scores`` (0, )."""
    results_list = empty_instances(
        batch_img_metas,
        device,
        task_type='mask',
        instance_results=results_list,
        mask_thr_binary=mask_thr_binary)
    for results in results_list:
        results.mask_scores = results.scores.new_zeros((0, ))
    return results_list


@MODELS.register_module()
class MaskScoringRoIHead(MasknessRoIHead):
    """Mask R-CNN's RoI head with a MaskIoU head scoring each mask.

    Training adds ``loss_mask_iou`` on the positive RoIs; prediction adds
    ``mask_scores`` to every result (see :class:`MaskIoUHead`), beside
    ``maskness`` and, with ``test_cfg.mask2polygon``, ``polygons`` (see
    :class:`MasknessRoIHead`).

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

    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: SampleList) -> dict:
        """mmdet's RoI losses and ``loss_mask_iou``; with
        ``mask_iou_head.add_detections``, also ``loss_mask_iou_det``, that
        of the detections of the proposals
        (:meth:`detection_mask_iou_loss`)."""
        losses = super().loss(x, rpn_results_list, batch_data_samples)
        if self.mask_iou_head.add_detections:
            # mmdet's loss renamed each result's proposals to `priors`.
            proposals = [
                InstanceData(bboxes=res.priors) for res in rpn_results_list
            ]
            losses['loss_mask_iou_det'] = self.detection_mask_iou_loss(
                x, proposals, batch_data_samples)
        return losses

    def positive_mask_iou_loss(self, x: Tuple[Tensor],
                               rpn_results_list: InstanceList,
                               batch_data_samples: SampleList) -> Tensor:
        """MaskIoU loss of the positive RoIs alone, as the paper trains it,
        with everything before the MaskIoU head fixed: the proposals are
        assigned and sampled as in :meth:`loss`, and their masks predicted,
        without gradient (a trained, frozen detector).

        Args:
            x (tuple[Tensor]): Multi-level features, each (B, C, H, W).
            rpn_results_list (list[InstanceData]): Per image, the training
                proposals, ``bboxes`` (n, 4).
            batch_data_samples (list[DetDataSample]): With
                ``gt_instances``.

        Returns:
            Tensor: ``loss_mask_iou``, a scalar.
        """
        batch_gt_instances, batch_gt_instances_ignore, _ = \
            unpack_gt_instances(batch_data_samples)
        with torch.no_grad():
            sampling_results = []
            for i, proposals in enumerate(rpn_results_list):
                proposals = InstanceData(priors=proposals.bboxes)
                assign_result = self.bbox_assigner.assign(
                    proposals, batch_gt_instances[i],
                    batch_gt_instances_ignore[i])
                sampling_results.append(
                    self.bbox_sampler.sample(
                        assign_result,
                        proposals,
                        batch_gt_instances[i],
                        feats=[level[i][None] for level in x]))
            mask_results = self._mask_forward(
                x, bbox2roi([res.pos_priors for res in sampling_results]))
            mask_targets = self.mask_head.get_targets(
                sampling_results, batch_gt_instances, self.train_cfg)
        scored = [
            scored_rois(res, gt, 'pos', 'gt')
            for res, gt in zip(sampling_results, batch_gt_instances)
        ]
        labels = torch.cat([rois.labels for rois in scored])
        mask_preds = select_class(mask_results['mask_preds'], labels)
        mask_iou_preds = self.mask_iou_head(mask_results['mask_feats'],
                                            mask_preds)
        return self.mask_iou_head.loss_and_target(
            select_class(mask_iou_preds, labels), mask_preds, mask_targets,
            scored, batch_gt_instances, self.train_cfg)['loss_mask_iou']

    def detection_mask_iou_loss(self, x: Tuple[Tensor],
                                proposals: InstanceList,
                                batch_data_samples: SampleList) -> Tensor:
        """MaskIoU loss of the detections that the box head makes of
        ``proposals`` under ``train_cfg.mask_iou_detections`` (each key
        missing there taken from ``test_cfg``), in the input image's frame;
        found and masked without gradient (see :class:`MaskIoUHead`,
        ``add_detections``).

        Args:
            x (tuple[Tensor]): Multi-level features, each (B, C, H, W).
            proposals (list[InstanceData]): Per image, ``bboxes`` (n, 4).
            batch_data_samples (list[DetDataSample]): With
                ``gt_instances``.

        Returns:
            Tensor: the loss, a scalar.
        """
        if self.test_cfg is None and not self.train_cfg.get(
                'mask_iou_detections'):
            raise ValueError(
                'MaskIoUHead(add_detections=True) finds the detections with '
                'train_cfg.rcnn.mask_iou_detections and, for the keys it '
                'lacks, test_cfg.rcnn; the model has neither')
        det_cfg = ConfigDict({
            **(self.test_cfg or {}),
            **self.train_cfg.get('mask_iou_detections', {})
        })
        batch_img_metas = [s.metainfo for s in batch_data_samples]
        batch_gt_instances = [s.gt_instances for s in batch_data_samples]
        with torch.no_grad():
            dets = self.predict_bbox(
                x, batch_img_metas, proposals, det_cfg, rescale=False)
            rois = bbox2roi([d.bboxes for d in dets])
            if len(rois):
                mask_results = self._mask_forward(x, rois)
        if len(rois) == 0:
            # No detection: a zero that keeps DDP's graph complete.
            return sum(p.sum() * 0 for p in self.mask_iou_head.parameters())
        scored = [
            detection_rois(d, gt) for d, gt in zip(dets, batch_gt_instances)
        ]
        labels = torch.cat([d.labels for d in dets])
        mask_preds = select_class(mask_results['mask_preds'], labels)
        mask_iou_preds = self.mask_iou_head(mask_results['mask_feats'],
                                            mask_preds)
        mask_targets = instance_mask_targets(scored, batch_gt_instances,
                                             self.train_cfg)
        return self.mask_iou_head.loss_and_target(
            select_class(mask_iou_preds, labels),
            mask_preds,
            mask_targets,
            scored,
            batch_gt_instances,
            self.train_cfg,
            keep_all=True)['loss_mask_iou']

    def bbox_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        """mmdet's box loss; also gives each sampling result ``pred_labels``
        (n, ): the box head's most likely foreground class of each sampled
        RoI, which the MaskIoU head may score as at test time."""
        bbox_results = super().bbox_loss(x, sampling_results)
        if self.mask_iou_head.needs_pred_labels:
            # Background is the last column of mmdet's softmax classifier.
            labels = bbox_results['cls_score'][:, :self.bbox_head.
                                               num_classes].argmax(1)
            for res, res_labels in zip(
                    sampling_results,
                    labels.split([len(res.priors)
                                  for res in sampling_results])):
                res.pred_labels = res_labels
        return bbox_results

    def mask_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult], bbox_feats: Tensor,
                  batch_gt_instances: InstanceList) -> dict:
        """Mask loss of the positive RoIs and MaskIoU loss of the RoIs that
        the MaskIoU head trains on (``mask_iou_head.train_rois``).

        Args:
            x (tuple[Tensor]): Multi-level features, each (B, C, H, W).
            sampling_results (list[SamplingResult]): Per image.
            bbox_feats (Tensor): (n, C, 7, 7) RoI features of the box head,
                used when the mask head shares its RoI extractor.
            batch_gt_instances (list[InstanceData]): Per image, with
                ``bboxes``, ``labels`` and ``masks``.

        Returns:
            dict: ``mask_preds`` (N, C, 28, 28), ``mask_feats``
            (N, 256, 14, 14) of the scored RoIs (positives first in each
            image) and ``loss_mask`` with ``loss_mask`` and
            ``loss_mask_iou``.
        """
        iou_head = self.mask_iou_head
        scored = [
            scored_rois(
                res, gt, iou_head.train_rois, iou_head.train_class,
                res.pred_labels if iou_head.needs_pred_labels else None,
                iou_head.max_neg_ratio)
            for res, gt in zip(sampling_results, batch_gt_instances)
        ]
        is_pos = torch.cat([rois.is_pos for rois in scored])
        if self.share_roi_extractor:
            # The box head's features of the scored RoIs, which are in
            # sampling order (positives first) in each image.
            in_box_order = torch.cat([
                is_pos.new_zeros(len(res.priors)).index_fill_(
                    0, rois.inds, True)
                for res, rois in zip(sampling_results, scored)
            ])
            mask_results = self._mask_forward(
                x, pos_inds=in_box_order, bbox_feats=bbox_feats)
        else:
            mask_results = self._mask_forward(
                x, bbox2roi([rois.boxes for rois in scored]))
        mask_preds = mask_results['mask_preds']

        mask_out = self.mask_head.loss_and_target(
            mask_preds=mask_preds[is_pos],
            sampling_results=sampling_results,
            batch_gt_instances=batch_gt_instances,
            rcnn_train_cfg=self.train_cfg)

        if iou_head.train_rois == 'pos':
            # The mask head's targets are those of the positives.
            mask_targets = mask_out['mask_targets']
        else:
            mask_targets = instance_mask_targets(scored, batch_gt_instances,
                                                 self.train_cfg)
        labels = torch.cat([rois.labels for rois in scored])
        scored_mask_preds = select_class(mask_preds, labels)
        mask_iou_preds = iou_head(mask_results['mask_feats'],
                                  scored_mask_preds)
        loss_mask_iou = iou_head.loss_and_target(
            select_class(mask_iou_preds, labels), scored_mask_preds,
            mask_targets, scored, batch_gt_instances, self.train_cfg)

        mask_results.update(loss_mask=mask_out['loss_mask'])
        mask_results['loss_mask'].update(loss_mask_iou)
        return mask_results

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
