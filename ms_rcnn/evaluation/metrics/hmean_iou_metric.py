"""Text-detection precision, recall and hmean under the ICDAR protocol.

A usage example for a converted CTW1500 or ICDAR2015 test set::

    test_evaluator = dict(
        type='HmeanIoUMetric',
        ann_file='data/ctw1500/ctw1500_test.json',
        polygon_mode='contour')  # 'quad' for ICDAR2015
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.fileio import load
from mmengine.logging import print_log
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching
from shapely.ops import unary_union

from ms_rcnn.registry import METRICS
from ms_rcnn.structures import (intersection_areas, masks_to_polygons,
                                polygon_ious, to_shapely)
from ..functional.rankings import (RANKINGS, max_matches, ranking_scores,
                                   to_numpy)

STRATEGIES = ('vanilla', 'max_matching')
# Added to the sweep for the `_wide` results.
WIDE_THRS = np.round(np.arange(0.91, 0.995, 0.01), 6)


def _scores(scores) -> np.ndarray:
    """A tensor, array or list of scores as an (N,) float64 array."""
    return to_numpy(scores).astype(np.float64).reshape(-1)


def count_matches(ious: np.ndarray, iou_thr: float,
                  strategy: str = 'vanilla') -> int:
    """Number of one-to-one GT-prediction matches with IoU > ``iou_thr``.

    ``'vanilla'`` is the ICDAR 2015 script's order (mmocr's default): each
    GT in list order takes the first unmatched prediction, in list order,
    whose IoU with it is above the threshold. A prediction overlapping two
    GTs can thus go to the first GT and leave the second unmatched.
    ``'max_matching'`` counts a maximum bipartite matching of the pairs
    above the threshold (mmocr's ``'max_matching'``), which is never lower.
    The threshold is strict, as in the ICDAR script.

    Args:
        ious (np.ndarray): (num_gts, num_preds) IoU matrix, rows and
            columns in list order.
        iou_thr (float): A match needs a larger IoU.
        strategy (str): ``'vanilla'`` or ``'max_matching'``.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f'strategy must be one of {STRATEGIES}, got '
                         f'{strategy!r}')
    above = ious > iou_thr
    if not above.any():
        return 0
    if strategy == 'max_matching':
        matched = maximum_bipartite_matching(
            csr_matrix(above), perm_type='column')
        return int((matched >= 0).sum())
    pred_used = np.zeros(above.shape[1], bool)
    for gt_row in above:
        free = np.flatnonzero(gt_row & ~pred_used)
        if len(free):
            pred_used[free[0]] = True
    return int(pred_used.sum())


