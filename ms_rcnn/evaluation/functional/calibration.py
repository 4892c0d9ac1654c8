"""How well predicted mask scores match the actual mask IoU.

Shape legend: N predictions of one image (or of a whole dataset once
concatenated), G ground-truth instances of one image. Masks are pycocotools
RLE dicts ``{'size': [H, W], 'counts': bytes | str}``.

The *actual IoU* of a prediction is its mask IoU with the best-overlapping
non-crowd ground-truth instance of the same class in the same image, and 0
when there is none. It is what the MaskIoU head regresses. Every prediction
counts, false positives included: a well-calibrated mask score should be low
on them too, and they are what pushes a badly-ranked detector's AP down. Each
prediction is matched on its own (no one-to-one assignment), because the
MaskIoU head cannot know whether another detection covers the same object.
"""
import contextlib
import io

import numpy as np
import pycocotools.mask as mask_util
from pycocotools.cocoeval import COCOeval
from scipy.stats import rankdata


def best_mask_ious(pred_rles, pred_cats, gt_rles, gt_cats):
    """Actual IoU of each prediction: the highest mask IoU with a
    ground-truth instance of the same category.

    Args:
        pred_rles (list[dict]): N predicted masks.
        pred_cats (Sequence[int]): (N,) category id of each prediction.
        gt_rles (list[dict]): G non-crowd ground-truth masks.
        gt_cats (Sequence[int]): (G,) category id of each ground truth.

    Returns:
        np.ndarray: (N,) float64 in [0, 1].
    """
    num_preds, num_gts = len(pred_rles), len(gt_rles)
    if num_preds == 0 or num_gts == 0:
        return np.zeros(num_preds)
    for rle in pred_rles:
        if list(rle['size']) != list(gt_rles[0]['size']):
            raise ValueError(
                f'predicted mask of size {list(rle["size"])} does not match '
                f'the ground-truth image size {list(gt_rles[0]["size"])}')
    # iscrowd all 0: plain IoU, not the crowd variant (intersection / pred).
    ious = np.asarray(
        mask_util.iou(list(pred_rles), list(gt_rles), [0] * num_gts))
    ious = ious.reshape(num_preds, num_gts)
    same_cat = (np.asarray(pred_cats)[:, None] == np.asarray(gt_cats)[None])
    return np.where(same_cat, ious, 0.).max(axis=1)


def image_actual_ious(coco, img_id, pred_rles, pred_cats):
    """:func:`best_mask_ious` against the ground truth of one image of a
    pycocotools ``COCO``; crowd instances are ignored.

    Returns:
        np.ndarray: (N,) float64.
    """
    if img_id not in coco.imgs:
        raise KeyError(f'image id {img_id} is not in the annotation file')
    anns = [
        a for a in coco.imgToAnns.get(img_id, []) if not a.get('iscrowd', 0)
    ]
    gt_rles = [coco.annToRLE(a) for a in anns]
    gt_cats = [a['category_id'] for a in anns]
    return best_mask_ious(pred_rles, pred_cats, gt_rles, gt_cats)


def pearson(x, y):
    """Pearson correlation of two (N,) arrays; NaN when N < 2 or either is
    constant (the correlation is undefined there)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float('nan')
    xc, yc = x - x.mean(), y - y.mean()
    r = (xc * yc).sum() / np.sqrt((xc**2).sum() * (yc**2).sum())
    # Rounding can push |r| a hair past 1.
    return float(np.clip(r, -1., 1.))


def spearman(x, y):
    """Spearman rank correlation: Pearson of the ranks, tied values sharing
    their average rank. NaN in the same cases as :func:`pearson`."""
    if np.size(x) < 2:
        return float('nan')
    return pearson(rankdata(x), rankdata(y))


def reliability_curve(pred_iou, actual_iou, num_bins=10):
    """Bin predictions by predicted IoU and average within each bin.

    Args:
        pred_iou (np.ndarray): (N,) predicted IoU, clipped into [0, 1].
        actual_iou (np.ndarray): (N,) actual IoU.
        num_bins (int): equal-width bins over [0, 1].

    Returns:
        tuple[np.ndarray]: each (num_bins,): mean predicted IoU, mean actual
        IoU (both NaN for an empty bin) and count per bin.
    """
    pred_iou = np.clip(np.asarray(pred_iou, np.float64), 0., 1.)
    actual_iou = np.asarray(actual_iou, np.float64)
    # A prediction of exactly 1.0 belongs to the last bin, not a new one.
    bins = np.minimum((pred_iou * num_bins).astype(np.int64), num_bins - 1)
    counts = np.bincount(bins, minlength=num_bins)
    with np.errstate(invalid='ignore', divide='ignore'):
        mean_pred = np.bincount(bins, pred_iou, num_bins) / counts
        mean_actual = np.bincount(bins, actual_iou, num_bins) / counts
    return mean_pred, mean_actual, counts


def coco_segm_ap(coco, dets, img_ids, cat_ids=None):
    """COCO mask AP@[.5:.95] (area 'all'), evaluated as mmdet's CocoMetric
    does: up to 1000 detections per image, over ``cat_ids``.

    Args:
        coco (COCO): ground truth.
        dets (list[dict]): detections with ``image_id``, ``category_id``,
            ``segmentation`` (RLE) and ``score``.
        img_ids (list[int]): the images to evaluate.
        cat_ids (list[int], optional): the categories averaged over (the
            dataset's classes); None: all of ``coco``'s.

    Returns:
        float: AP in [0, 1]; 0.0 without detections, NaN when the images hold
        no ground truth at all.
    """
    cats = None if cat_ids is None else set(cat_ids)
    num_gts = sum(not a.get('iscrowd', 0) and (
        cats is None or a['category_id'] in cats) for i in img_ids
                  for a in coco.imgToAnns.get(i, []))
    if num_gts == 0:
        return float('nan')
    if not dets:
        # COCO.loadRes cannot load an empty list; AP is 0 by definition.
        return 0.0
    # COCO.loadRes and COCOeval print progress to stdout.
    with contextlib.redirect_stdout(io.StringIO()):
        # loadRes writes area, bbox and id into the dicts: give it copies.
        coco_dt = coco.loadRes([dict(d) for d in dets])
        coco_eval = COCOeval(coco, coco_dt, 'segm')
        coco_eval.params.imgIds = list(img_ids)
        if cat_ids is not None:
            coco_eval.params.catIds = list(cat_ids)
        # CocoMetric's proposal_nums; AP is read at the last.
        coco_eval.params.maxDets = [100, 300, 1000]
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return float(coco_eval.stats[0])
