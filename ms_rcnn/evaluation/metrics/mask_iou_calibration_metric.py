"""How well mask scores predict mask quality, beside mmdet's CocoMetric.

A usage example, next to the usual COCO metric::

    val_evaluator = [
        dict(type='CocoMetric', ann_file=ann, metric=['bbox', 'segm']),
        dict(type='MaskIoUCalibrationMetric', ann_file=ann),
    ]
"""
import contextlib
import io
import os.path as osp
from typing import Optional, Sequence

import numpy as np
import pycocotools.mask as mask_util
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from pycocotools.coco import COCO

from ms_rcnn.registry import METRICS
from ..functional.calibration import (coco_segm_ap, image_actual_ious, pearson,
                                      spearman)


def _to_numpy(x):
    """A tensor, array or list as a numpy array."""
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def encode_masks(masks):
    """Binary masks (N, H, W), tensor or array, as a list of N RLE dicts."""
    masks = _to_numpy(masks).astype(np.uint8)
    if len(masks) == 0:
        return []
    # pycocotools wants (H, W, N) in Fortran order.
    return mask_util.encode(np.asfortranarray(masks.transpose(1, 2, 0)))


# A detection whose mask overlaps a ground truth of its class by at least
# this IoU is a true positive (COCO's loosest threshold).
TP_IOU = 0.5
# The orders in which segm mAP ranks the same masks (class docstring).
RANKINGS = ('cls', 'mask', 'oracle', 'oracle_iou', 'fp_last', 'oracle_tp')
# Below this headroom, `captured` divides noise by noise: NaN.
MIN_HEADROOM = 0.005


def ranking_scores(matched: dict, ranking: str) -> np.ndarray:
    """(M,) score that ranks the matched detections in ``ranking`` (one of
    :data:`RANKINGS`); see :class:`MaskIoUCalibrationMetric`.

    Args:
        matched (dict): :meth:`MaskIoUCalibrationMetric.match`'s output.
        ranking (str): the ranking.
    """
    scores, ious = matched['scores'], matched['ious']
    if ranking == 'cls':
        return scores
    if ranking == 'mask':
        return matched['mask_scores']
    if ranking == 'oracle':
        return scores * ious
    if ranking == 'oracle_iou':
        return ious
    if ranking == 'fp_last':
        # Scores are in [0, 1]: minus 1 puts these after every other
        # detection and keeps their own order.
        return np.where(ious >= TP_IOU, scores, scores - 1)
    if ranking == 'oracle_tp':
        out = scores.copy()
        good = ious >= TP_IOU
        cats = np.array([det['category_id'] for det in matched['dets']])
        for cat in np.unique(cats[good]):
            inds = np.flatnonzero(good & (cats == cat))
            # The best mask by the oracle gets the highest of their scores.
            order = np.argsort(-scores[inds] * ious[inds], kind='stable')
            out[inds[order]] = np.sort(scores[inds])[::-1]
        return out
    raise ValueError(f'ranking must be one of {RANKINGS}, got {ranking!r}')


