"""The RoI head that trains the study's MaskIoU head on what it names."""
from typing import List, Tuple

import torch
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList
from mmengine.structures import InstanceData
from torch import Tensor

from ms_rcnn.models import MaskScoringRoIHead
from ms_rcnn.models.task_modules.scored_rois import (instance_mask_targets,
                                                     positive_rois)
from ms_rcnn.registry import MODELS
from .study_maskiou_head import StudyMaskIoUHead
from .study_rois import scored_rois


@MODELS.register_module()
class StudyMaskScoringRoIHead(MaskScoringRoIHead):
    """:class:`MaskScoringRoIHead` whose :class:`StudyMaskIoUHead` trains
    on the RoIs and classes that its options name (``train_rois``,
    ``train_class``, ``max_neg_ratio``), and with ``add_detections`` also
    on the detections of the proposals (``loss_mask_iou_det``).

    Args:
        **kwargs: Arguments of :class:`MaskScoringRoIHead`; its
            ``mask_iou_head`` must be a :class:`StudyMaskIoUHead`.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(self.mask_iou_head, StudyMaskIoUHead):
            raise TypeError(
                'StudyMaskScoringRoIHead reads the options of a '
                'StudyMaskIoUHead, got a '
                f'{type(self.mask_iou_head).__name__}')

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

        mask_out = self.mask_head.loss_and_target(
            mask_preds=mask_results['mask_preds'][is_pos],
            sampling_results=sampling_results,
            batch_gt_instances=batch_gt_instances,
            rcnn_train_cfg=self.train_cfg)
        if iou_head.train_rois == 'pos':
            # The mask head's targets are those of the positives.
            mask_targets = mask_out['mask_targets']
        else:
            mask_targets = instance_mask_targets(scored, batch_gt_instances,
                                                 self.train_cfg)
        mask_results.update(loss_mask=mask_out['loss_mask'])
        mask_results['loss_mask'].update(
            self.scored_mask_iou_loss(mask_results, mask_targets, scored,
                                      batch_gt_instances))
        return mask_results

    def positive_mask_iou_loss(self, x: Tuple[Tensor],
                               rpn_results_list: InstanceList,
                               batch_data_samples: SampleList) -> Tensor:
        """MaskIoU loss of the positive RoIs alone, as the paper trains it,
        with everything before the MaskIoU head fixed
        (:class:`StudyMaskScoringRCNN`, ``frozen_rois=['proposals']``): the
        proposals are assigned and sampled as in :meth:`loss`, and their
        masks predicted, without gradient (a trained, frozen detector).

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
            positive_rois(res, gt)
            for res, gt in zip(sampling_results, batch_gt_instances)
        ]
        return self.scored_mask_iou_loss(mask_results, mask_targets, scored,
                                         batch_gt_instances)['loss_mask_iou']
