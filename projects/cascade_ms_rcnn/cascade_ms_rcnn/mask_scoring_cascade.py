"""Mask scoring shared by the cascade RoI heads: the output mask's IoU.

Shapes: n RoIs, C classes, M = 28 (mask size), S = 14 (RoI feature size),
F = channels of the mask RoI features.

A cascade outputs the *merged* mask: the mean of the sigmoid probabilities
of the stages its head lists in ``mask_stages`` (Cascade Mask R-CNN: all
stages; HTC: the last one). That list is the one definition of the output
mask: prediction merges those stages, and training merges the same stages,
so the MaskIoU head scores exactly the mask that is output:

* mask input: the merged probability of one class, given to
  :class:`MaskIoUHead` as logits ``torch.logit(p, eps)`` (the head applies a
  sigmoid, so it sees ``p`` clamped to [eps, 1 - eps]);
* features: the mask RoI features of the last stage (RoIAlign of its mask
  RoI extractor, plus the semantic features where HTC fuses them);
* training: as the paper trains the MaskIoU head, on the last stage's
  positive RoIs, on the mask of their instance's class; the IoU target is
  that of the binarised merged mask with the whole instance, and the
  merged mask is computed without gradient (the MaskIoU loss does not
  reach the mask heads; it reaches the MaskIoU head and, through the RoI
  features, the neck and backbone), reusing the last stage's mask
  prediction that its mask loss computed;
* loss: ``loss_mask_iou``, weighted by the MaskIoU head's ``loss_iou``
  weight alone, as in the core Mask Scoring R-CNN. It is computed in the
  last stage, but not multiplied by that stage's ``stage_loss_weights``
  entry as the stage's own losses are.
"""
from typing import List, Optional, Tuple

import torch
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.test_time_augs import merge_aug_masks
from mmdet.models.utils import empty_instances
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import ConfigType, InstanceList
from torch import Tensor

from ms_rcnn.models.roi_heads.maskness_roi_head import select_class
from ms_rcnn.models.task_modules.scored_rois import positive_rois
from ms_rcnn.registry import MODELS

# mmdet's cascade heads multiply the entries of a stage's ``loss_mask`` dict
# whose name contains 'loss' by the stage's loss weight. The MaskIoU loss
# leaves the last stage under this name, unscaled, and
# MaskScoringCascadeMixin.loss renames it ``loss_mask_iou``.
UNSCALED_MASK_IOU = 'mask_iou_unscaled'

# Clamp of the merged probability before torch.logit: keeps the logits
# finite where every stage is saturated (sigmoid(logit(p)) == p otherwise).
LOGIT_EPS = 1e-6


def probs_to_logits(probs: Tensor, eps: float = LOGIT_EPS) -> Tensor:
    """(n, M, M) probabilities -> (n, M, M) finite logits."""
    return torch.logit(probs.float(), eps=eps).to(probs.dtype)


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