@METRICS.register_module()
class MaskIoUCalibrationMetric(BaseMetric):
    """Correlation of the class score and of the mask score with the actual
    mask IoU of each detection, and the mask AP of the same masks ranked by
    either score or by their actual IoU (the headroom of a mask scorer).

    The actual IoU of a detection is its mask IoU with the best-overlapping
    non-crowd ground truth of the same class (0 when none overlaps, so false
    positives count too; see :mod:`ms_rcnn.evaluation.functional.calibration`).
    No IoU threshold applies: a threshold would drop exactly the detections
    whose low mask score matters.

    Reported, under ``prefix/``:

    - ``pearson_mask_score_iou``, ``spearman_mask_score_iou``: correlation of
      ``mask_scores`` with the actual IoU;
    - ``pearson_cls_score_iou``, ``spearman_cls_score_iou``: the same for the
      box classification ``scores``;
    - ``mae_pred_iou``: mean ``|mask_score / score - actual IoU|``, the error
      of the MaskIoU head's own prediction, and ``mae_pred_iou_tp``, the same
      over the true positives (actual IoU >= 0.5). NaN when no detection has
      ``mask_scores`` (a plain Mask R-CNN), so that the keys are the same for
      every model;
    - ``tp_iou_q1``, ``tp_iou_median``, ``tp_iou_q3``: quartiles of the
      actual IoU of the true positives, how much mask quality varies;
    - ``segm_mAP_{ranking}``: COCO mask AP@[.5:.95] (pycocotools'
      COCOeval, as mmdet's CocoMetric computes it) of the same detections
      and masks, ranked by one of :data:`RANKINGS`:

      - ``cls``: the class score;
      - ``mask``: the mask score (NaN for a model without one);
      - ``oracle``: class score x actual IoU, the best a mask scorer could
        do on these masks;
      - ``oracle_iou``: the actual IoU alone;
      - ``fp_last``: the class score, with the detections of actual IoU
        below 0.5 (true positives at no COCO threshold) ranked after all
        others: the room in telling such detections apart;
      - ``oracle_tp``: the detections of actual IoU at least 0.5 keep the
        class scores they hold between them, handed out again (per class)
        in the order of class score x actual IoU; the others keep theirs:
        the room in ordering the good masks by their quality, every other
        detection staying where the class score puts it;

    - ``headroom``: ``segm_mAP_oracle - segm_mAP_cls``, what a perfect
      mask scorer would add to the class score's ranking;
    - ``captured``: ``(segm_mAP_mask - segm_mAP_cls) / headroom``, the share
      of it the mask score takes; NaN (null in JSON) where the headroom is
      below 0.005 or there is no mask score;
    - ``num_preds``: detections counted (score >= ``score_thr``).

    Correlations are NaN with fewer than 2 detections or constant values.
    Models without ``mask_scores`` are scored with ``scores`` for the
    correlations. mmdet's CocoMetric ranks masks by ``mask_scores`` when
    they are present, so its ``segm_mAP`` equals ``segm_mAP_mask`` here (for
    a model without mask scores, ``segm_mAP_cls``) as long as the model
    keeps no detection below ``score_thr`` (CocoMetric counts those too).
    Crowd instances count as COCOeval counts them: a detection matching one
    is ignored, whatever its rank. The predicted IoU is read back as
    ``mask_score / score``, which holds for the paper's mask score
    (``MaskIoUHead`` with ``score_exponents=(1, 1)``). A head that
    overwrites ``scores`` with the mask score leaves no class score to
    compare with (and ``mae_pred_iou`` then measures ``|1 - IoU|``).

    Args:
        ann_file (str): COCO-format annotation file of the evaluated set.
        score_thr (float): detections with a lower class score are ignored.
            Defaults to 0.05.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): defaults to ``'calib'``.
    """
    default_prefix: Optional[str] = 'calib'

    def __init__(self,
                 ann_file: str,
                 score_thr: float = 0.05,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'ann_file not found: {ann_file}')
        with contextlib.redirect_stdout(io.StringIO()):  # COCO prints
            self._coco = COCO(ann_file)
        self.ann_file = ann_file
        self.score_thr = score_thr

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Keep each image's detections above ``score_thr``, masks as RLE.

        Each data sample needs ``img_id`` and ``pred_instances`` with
        ``scores`` (N,), ``labels`` (N,), ``masks`` (N, H, W) bool or a list
        of RLE dicts, and optionally ``mask_scores`` (N,).
        """
        for sample in data_samples:
            pred = sample['pred_instances']
            scores = _to_numpy(pred['scores']).astype(np.float64)
            keep = np.flatnonzero(scores >= self.score_thr)
            mask_scores = pred.get('mask_scores')
            if mask_scores is not None:
                mask_scores = _to_numpy(mask_scores).astype(np.float64)[keep]
            masks = pred['masks']
            if isinstance(masks, (list, tuple)):  # RLEs, as DumpDetResults
                rles = [masks[i] for i in keep]
            else:
                rles = encode_masks(_to_numpy(masks)[keep])
            self.results.append(
                dict(
                    img_id=sample['img_id'],
                    scores=scores[keep],
                    mask_scores=mask_scores,
                    labels=_to_numpy(pred['labels']).astype(np.int64)[keep],
                    rles=rles))

    def _cat_ids(self) -> list:
        """Category id of each label: the dataset's classes looked up by
        name in the annotation file (as mmdet's CocoDataset does), or all of
        its categories in file order."""
        classes = (self.dataset_meta or {}).get('classes')
        if not classes:
            return self._coco.getCatIds()
        cat_ids = self._coco.getCatIds(catNms=classes)
        if len(cat_ids) != len(classes):
            raise ValueError(f'{self.ann_file} does not have categories '
                             f'named {list(classes)}')
        return cat_ids

    def match(self, results: list) -> dict:
        """Actual IoU of every detection kept by :meth:`process`.

        Returns:
            dict: over all M detections of ``results``: ``scores``,
            ``mask_scores`` (``scores`` where a model gives none),
            ``pred_ious`` (``mask_scores / scores``, NaN without a mask
            score), ``ious`` and ``has_mask_score`` (bool), each an (M,)
            array, and ``dets``, the M detections in pycocotools' result
            format.
        """
        cat_ids = self._cat_ids()
        out = dict(scores=[], mask_scores=[], ious=[], has_mask_score=[])
        dets = []
        for res in results:
            cats = [cat_ids[label] for label in res['labels']]
            out['ious'].append(
                image_actual_ious(self._coco, res['img_id'], res['rles'],
                                  cats))
            ms = res['mask_scores']
            out['scores'].append(res['scores'])
            out['mask_scores'].append(res['scores'] if ms is None else ms)
            out['has_mask_score'].append(np.full(len(cats), ms is not None))
            dets += [
                dict(image_id=res['img_id'], category_id=c, segmentation=rle)
                for c, rle in zip(cats, res['rles'])
            ]
        out = {
            k: np.concatenate(v) if v else np.zeros(0)
            for k, v in out.items()
        }
        out['has_mask_score'] = out['has_mask_score'].astype(bool)
        # mask_score = score * predicted IoU; a tiny floor on the score keeps
        # a score of 0 (score_thr=0) from dividing by zero.
        out['pred_ious'] = np.where(
            out['has_mask_score'],
            out['mask_scores'] / np.maximum(out['scores'], 1e-12), np.nan)
        out['dets'] = dets
        return out

    @staticmethod
    def score_statistics(matched: dict) -> dict:
        """The numbers of the class docstring that need no COCO evaluation
        (all but the ``segm_mAP_*``, ``headroom`` and ``captured``), from
        :meth:`match`'s output."""
        scores, mask_scores, ious, has_mask_score = (
            matched[k]
            for k in ('scores', 'mask_scores', 'ious', 'has_mask_score'))
        metrics = dict(
            pearson_mask_score_iou=pearson(mask_scores, ious),
            spearman_mask_score_iou=spearman(mask_scores, ious),
            pearson_cls_score_iou=pearson(scores, ious),
            spearman_cls_score_iou=spearman(scores, ious))
        errors = np.abs(matched['pred_ious'] - ious)[has_mask_score]
        tp = ious[has_mask_score] >= TP_IOU
        metrics['mae_pred_iou'] = float(
            errors.mean()) if len(errors) else float('nan')
        metrics['mae_pred_iou_tp'] = float(
            errors[tp].mean()) if tp.any() else float('nan')
        tp_ious = ious[ious >= TP_IOU]
        quartiles = np.quantile(tp_ious, [0.25, 0.5, 0.75]) if len(
            tp_ious) else [float('nan')] * 3
        for name, q in zip(('tp_iou_q1', 'tp_iou_median', 'tp_iou_q3'),
                           quartiles):
            metrics[name] = float(q)
        metrics['num_preds'] = int(len(ious))
        return metrics

    def compute_metrics(self, results: list) -> dict:
        """Match every kept detection and compute the numbers listed in the
        class docstring."""
        matched = self.match(results)
        metrics = self.score_statistics(matched)
        dets = matched['dets']
        img_ids = sorted({res['img_id'] for res in results})
        for ranking in RANKINGS:
            if ranking == 'mask' and not matched['has_mask_score'].any():
                metrics['segm_mAP_mask'] = float('nan')
                continue
            for det, value in zip(dets, ranking_scores(matched, ranking)):
                det['score'] = float(value)
            metrics[f'segm_mAP_{ranking}'] = coco_segm_ap(
                self._coco, dets, img_ids, self._cat_ids())
        headroom = metrics['segm_mAP_oracle'] - metrics['segm_mAP_cls']
        metrics['headroom'] = headroom
        # NaN compares False: no mask score also gives NaN.
        metrics['captured'] = (
            metrics['segm_mAP_mask'] - metrics['segm_mAP_cls']
        ) / headroom if headroom >= MIN_HEADROOM else float('nan')
        print_log(
            'mask IoU calibration: ' +
            ', '.join(f'{k}={v:.4f}' if isinstance(v, float) else f'{k}={v}'
                      for k, v in metrics.items()),
            logger='current')
        return metrics