@METRICS.register_module()
class HmeanIoUMetric(BaseMetric):
    """Precision, recall and hmean of text polygons, ICDAR protocol.

    Per image: predictions scoring below the lowest threshold are dropped;
    a prediction whose area lies more than ``ignore_precision_thr`` inside
    one do-not-care GT (``iscrowd: 1``) is discarded, neither true nor
    false positive; the other predictions are matched one-to-one to the
    other GTs with polygon IoU > ``match_iou_thr``, by default in the
    ICDAR 2015 script's list order (see :func:`count_matches`). A
    prediction with an empty polygon (an empty mask) counts as a false
    positive. For every score threshold the matches, predictions and GTs
    are summed over the dataset, then ``precision = hits / preds``,
    ``recall = hits / gts`` and hmean is their harmonic mean (each 0 where
    undefined: a set without text to find has recall 0, as in the ICDAR
    script).

    Every threshold's result is logged; reported, under ``icdar/``, are
    ``precision``, ``recall``, ``hmean`` at the threshold of best hmean
    (the lowest one among ties), and that ``best_score_thr``.

    With ``rankings``, the same predictions are also thresholded by other
    scores, to measure what a mask scorer could gain, each computed as for
    :class:`MaskIoUCalibrationMetric` (see
    :data:`~ms_rcnn.evaluation.functional.RANKINGS`) with the prediction's
    true IoU (its largest polygon IoU with a care GT, 0 where none): ``cls``
    the class score (``scores``), ``mask`` the mask score
    (``mask_scores``), ``oracle`` and ``quality`` the class score times the
    true IoU (the same here: the protocol matches without classes),
    ``maskness`` the class score times ``maskness``, ``mask_maskness`` the
    mask score times it; NaN for a ranking whose input the model does not
    give. For each, ``hmean_{ranking}`` and ``score_thr_{ranking}`` are
    the best hmean and its threshold over ``pred_score_thrs``, and
    ``hmean_{ranking}_wide`` and ``score_thr_{ranking}_wide`` the same over
    ``pred_score_thrs`` with 0.91, 0.92, ..., 0.99 added: a trained
    detector's class scores crowd near 1, where a sweep that stops at 0.9
    cuts them short. ``hmean_upper`` is the hmean that no ranking and no
    threshold can exceed: with M the largest one-to-one matching of the
    counted predictions and the G care GTs (IoU > ``match_iou_thr``),
    every threshold gives at most M hits, so hmean ``2 hits / (preds +
    G)`` is at most ``2 M / (M + G)``, reached by keeping exactly a
    largest matching (its predictions in the matching's order).

    Ground truth comes from ``ann_file`` (COCO-style, as written by
    ``tools/dataset_converters/{icdar2015,ctw1500}.py``), matched by the
    data sample's ``img_id``. Predictions come from
    ``pred_instances.polygons`` (N flat float arrays) when present, else
    from ``pred_instances.masks`` (N, H, W) through
    :func:`~ms_rcnn.structures.masks_to_polygons`; the score is
    ``pred_instances.mask_scores`` when present, else ``scores``, unless
    ``score_key`` names one.

    Args:
        ann_file (str): COCO-style annotation file with polygon
            ``segmentation`` and ``iscrowd`` marking do-not-care regions.
        match_iou_thr (float): a match needs a larger IoU (strict, as in
            the ICDAR script). Defaults to 0.5.
        strategy (str): how GTs and predictions are paired. ``'vanilla'``
            (default) follows the ICDAR 2015 script and mmocr's default,
            which the published results use: each GT in list order takes
            the first unmatched prediction in list order above
            ``match_iou_thr``. ``'max_matching'`` takes a maximum bipartite
            matching instead; it counts more hits where one prediction
            overlaps two GTs by more than ``match_iou_thr``.
        ignore_precision_thr (float): a prediction with a larger fraction
            of its area inside a do-not-care GT is discarded. Defaults to
            0.5.
        pred_score_thrs (dict | Sequence[float]): thresholds to sweep,
            either ``np.arange`` arguments (``stop`` excluded) or a list.
            Defaults to 0.05, 0.10, ..., 0.90: rescored MS R-CNN scores
            (class score times predicted mask IoU) run lower than class
            scores, and a sweep from 0.3 (mmocr's default) can cut recall.
        polygon_mode (str): ``'contour'`` or ``'quad'``, used only when
            polygons are derived from masks. Defaults to ``'contour'``.
        score_key (str, optional): the ``pred_instances`` field that ranks
            and thresholds the predictions, e.g. ``'scores'`` to rank MS
            R-CNN's polygons by their class score instead of their mask
            score. Defaults to None: ``mask_scores`` when present, else
            ``scores``.
        rankings (Sequence[str]): other scores to threshold the same
            predictions by, each of :data:`RANKINGS`. Defaults to ().
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Defaults to ``'icdar'``.
        backend_args (dict, optional): file backend to read ``ann_file``.
    """
    default_prefix: Optional[str] = 'icdar'

    def __init__(self,
                 ann_file: str,
                 match_iou_thr: float = 0.5,
                 strategy: str = 'vanilla',
                 ignore_precision_thr: float = 0.5,
                 pred_score_thrs: Union[Dict, Sequence[float]] = dict(
                     start=0.05, stop=0.95, step=0.05),
                 polygon_mode: str = 'contour',
                 score_key: Optional[str] = None,
                 rankings: Sequence[str] = (),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.match_iou_thr = match_iou_thr
        if strategy not in STRATEGIES:
            raise ValueError(f'strategy must be one of {STRATEGIES}, got '
                             f'{strategy!r}')
        self.strategy = strategy
        self.ignore_precision_thr = ignore_precision_thr
        thrs = (np.arange(**pred_score_thrs) if isinstance(
            pred_score_thrs, dict) else np.asarray(pred_score_thrs, float))
        # Round away arange's drift (0.15000000000000002) so that a score
        # equal to a printed threshold passes it.
        self.score_thrs = np.round(thrs, 6)
        if not len(self.score_thrs):
            raise ValueError('pred_score_thrs gives no threshold')
        self.polygon_mode = polygon_mode
        self.score_key = score_key
        for ranking in rankings:
            if ranking not in RANKINGS:
                raise ValueError(f'rankings must be among {RANKINGS}, got '
                                 f'{ranking!r}')
        self.rankings = tuple(rankings)
        self.gts = self._load_gts(ann_file, backend_args)

    @staticmethod
    def _load_gts(ann_file: str, backend_args: Optional[dict]) -> Dict:
        """``{img_id: (list of polygon part lists, ignore flags (G,))}``."""
        coco = load(ann_file, backend_args=backend_args)
        gts = {img['id']: ([], []) for img in coco['images']}
        for ann in coco['annotations']:
            if not isinstance(ann['segmentation'], list):
                raise ValueError(
                    f'{ann_file}: annotation {ann["id"]} has no polygon '
                    'segmentation')
            gts[ann['image_id']][0].append(ann['segmentation'])
            gts[ann['image_id']][1].append(bool(ann.get('iscrowd', 0)))
        return {k: (parts, np.array(flags, bool).reshape(-1))
                for k, (parts, flags) in gts.items()}

    def _predictions(self, pred) -> Tuple[List[np.ndarray], np.ndarray]:
        """Polygons and scores (N,) of one sample's ``pred_instances``."""
        if self.score_key is not None:
            scores = pred.get(self.score_key)
            if scores is None:
                raise KeyError(
                    f'HmeanIoUMetric: score_key {self.score_key!r} is not '
                    f'in pred_instances (keys: {sorted(pred.keys())})')
        else:
            scores = pred.get('mask_scores')
            if scores is None:
                scores = pred['scores']
        scores = _scores(scores)
        polygons = pred.get('polygons')
        if polygons is None:
            polygons = masks_to_polygons(pred['masks'], self.polygon_mode)
        polygons = [
            np.asarray(p.detach().cpu() if hasattr(p, 'detach') else p,
                       np.float64).reshape(-1) for p in polygons
        ]
        if len(polygons) != len(scores):
            raise ValueError(f'{len(polygons)} polygons for {len(scores)} '
                             'scores')
        return polygons, scores

    def process(self, data_batch: dict, data_samples: Sequence) -> None:
        """Match one batch; stores per image the IoU matrix (care GTs x kept
        predictions), the kept predictions' scores and counts."""
        for sample in data_samples:
            img_id = sample.get('img_id')
            if img_id not in self.gts:
                raise KeyError(f'img_id {img_id} is not in the ann_file')
            gt_parts, gt_ignore = self.gts[img_id]
            pred = sample.get('pred_instances')
            polygons, scores = self._predictions(pred)
            # What the protocol's ranking keeps; the other rankings
            # threshold by other scores and keep every prediction.
            in_sweep = scores >= self.score_thrs.min()
            keep = np.ones_like(in_sweep) if self.rankings else in_sweep
            polygons = [p for p, k in zip(polygons, keep) if k]
            scores, in_sweep = scores[keep], in_sweep[keep]
            inputs = {}
            for name, key in (('cls', 'scores'), ('mask', 'mask_scores'),
                              ('maskness', 'maskness')):
                if self.rankings and pred.get(key) is not None:
                    inputs[name] = _scores(pred.get(key))[keep]

            gt_repaired = 0
            gts = []
            for parts in gt_parts:
                geoms = [to_shapely(p) for p in parts]
                gt_repaired += sum(r for _, r in geoms)
                gts.append(geoms[0][0] if len(geoms) == 1 else unary_union(
                    [g for g, _ in geoms]))
            preds, repaired = [], []
            for p in polygons:
                geom, r = to_shapely(p)
                preds.append(geom)
                repaired.append(r)

            # Discard predictions mostly inside one do-not-care region.
            ignored_gts = [g for g, i in zip(gts, gt_ignore) if i]
            inter = intersection_areas(preds, ignored_gts)
            pred_areas = np.array([p.area for p in preds]).reshape(-1, 1)
            inside = inter / (pred_areas + 1e-9) > self.ignore_precision_thr
            counted = ~inside.any(axis=1)

            care_gts = [g for g, i in zip(gts, gt_ignore) if not i]
            ious = polygon_ious(care_gts,
                                [p for p, c in zip(preds, counted) if c])
            empty = np.array([p.is_empty for p in preds], bool)
            self.results.append(
                dict(
                    ious=ious,
                    scores=scores[counted],
                    inputs={k: v[counted]
                            for k, v in inputs.items()},
                    num_gts=len(care_gts),
                    # Counted as the protocol's ranking sees them.
                    num_discarded=int((in_sweep & ~counted).sum()),
                    num_empty=int((in_sweep & empty).sum()),
                    num_repaired=gt_repaired +
                    int(np.sum(np.array(repaired, int)[in_sweep]))))

    def sweep(self, results: List[dict], scores: List[np.ndarray],
              thrs: np.ndarray) -> Tuple[np.ndarray, ...]:
        """Precision, recall, hmean and counts at each threshold.

        Args:
            results (list[dict]): :meth:`process`'s per-image results.
            scores (list[np.ndarray]): per image, the (N,) score of each of
                its counted predictions.
            thrs (np.ndarray): (T,) score thresholds.

        Returns:
            tuple[np.ndarray]: each (T,): precision, recall, hmean, hits,
            predictions, and the number of care GTs (int).
        """
        hits = np.zeros(len(thrs))
        num_preds = np.zeros(len(thrs))
        num_gts = sum(r['num_gts'] for r in results)
        for r, img_scores in zip(results, scores):
            for t, thr in enumerate(thrs):
                above = img_scores >= thr
                num_preds[t] += above.sum()
                hits[t] += count_matches(r['ious'][:, above],
                                         self.match_iou_thr, self.strategy)
        precision = np.divide(
            hits, num_preds, out=np.zeros(len(thrs)), where=num_preds > 0)
        recall = hits / num_gts if num_gts else np.zeros(len(thrs))
        total = precision + recall
        hmean = np.divide(
            2 * precision * recall, total, out=np.zeros(len(thrs)),
            where=total > 0)
        return precision, recall, hmean, hits, num_preds, num_gts

    def ranking_scores(self, results: List[dict],
                       ranking: str) -> Optional[List[np.ndarray]]:
        """Per image, the (N,) score of each counted prediction in
        ``ranking`` (see the class docstring); None when the predictions
        lack its input."""
        out = []
        for r in results:
            # The true IoU: the best care GT of each prediction, 0 where none.
            true_ious = r['ious'].max(axis=0, initial=0.)
            scores = ranking_scores(ranking, r['inputs']['cls'],
                                    r['inputs'].get('mask'),
                                    r['inputs'].get('maskness'), true_ious,
                                    true_ious)
            if scores is None:
                return None
            out.append(scores)
        return out

    def upper_hmean(self, results: List[dict]) -> float:
        """``2 M / (M + G)``: the hmean no ranking can exceed (see the class
        docstring)."""
        found = sum(
            max_matches(r['ious'], self.match_iou_thr, strict=True)
            for r in results)
        num_gts = sum(r['num_gts'] for r in results)
        return 2 * found / (found + num_gts) if found else 0.

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Sweep the score thresholds over the whole dataset."""
        thrs = self.score_thrs
        precision, recall, hmean, hits, num_preds, num_gts = self.sweep(
            results, [r['scores'] for r in results], thrs)

        lines = ['score_thr  precision  recall  hmean   hits/preds/gts']
        for t, thr in enumerate(thrs):
            lines.append(f'{thr:9.2f}  {precision[t]:9.4f}  {recall[t]:6.4f}'
                         f'  {hmean[t]:.4f}  {int(hits[t])}/'
                         f'{int(num_preds[t])}/{num_gts}')
        print_log('HmeanIoU (ICDAR protocol), per score threshold:\n' +
                  '\n'.join(lines), logger='current')
        counts = {
            k: sum(r[k] for r in results)
            for k in ('num_discarded', 'num_empty', 'num_repaired')
        }
        print_log(
            f'{counts["num_discarded"]} predictions discarded inside '
            f'do-not-care regions, {counts["num_empty"]} empty predicted '
            f'polygons (false positives), {counts["num_repaired"]} invalid '
            'polygons made valid', logger='current')

        best = int(np.argmax(hmean))  # first maximum: lowest threshold
        metrics = dict(
            precision=float(precision[best]),
            recall=float(recall[best]),
            hmean=float(hmean[best]),
            best_score_thr=float(thrs[best]))
        wide = np.union1d(thrs, WIDE_THRS)
        for ranking in self.rankings:
            scores = self.ranking_scores(results, ranking)
            for suffix, sweep_thrs in (('', thrs), ('_wide', wide)):
                if scores is None:  # the model lacks its input
                    metrics[f'hmean_{ranking}{suffix}'] = float('nan')
                    metrics[f'score_thr_{ranking}{suffix}'] = float('nan')
                    continue
                ranked = self.sweep(results, scores, sweep_thrs)[2]
                best = int(np.argmax(ranked))
                metrics[f'hmean_{ranking}{suffix}'] = float(ranked[best])
                metrics[f'score_thr_{ranking}{suffix}'] = float(
                    sweep_thrs[best])
        if self.rankings:
            metrics['hmean_upper'] = self.upper_hmean(results)
        return metrics
