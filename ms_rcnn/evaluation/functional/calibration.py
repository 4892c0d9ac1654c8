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

from .rankings import max_matches

# A detection whose mask overlaps a ground truth of its class by at least
# this IoU is a true positive (COCO's loosest threshold).
TP_IOU = 0.5


def mask_ious(pred_rles, gt_rles, iscrowd=False):
    """(N, G) mask IoUs of N predictions with G ground-truth masks, as
    COCOeval computes them: with ``iscrowd``, intersection over the
    prediction's area (the share of it inside the crowd region)."""
    if len(pred_rles) == 0 or len(gt_rles) == 0:
        return np.zeros((len(pred_rles), len(gt_rles)))
    for rle in pred_rles:
        if list(rle['size']) != list(gt_rles[0]['size']):
            raise ValueError(
                f'predicted mask of size {list(rle["size"])} does not match '
                f'the ground-truth image size {list(gt_rles[0]["size"])}')
    ious = mask_util.iou(
        list(pred_rles), list(gt_rles), [int(iscrowd)] * len(gt_rles))
    return np.asarray(ious).reshape(len(pred_rles), len(gt_rles))


def image_ious(coco, img_id, pred_rles, pred_cats, iou_thrs):
    """How the predictions of one image of a pycocotools ``COCO`` overlap
    its ground truth.

    Args:
        coco (COCO): the ground truth.
        img_id (int): the image.
        pred_rles (list[dict]): N predicted masks.
        pred_cats (Sequence[int]): (N, ) category id of each prediction.
        iou_thrs (np.ndarray): (T, ) IoU thresholds of the matchings.

    Returns:
        dict: each over the N predictions, (N, ) float64 unless said:

        - ``ious``: IoU with the best non-crowd instance of the same
          category, 0 where none overlaps (the *true IoU*);
        - ``any_class_ious``: the same over instances of any category;
        - ``on_crowd`` (bool): no true positive at IoU 0.5 but at least
          half inside a crowd region of its category, which COCOeval
          then ignores (neither true nor false positive);
        - ``matches``: ``{category id: (T, ) int}``, per threshold the size
          of the largest one-to-one matching of the category's
          predictions and non-crowd instances with IoU >= the threshold
          (:func:`~ms_rcnn.evaluation.functional.rankings.max_matches`).
    """
    if img_id not in coco.imgs:
        raise KeyError(f'image id {img_id} is not in the annotation file')
    anns = coco.imgToAnns.get(img_id, [])
    pred_cats = np.asarray(pred_cats, np.int64).reshape(-1)
    parts = {}
    for crowd in (False, True):
        part = [a for a in anns if bool(a.get('iscrowd', 0)) == crowd]
        ious = mask_ious(pred_rles, [coco.annToRLE(a) for a in part], crowd)
        cats = np.array([a['category_id'] for a in part], np.int64)
        parts[crowd] = ious, pred_cats[:, None] == cats[None]
    (ious, same), (crowd_ious, crowd_same) = parts[False], parts[True]
    best = np.where(same, ious, 0.).max(axis=1, initial=0.)
    on_crowd = (best < TP_IOU) & (np.where(crowd_same, crowd_ious, 0.).max(
        axis=1, initial=0.) >= TP_IOU)
    gt_cats = [a['category_id'] for a in anns if not a.get('iscrowd', 0)]
    matches = {}
    for cat in set(gt_cats) | set(pred_cats.tolist()):
        sub = ious[pred_cats == cat][:, np.asarray(gt_cats) == cat]
        matches[cat] = np.array([max_matches(sub, t) for t in iou_thrs])
    return dict(
        ious=best,
        any_class_ious=ious.max(axis=1, initial=0.),
        on_crowd=on_crowd,
        matches=matches)


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
        # Only the area range 'all' is read: matching each image again for
        # 'small', 'medium' and 'large' would take most of the time.
        coco_eval.params.areaRng = coco_eval.params.areaRng[:1]
        coco_eval.params.areaRngLbl = coco_eval.params.areaRngLbl[:1]
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return float(coco_eval.stats[0])


def coco_ap_bound(matches, num_gts, rec_thrs):
    """The COCO AP@[.5:.95] that no ranking of the detections can exceed.

    At threshold t, a ranking's true positives of category c are a
    one-to-one matching, so at most ``M`` (the largest matching, summed
    over images) of the category's ``G`` non-crowd instances: its recall
    never passes ``M / G`` and its precision never passes 1, so its AP
    (COCOeval's precision averaged at the recall points ``rec_thrs``) is
    at most the share of recall points <= ``M / G`` (0 where ``M = 0``).
    Each threshold's bound is reached by ranking a largest matching first,
    but one ranking may not reach all of them at once: a detection that
    overlaps two instances can be the best match of one at a high
    threshold and the only match of the other at a low one.

    Args:
        matches (dict): ``{category id: (T, ) int}`` largest matchings at
            COCOeval's T IoU thresholds, summed over the images.
        num_gts (dict): ``{category id: int}`` non-crowd instances of each
            evaluated category; those with none are left out, as COCOeval
            leaves them out.
        rec_thrs (np.ndarray): COCOeval's recall points.

    Returns:
        float: the bound in [0, 1]; NaN when no category has an instance.
    """
    aps = []
    for cat, num in num_gts.items():
        if num == 0:
            continue
        found = np.asarray(matches.get(cat, [0]))
        aps.append(
            np.where(found > 0, (rec_thrs[None] <= found[:, None] / num).sum(
                axis=1) / len(rec_thrs), 0.).mean())
    return float(np.mean(aps)) if aps else float('nan')
