"""Matching, the AP bound, correlations and reliability bins, on
hand-computed cases."""
import contextlib
import io
import math

import numpy as np
import pycocotools.mask as mask_util
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ms_rcnn.evaluation.functional import (coco_ap_bound, coco_segm_ap,
                                           image_ious, mask_ious, pearson,
                                           reliability_curve, spearman)


def rle(y0, x0, h=4, w=4, size=12):
    """RLE of an h x w square with top-left pixel (y0, x0)."""
    mask = np.zeros((size, size, 1), np.uint8)
    mask[y0:y0 + h, x0:x0 + w] = 1
    return mask_util.encode(np.asfortranarray(mask))[0]


def coco_of(anns, size=12):
    """A pycocotools COCO of one image (id 1) holding ``anns``: (category,
    rle, iscrowd) triples."""
    coco = COCO()
    coco.dataset = dict(
        images=[dict(id=1, height=size, width=size)],
        categories=[dict(id=1, name='a'),
                    dict(id=2, name='b')],
        annotations=[
            dict(
                id=i + 1,
                image_id=1,
                category_id=cat,
                segmentation=dict(size=r['size'], counts=r['counts'].decode()),
                area=float(mask_util.area(r)),
                bbox=mask_util.toBbox(r).tolist(),
                iscrowd=crowd) for i, (cat, r, crowd) in enumerate(anns)
        ])
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def test_image_ious_hand_computed():
    # 16 px of category 1, 25 px of category 2, and a crowd region of
    # category 2 (rows 0-3, columns 8-11).
    coco = coco_of([(1, rle(0, 0), 0), (2, rle(6, 6, 5, 5), 0),
                    (2, rle(0, 8), 1)])
    preds = [
        rle(0, 0),  # the first ground truth exactly: 1
        rle(0, 2),  # shifted 2 columns: 8 / (16 + 16 - 8) = 1/3
        rle(6, 7, 5, 5),  # shifted 1 column: 20 / (25 + 25 - 20) = 2/3
        rle(0, 0),  # on the first ground truth, but category 2: 0
        rle(0, 9, 4, 3),  # inside the crowd region, category 2: 0
        rle(0, 9, 4, 3),  # the same, category 1 (the crowd is 2's): 0
    ]
    found = image_ious(coco, 1, preds, [1, 1, 2, 2, 2, 1], [0.5, 0.7])
    np.testing.assert_allclose(found['ious'], [1, 1 / 3, 2 / 3, 0, 0, 0])
    # Any class: the category-2 mask on A has IoU 1 with A.
    np.testing.assert_allclose(found['any_class_ious'],
                               [1, 1 / 3, 2 / 3, 1, 0, 0])
    assert found['on_crowd'].tolist() == [False] * 4 + [True, False]
    # Category 1: only the first matches A at 0.5 and 0.7 (one instance).
    # Category 2: the shifted B (2/3) at 0.5, nothing at 0.7.
    assert found['matches'][1].tolist() == [1, 1]
    assert found['matches'][2].tolist() == [1, 0]


def test_image_ious_takes_the_best_gt_of_the_class():
    # Two ground truths of the same class: the prediction overlaps the first
    # by 1/3 and the second exactly.
    coco = coco_of([(1, rle(0, 2), 0), (1, rle(0, 4), 0)])
    found = image_ious(coco, 1, [rle(0, 4)], [1], [0.5])
    np.testing.assert_allclose(found['ious'], [1.])


def test_image_ious_matches_one_to_one():
    # Two predictions on the first instance: one match. A prediction one
    # column off the second instance (IoU 12 / 20 = 0.6) matches it up to
    # the threshold 0.6, inclusive as in COCOeval.
    coco = coco_of([(1, rle(0, 0), 0), (1, rle(6, 0), 0)])
    found = image_ious(coco, 1,
                       [rle(0, 0), rle(0, 0), rle(6, 1)], [1, 1, 1],
                       [0.5, 0.6, 0.65])
    assert found['matches'][1].tolist() == [2, 2, 1]


def test_image_ious_empty_and_size_mismatch():
    coco = coco_of([(1, rle(0, 0), 0)])
    found = image_ious(coco, 1, [], [], [0.5])
    assert found['ious'].shape == (0, )
    assert found['matches'][1].tolist() == [0]
    assert mask_ious([rle(0, 0)], []).shape == (1, 0)
    with pytest.raises(ValueError, match=r'size \[20, 20\]'):
        image_ious(coco, 1, [rle(0, 0, size=20)], [1], [0.5])
    with pytest.raises(KeyError, match='image id 3'):
        image_ious(coco, 3, [], [], [0.5])