class MaskScoringCascadeMixin:
    """MaskIoU head, MaskIoU loss and mask scores for a cascade RoI head.

    The host class (a :class:`CascadeRoIHead`) implements:

    * ``mask_stages`` (list[int]): the stages whose mask probabilities are
      averaged into the output mask, in training and at test time;
    * ``_stage_mask_logits(stage, x, rois, **kwargs) -> Tensor``: the
      (n, C, M, M) mask logits of ``stage`` for ``rois``, computed as that
      stage's mask loss computes them;
    * ``_mask_iou_feats(x, rois, **kwargs) -> Tensor``: (n, F, S, S) RoI
      features of the last stage.

    ``kwargs`` carry what the host's mask forward needs beyond ``x`` and
    ``rois`` (HTC: ``semantic_feat``).

    Args:
        mask_iou_head (dict): Config of :class:`MaskIoUHead`.
        **kwargs: Arguments of the host's cascade RoI head.
    """

    def __init__(self, mask_iou_head: ConfigType, **kwargs) -> None:
        super().__init__(**kwargs)
        assert self.with_mask, 'mask scoring needs a mask head'
        self.mask_iou_head = MODELS.build(mask_iou_head)

    def _stage_mask_probs(self,
                          x: Tuple[Tensor],
                          rois: Tensor,
                          last_mask_preds: Optional[Tensor] = None,
                          **kwargs) -> List[Tensor]:
        """(n, C, M, M) probabilities of each stage of ``mask_stages``.

        ``last_mask_preds`` (n, C, M, M), when given, are the last stage's
        logits for ``rois``, already computed by its mask loss.
        """
        last = self.num_stages - 1
        probs = []
        for stage in self.mask_stages:
            if stage == last and last_mask_preds is not None:
                logits = last_mask_preds
            else:
                logits = self._stage_mask_logits(stage, x, rois, **kwargs)
            probs.append(logits.sigmoid())
        return probs

    def _merged_mask_logits(self,
                            x: Tuple[Tensor],
                            rois: Tensor,
                            labels: Tensor,
                            last_mask_preds: Optional[Tensor] = None,
                            **kwargs) -> Tensor:
        """Logits of the merged mask of ``labels``, without gradient.

        Args:
            x (tuple[Tensor]): Multi-level features, each (B, F, H, W).
            rois (Tensor): (n, 5) RoIs, [batch_ind, x1, y1, x2, y2].
            labels (Tensor): (n, ) class of each RoI.
            last_mask_preds (Tensor, optional): (n, C, M, M) logits of the
                last stage for ``rois``.

        Returns:
            Tensor: (n, M, M) logits of the mean stage probability.
        """
        with torch.no_grad():
            probs = self._stage_mask_probs(x, rois, last_mask_preds, **kwargs)
            merged = torch.stack([select_class(p, labels)
                                  for p in probs]).mean(0)
        return probs_to_logits(merged)

    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: SampleList) -> dict:
        """The host's losses plus ``loss_mask_iou``, which is not scaled by
        the last stage's loss weight (see :meth:`mask_loss`)."""
        losses = super().loss(x, rpn_results_list, batch_data_samples)
        losses['loss_mask_iou'] = losses.pop(
            f's{self.num_stages - 1}.{UNSCALED_MASK_IOU}')
        return losses

    def mask_loss(self, stage: int, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult],
                  batch_gt_instances: InstanceList, **kwargs) -> dict:
        """The host's mask loss of ``stage``; the last stage also returns
        the MaskIoU loss in its ``loss_mask`` dict, under a name that the
        host's ``loss`` does not scale (``UNSCALED_MASK_IOU``)."""
        mask_results = super().mask_loss(stage, x, sampling_results,
                                         batch_gt_instances, **kwargs)
        if stage == self.num_stages - 1:
            loss = self.mask_iou_loss(x, sampling_results, batch_gt_instances,
                                      mask_results, **kwargs)
            mask_results['loss_mask'][UNSCALED_MASK_IOU] = loss[
                'loss_mask_iou']
        return mask_results

    def mask_iou_loss(self, x: Tuple[Tensor],
                      sampling_results: List[SamplingResult],
                      batch_gt_instances: InstanceList, mask_results: dict,
                      **kwargs) -> dict:
        """MaskIoU loss on the last stage's positive RoIs, each on the
        merged mask of its instance's class.

        Args:
            x (tuple[Tensor]): Multi-level features, each (B, F, H, W).
            sampling_results (list[SamplingResult]): Per image, of the last
                stage.
            batch_gt_instances (list[InstanceData]): Per image, with
                ``bboxes``, ``labels`` and ``masks``.
            mask_results (dict): The last stage's mask loss results, with
                ``mask_preds`` (num_pos, C, M, M) and ``mask_targets``
                (num_pos, M, M).

        Returns:
            dict: ``loss_mask_iou`` (Tensor, scalar).
        """
        scored = [
            positive_rois(res, gt)
            for res, gt in zip(sampling_results, batch_gt_instances)
        ]
        rois = bbox2roi([r.boxes for r in scored])
        labels = torch.cat([r.labels for r in scored])
        # The last stage's mask loss already has these RoIs' logits.
        merged = self._merged_mask_logits(x, rois, labels,
                                          mask_results['mask_preds'],
                                          **kwargs)
        mask_iou_preds = self.mask_iou_head(
            self._mask_iou_feats(x, rois, **kwargs), merged)
        return self.mask_iou_head.loss_and_target(
            select_class(mask_iou_preds, labels), merged,
            mask_results['mask_targets'], scored, batch_gt_instances,
            self.train_cfg[-1])

    def predict_scored_masks(self,
                             x: Tuple[Tensor],
                             batch_img_metas: List[dict],
                             results_list: InstanceList,
                             rescale: bool = False,
                             **kwargs) -> InstanceList:
        """The merged masks of the detections and their mask scores.

        The masks are the sigmoid probabilities of ``mask_stages`` merged
        with ``merge_aug_masks`` and thresholded by the last mask head, as
        mmdet's cascade heads output them.

        Args:
            x (tuple[Tensor]): Multi-level features, each (B, F, H, W).
            batch_img_metas (list[dict]): Per image meta information.
            results_list (list[InstanceData]): Per image detections with
                ``bboxes`` (n, 4), ``scores`` (n, ) and ``labels`` (n, ).
            rescale (bool): Return masks in the original image space.

        Returns:
            list[InstanceData]: The detections with ``masks`` (n, H, W) and
            ``mask_scores`` (n, ) = score * predicted IoU of the merged mask.
        """
        mask_rois = bbox2roi([res.bboxes for res in results_list])
        if mask_rois.shape[0] == 0:
            return empty_scored_results(batch_img_metas, mask_rois.device,
                                        results_list,
                                        self.test_cfg.mask_thr_binary)

        num_per_img = [len(res) for res in results_list]
        stage_probs = [
            p.detach().split(num_per_img, 0)
            for p in self._stage_mask_probs(x, mask_rois, **kwargs)
        ]
        merged_masks = [
            merge_aug_masks([p[i] for p in stage_probs], img_meta)
            for i, img_meta in enumerate(batch_img_metas)
        ]
        # Scored before predict_by_feat, which may rescale the boxes.
        labels = torch.cat([res.labels for res in results_list])
        merged = probs_to_logits(
            select_class(torch.cat(merged_masks), labels))
        mask_iou_preds = self.mask_iou_head(
            self._mask_iou_feats(x, mask_rois, **kwargs), merged)

        results_list = self.mask_head[-1].predict_by_feat(
            mask_preds=merged_masks,
            results_list=results_list,
            batch_img_metas=batch_img_metas,
            rcnn_test_cfg=self.test_cfg,
            rescale=rescale,
            activate_map=True)
        return self.mask_iou_head.predict_by_feat(
            mask_iou_preds=mask_iou_preds.split(num_per_img, 0),
            results_list=results_list)
