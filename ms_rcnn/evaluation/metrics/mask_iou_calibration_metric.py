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
from pycocotools.cocoeval import Params

from ms_rcnn.registry import METRICS
from ..functional.calibration import (TP_IOU, coco_ap_bound, coco_segm_ap,
                                      image_ious, pearson, spearman)
from ..functional.rankings import RANKINGS, ranking_scores, to_numpy


def encode_masks(masks):
    """Binary masks (N, H, W), tensor or array, as a list of N RLE dicts."""
    masks = to_numpy(masks).astype(np.uint8)
    if len(masks) == 0:
        return []
    # pycocotools wants (H, W, N) in Fortran order.
    return mask_util.encode(np.asfortranarray(masks.transpose(1, 2, 0)))


# Below this room, `captured` divides noise by noise: NaN.
MIN_ROOM = 0.005


@METRICS.register_module()
class MaskIoUCalibrationMetric(BaseMetric):
    """How well the class score and the mask score rank the detections by
    the quality of their masks, and the mask AP of the same masks in other
    orders: what a mask score could gain, and how much of it it takes.

    The *true IoU* of a detection is its mask IoU with the best-overlapping
    non-crowd instance of its predicted class (0 when none overlaps, so
    false positives count too; see
    :func:`~ms_rcnn.evaluation.functional.image_ious`). No IoU threshold
    applies: a threshold would drop exactly the detections whose low mask
    score matters. Detections that COCOeval ignores, those with no true
    IoU of 0.5 but at least half inside a crowd region of their class, are
    left out of the statistics (correlations, errors, quartiles).

    Reported, under ``prefix/``:

    - ``pearson_mask_score_iou``, ``spearman_mask_score_iou``: correlation of
      ``mask_scores`` with the true IoU;
    - ``pearson_cls_score_iou``, ``spearman_cls_score_iou``: the same for the
      box classification ``scores``;
    - ``mae_pred_iou``: mean ``|mask_score / score - true IoU|``, the error
      of the MaskIoU head's own prediction, and ``mae_pred_iou_tp``, the same
      over the true positives (true IoU >= 0.5). NaN when no detection has
      ``mask_scores`` (a plain Mask R-CNN), so that the keys are the same for
      every model;
    - ``tp_iou_q1``, ``tp_iou_median``, ``tp_iou_q3``: quartiles of the
      true IoU of the true positives, how much mask quality varies;
    - ``segm_mAP_{ranking}``: COCO mask AP@[.5:.95] (pycocotools'
      COCOeval, as mmdet's CocoMetric computes it) of the same detections
      and masks ranked in each order of
      :data:`~ms_rcnn.evaluation.functional.RANKINGS`: ``cls`` the class
      score; ``mask`` the mask score; ``oracle`` class score x true IoU
      (per detection: it also puts a detection of the wrong class, whose
      true IoU is 0, last, which repairs a classification error);
      ``quality`` class score x the IoU with the best non-crowd instance of
      any class (a perfect scorer of mask quality, the class left as
      predicted); ``maskness`` class score x maskness (free: the mean
      probability of the mask's pixels); ``mask_maskness`` mask score x
      maskness. NaN for a ranking whose input the model does not give;
    - ``segm_mAP_upper``: the AP that no ranking of these detections can
      exceed (:func:`~ms_rcnn.evaluation.functional.coco_ap_bound`: at each
      threshold, a largest one-to-one matching of detections and instances
      ranked first);
    - the rooms of a ranking over the class score's:
      ``room_quality = quality - cls``, what a mask score is for;
      ``room_class = oracle - quality``, the classification errors;
      ``room_duplicates = upper - oracle``, the duplicates and the
      detections better kept for another instance;
    - ``captured = (mask - cls) / room_quality``, the share of the mask
      quality room the mask score takes, and ``captured_upper = (mask -
      cls) / (upper - cls)``; NaN (null in JSON) where the room is below
      0.005 or there is no mask score;
    - ``num_preds``: detections counted (score >= ``score_thr``), of which
      ``num_on_crowd`` were left out of the statistics.

    Correlations are NaN with fewer than 2 detections or constant values.
    Models without ``mask_scores`` are scored with ``scores`` for the
    correlations. mmdet's CocoMetric ranks masks by ``mask_scores`` when
    they are present, so its ``segm_mAP`` equals ``segm_mAP_mask`` here (for
    a model without mask scores, ``segm_mAP_cls``) as long as the model
    keeps no detection below ``score_thr`` (CocoMetric counts those too).
    The predicted IoU is read back as ``mask_score / score``, which holds
    for the paper's mask score. A head that overwrites ``scores`` with the
    mask score leaves no class score to compare with (and
    ``mae_pred_iou`` then measures ``|1 - IoU|``).

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
        # COCOeval's IoU thresholds and recall points for masks.
        self._params = Params(iouType='segm')

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Keep each image's detections above ``score_thr``, masks as RLE.

        Each data sample needs ``img_id`` and ``pred_instances`` with
        ``scores`` (N,), ``labels`` (N,), ``masks`` (N, H, W) bool or a list
        of RLE dicts, and optionally ``mask_scores`` and ``maskness`` (N,).
        """
        for sample in data_samples:
            pred = sample['pred_instances']
            scores = to_numpy(pred['scores']).astype(np.float64)
            keep = np.flatnonzero(scores >= self.score_thr)
            optional = {}
            for key in ('mask_scores', 'maskness'):
                value = pred.get(key)
                if value is not None:
                    value = to_numpy(value).astype(np.float64)[keep]
                optional[key] = value
            masks = pred['masks']
            if isinstance(masks, (list, tuple)):  # RLEs, as DumpDetResults
                rles = [masks[i] for i in keep]
            else:
                rles = encode_masks(to_numpy(masks)[keep])
            self.results.append(
                dict(
                    img_id=sample['img_id'],
                    scores=scores[keep],
                    labels=to_numpy(pred['labels']).astype(np.int64)[keep],
                    rles=rles,
                    **optional))

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
        """True IoU of every detection kept by :meth:`process`.

        Returns:
            dict: over all M detections of ``results``, (M,) arrays:
            ``scores``, ``mask_scores`` (``scores`` where a model gives
            none), ``maskness`` (NaN where a model gives none), ``ious``,
            ``any_class_ious``, ``on_crowd`` and ``has_mask_score`` (bool),
            ``pred_ious`` (``mask_scores / scores``, NaN without a mask
            score); ``dets``, the M detections in pycocotools' result
            format; ``matches``, per category the (T,) largest matchings
            summed over the images (see
            :func:`~ms_rcnn.evaluation.functional.image_ious`).
        """
        cat_ids = self._cat_ids()
        keys = ('scores', 'mask_scores', 'maskness', 'ious', 'any_class_ious',
                'on_crowd', 'has_mask_score')
        out = {key: [] for key in keys}
        matches = {cat: 0 for cat in cat_ids}
        dets = []
        for res in results:
            cats = [cat_ids[label] for label in res['labels']]
            found = image_ious(self._coco, res['img_id'], res['rles'], cats,
                               self._params.iouThrs)
            for cat in matches:
                matches[cat] = matches[cat] + found['matches'].get(cat, 0)
            for key in ('ious', 'any_class_ious', 'on_crowd'):
                out[key].append(found[key])
            ms, mk = res['mask_scores'], res['maskness']
            out['scores'].append(res['scores'])
            out['mask_scores'].append(res['scores'] if ms is None else ms)
            out['maskness'].append(
                np.full(len(cats), np.nan) if mk is None else mk)
            out['has_mask_score'].append(np.full(len(cats), ms is not None))
            dets += [
                dict(image_id=res['img_id'], category_id=c, segmentation=rle)
                for c, rle in zip(cats, res['rles'])
            ]
        out = {
            k: np.concatenate(v) if v else np.zeros(0)
            for k, v in out.items()
        }
        for key in ('on_crowd', 'has_mask_score'):
            out[key] = out[key].astype(bool)
        # mask_score = score * predicted IoU; a tiny floor on the score keeps
        # a score of 0 (score_thr=0) from dividing by zero.
        out['pred_ious'] = np.where(
            out['has_mask_score'],
            out['mask_scores'] / np.maximum(out['scores'], 1e-12), np.nan)
        out['dets'] = dets
        out['matches'] = matches
        return out

    @staticmethod
    def score_statistics(matched: dict) -> dict:
        """The numbers of the class docstring that need no COCO evaluation
        (correlations, errors, quartiles, counts), from :meth:`match`'s
        output, without the detections on crowd regions."""
        counted = ~matched['on_crowd']
        scores, mask_scores, ious, has_mask_score = (
            matched[k][counted]
            for k in ('scores', 'mask_scores', 'ious', 'has_mask_score'))
        metrics = dict(
            pearson_mask_score_iou=pearson(mask_scores, ious),
            spearman_mask_score_iou=spearman(mask_scores, ious),
            pearson_cls_score_iou=pearson(scores, ious),
            spearman_cls_score_iou=spearman(scores, ious))
        errors = np.abs(matched['pred_ious'][counted] - ious)[has_mask_score]
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
        metrics['num_preds'] = int(len(matched['ious']))
        metrics['num_on_crowd'] = int((~counted).sum())
        return metrics

    def compute_metrics(self, results: list) -> dict:
        """Match every kept detection and compute the numbers listed in the
        class docstring."""
        matched = self.match(results)
        metrics = self.score_statistics(matched)
        dets = matched['dets']
        img_ids = sorted({res['img_id'] for res in results})
        cat_ids = self._cat_ids()
        has_maskness = not np.isnan(matched['maskness']).any()
        for ranking in RANKINGS:
            values = ranking_scores(
                ranking,
                matched['scores'],
                matched['mask_scores']
                if matched['has_mask_score'].any() else None,
                matched['maskness'] if has_maskness else None,
                matched['ious'],
                matched['any_class_ious'])
            if values is None:
                metrics[f'segm_mAP_{ranking}'] = float('nan')
                continue
            for det, value in zip(dets, values):
                det['score'] = float(value)
            metrics[f'segm_mAP_{ranking}'] = coco_segm_ap(
                self._coco, dets, img_ids, cat_ids)
        num_gts = {cat: 0 for cat in cat_ids}
        for img_id in img_ids:
            for ann in self._coco.imgToAnns.get(img_id, []):
                if ann['category_id'] in num_gts and not ann.get('iscrowd'):
                    num_gts[ann['category_id']] += 1
        metrics['segm_mAP_upper'] = coco_ap_bound(matched['matches'], num_gts,
                                                  self._params.recThrs)
        metrics.update(rooms(metrics))
        print_log(
            'mask IoU calibration: ' +
            ', '.join(f'{k}={v:.4f}' if isinstance(v, float) else f'{k}={v}'
                      for k, v in metrics.items()),
            logger='current')
        return metrics


def rooms(ap: dict, prefix: str = 'segm_mAP_') -> dict:
    """``room_quality``, ``room_class``, ``room_duplicates``, ``captured``
    and ``captured_upper`` (see :class:`MaskIoUCalibrationMetric`) from the
    values ``ap[prefix + ranking]`` of the rankings and of ``upper``."""
    cls, mask, upper = (ap[prefix + k] for k in ('cls', 'mask', 'upper'))
    quality, oracle = ap[prefix + 'quality'], ap[prefix + 'oracle']
    out = dict(
        room_quality=quality - cls,
        room_class=oracle - quality,
        room_duplicates=upper - oracle)
    # NaN compares False: no mask score also gives NaN.
    for name, room in (('captured', quality - cls),
                       ('captured_upper', upper - cls)):
        out[name] = (mask - cls) / room if room >= MIN_ROOM else float('nan')
    return out