def test_coco_ap_bound_hand_computed():
    rec_thrs = np.linspace(0, 1, 101)
    # Category 1: 2 of 4 instances matched at the first threshold, 1 at the
    # second: recall points <= 0.5 (51 of 101) and <= 0.25 (26). Category
    # 2: nothing matched. Category 3 has no instance: left out.
    bound = coco_ap_bound({
        1: np.array([2, 1]),
        2: np.array([0, 0])
    }, {
        1: 4,
        2: 3,
        3: 0
    }, rec_thrs)
    assert bound == pytest.approx(((51 + 26) / 101 / 2 + 0) / 2)
    assert math.isnan(coco_ap_bound({}, {1: 0}, rec_thrs))


def test_coco_segm_ap_matches_area_all_only_with_cocoevals_ap(
        monkeypatch):
    # Small, medium and large instances (areas 16, 64, 1600, 10000 on a
    # 128 px image), two classes, a duplicate and a miss: coco_segm_ap
    # matches only the area range 'all'; its AP is that of pycocotools'
    # COCOeval run as CocoMetric runs it, all four area ranges matched.
    size = 128
    gts = [(1, rle(0, 0, 4, 4, size), 0), (1, rle(10, 10, 40, 40, size), 0),
           (2, rle(20, 20, 100, 100, size), 0), (2, rle(60, 0, 8, 8, size), 0)]
    coco = coco_of(gts, size)
    dets = [(1, rle(0, 0, 4, 3, size), 0.9), (1, rle(12, 10, 38, 40,
                                                     size), 0.8),
            (1, rle(10, 12, 40, 36, size), 0.85),
            (2, rle(22, 20, 98, 100, size), 0.7),
            (2, rle(100, 100, 8, 8, size), 0.95)]
    dets = [
        dict(
            image_id=1,
            category_id=cat,
            segmentation=dict(size=r['size'], counts=r['counts'].decode()),
            score=score) for cat, r, score in dets
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_eval = COCOeval(coco, coco.loadRes([dict(d) for d in dets]),
                             'segm')
        coco_eval.params.maxDets = [100, 300, 1000]
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    assert len(coco_eval.params.areaRng) == 4
    assert 0 < coco_eval.stats[0] < 1
    matched = []
    evaluate = COCOeval.evaluate
    monkeypatch.setattr(
        COCOeval, 'evaluate',
        lambda self: matched.append(self.params.areaRngLbl) or evaluate(self))
    assert coco_segm_ap(coco, dets, [1]) == pytest.approx(
        coco_eval.stats[0], abs=1e-12)
    assert matched == [['all']]


def test_pearson_hand_computed():
    # x - mean = (-1, 0, 1), y - mean = (-4/3, -1/3, 5/3):
    # r = 3 / sqrt(2 * 14/3) = 3 * sqrt(3 / 28)
    assert pearson([1, 2, 3],
                   [1, 2, 4]) == pytest.approx(3 * math.sqrt(3 / 28))
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.)


def test_spearman_averages_tied_ranks():
    # Ranks (1, 2.5, 2.5, 4) and (1, 2, 3, 4); centred (-1.5, 0, 0, 1.5) and
    # (-1.5, -.5, .5, 1.5): r = 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10).
    assert spearman([1, 2, 2, 3],
                    [1, 2, 3, 4]) == pytest.approx(3 / math.sqrt(10))
    # Monotonic but not linear: Spearman 1, Pearson below 1.
    x = [1, 2, 3, 4]
    assert spearman(x, np.exp(x)) == pytest.approx(1.)
    assert pearson(x, np.exp(x)) < 0.95


@pytest.mark.parametrize('x, y', [([], []), ([0.5], [0.3]),
                                  ([0.5, 0.5, 0.5], [0.1, 0.2, 0.3]),
                                  ([0.1, 0.2, 0.3], [0., 0., 0.])])
def test_correlations_degenerate_are_nan(x, y):
    assert math.isnan(pearson(x, y))
    assert math.isnan(spearman(x, y))


def test_constant_floats_are_detected_exactly():
    # mean(0.1, 0.1, 0.1) is not exactly 0.1 in floating point, so a test on
    # the centred values would see a tiny spread and return +-1.
    assert math.isnan(pearson([0.1] * 3, [0.1, 0.7, 0.2]))


def test_reliability_curve_hand_computed():
    mean_pred, mean_actual, counts = reliability_curve(
        [0.05, 0.15, 0.12, 1.0, 1.3], [0.1, 0.2, 0.4, 0.9, 0.7], num_bins=10)
    assert counts.tolist() == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert mean_pred[0] == pytest.approx(0.05)
    assert mean_actual[0] == pytest.approx(0.1)
    assert mean_pred[1] == pytest.approx(0.135)
    assert mean_actual[1] == pytest.approx(0.3)
    # 1.0 and 1.3 (clipped to 1.0) fall in the last bin, not past it.
    assert mean_pred[9] == pytest.approx(1.0)
    assert mean_actual[9] == pytest.approx(0.8)
    assert np.isnan(mean_pred[2:9]).all() and np.isnan(mean_actual[2:9]).all()
