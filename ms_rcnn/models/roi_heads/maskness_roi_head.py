"""Mask R-CNN's RoI head whose predictions also carry each mask's maskness.

Maskness (SOLOv2, Wang et al., NeurIPS 2020) is the mean probability of
the cells a binary mask keeps: a confident mask scores near 1, a hesitant
one near the binarisation threshold. It needs no training and no
parameter, so it is the free rival of a learned mask score.
"""
from typing import List, Tuple

import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.utils import empty_instances
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList
from torch import Tensor

from ms_rcnn.registry import MODELS
from ms_rcnn.structures import masks_to_polygons


def select_class(preds: Tensor, labels: Tensor) -> Tensor:
    """(N, C, ...) per-class outputs -> (N, ...) outputs of ``labels``;
    a class-agnostic output (C = 1) serves every label."""
    if preds.size(1) == 1:
        return preds[:, 0]
    return preds[torch.arange(len(labels), device=labels.device), labels]


def maskness(mask_probs: Tensor, thr: float) -> Tensor:
    """Mean probability of the cells each mask keeps (probability >=
    ``thr``, as mmdet binarises masks); 0 for a mask that keeps none.

    Args:
        mask_probs (Tensor): (n, M, M) mask probabilities.
        thr (float): the binarisation threshold (``mask_thr_binary``).

    Returns:
        Tensor: (n, ) in [thr, 1], or 0.
    """
    kept = (mask_probs >= thr).to(mask_probs.dtype)
    total = (mask_probs * kept).flatten(1).sum(1)
    return total / kept.flatten(1).sum(1).clamp(min=1)


@MODELS.register_module()
class MasknessRoIHead(StandardRoIHead):
    """mmdet's ``StandardRoIHead`` whose predictions also hold ``maskness``
    (n, ), computed in the RoI's mask grid (M x M, the mask head's output,
    before pasting into the image) on the predicted class's probabilities.
    Training is mmdet's, unchanged.

    With ``test_cfg.mask2polygon`` set, e.g. ``dict(mode='quad')``, each
    result also gets ``polygons``: one flat float32 array per instance (see
    :func:`ms_rcnn.structures.masks_to_polygons` for the keys), as text
    detection metrics expect.
    """

    def predict_mask(self,
                     x: Tuple[Tensor],
                     batch_img_metas: List[dict],
                     results_list: InstanceList,
                     rescale: bool = False) -> InstanceList:
        """Masks and maskness of the detections.

        Args:
            x (tuple[Tensor]): Multi-level features, each (B, C, H, W).
            batch_img_metas (list[dict]): Per image meta information.
            results_list (list[InstanceData]): Per image detections with
                ``bboxes`` (n, 4), ``scores`` (n, ) and ``labels`` (n, ).
            rescale (bool): Return masks in the original image space.

        Returns:
            list[InstanceData]: The detections with ``masks`` (n, H, W),
            and what :meth:`score_masks` adds (:attr:`score_keys`).
        """
        mask_rois = bbox2roi([res.bboxes for res in results_list])
        if mask_rois.shape[0] == 0:
            results_list = empty_instances(
                batch_img_metas,
                mask_rois.device,
                task_type='mask',
                instance_results=results_list,
                mask_thr_binary=self.test_cfg.mask_thr_binary)
            for results in results_list:
                for key in self.score_keys:
                    results[key] = results.scores.new_zeros((0, ))
            return self._add_polygons(results_list)

        mask_results = self._mask_forward(x, mask_rois)
        results_list = self.mask_head.predict_by_feat(
            mask_preds=mask_results['mask_preds'].split(
                [len(res) for res in results_list], 0),
            results_list=results_list,
            batch_img_metas=batch_img_metas,
            rcnn_test_cfg=self.test_cfg,
            rescale=rescale)
        self.score_masks(mask_results, results_list)
        return self._add_polygons(results_list)

    # What score_masks adds to every result: (n, ) each.
    score_keys = ('maskness', )

    def score_masks(self, mask_results: dict,
                    results_list: InstanceList) -> None:
        """Add ``maskness`` to each result.

        Args:
            mask_results (dict): ``_mask_forward``'s output for the
                detections of all images, with ``mask_preds`` (N, C, M, M)
                logits.
            results_list (list[InstanceData]): Per image, n detections
                with ``labels`` (n, ); N over the batch.
        """
        labels = torch.cat([res.labels for res in results_list])
        probs = select_class(mask_results['mask_preds'], labels).sigmoid()
        values = maskness(probs, self.test_cfg.mask_thr_binary)
        for results, part in zip(
                results_list,
                values.split([len(res) for res in results_list])):
            results.maskness = part

    def _add_polygons(self, results_list: InstanceList) -> InstanceList:
        """Add ``polygons`` when ``test_cfg.mask2polygon`` asks for them."""
        polygon_cfg = self.test_cfg.get('mask2polygon')
        if polygon_cfg is not None:
            for results in results_list:
                results.polygons = masks_to_polygons(results.masks,
                                                     **polygon_cfg)
        return results_list
