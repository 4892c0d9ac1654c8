"""MaskIoUCalibrationMetric on hand-made 12x12 images with known IoUs."""
import itertools
import json
import math

import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from mmengine.registry import init_default_scope

from ms_rcnn.evaluation import MaskIoUCalibrationMetric, coco_segm_ap
from ms_rcnn.evaluation.metrics.mask_iou_calibration_metric import \
    encode_masks
from ms_rcnn.registry import METRICS

SIZE = 12


def square(y0, x0, h=4, w=4):
    """(SIZE, SIZE) bool mask of an h x w square at top-left (y0, x0)."""
    mask = np.zeros((SIZE, SIZE), bool)
    mask[y0:y0 + h, x0:x0 + w] = True
    return mask


def gt_ann(ann_id, img_id, cat_id, mask, iscrowd=0):
    """A COCO annotation with an exact RLE segmentation (a polygon would be
    rasterised with rounding at the edges)."""
    rle = mask_util.encode(
        np.asfortranarray(mask[..., None].astype(np.uint8)))[0]
    ys, xs = np.nonzero(mask)
    return dict(
        id=ann_id,
        image_id=img_id,
        category_id=cat_id,
        iscrowd=iscrowd,
        area=int(mask.sum()),
        segmentation=dict(size=rle['size'], counts=rle['counts'].decode()),
        bbox=[
            int(xs.min()),
            int(ys.min()),
            int(np.ptp(xs) + 1),
            int(np.ptp(ys) + 1)
        ])


@pytest.fixture
def ann_file(tmp_path):
    """Image 1: category 1 square A (16 px), category 2 square B (25 px) and
    a crowd region of category 2. Image 2: A only."""
    anns = [
        gt_ann(1, 1, 1, square(0, 0)),
        gt_ann(2, 1, 2, square(6, 6, 5, 5)),
        gt_ann(3, 1, 2, square(0, 8), iscrowd=1),
        gt_ann(4, 2, 1, square(0, 0)),
    ]
    coco = dict(
        images=[
            dict(id=i, file_name=f'{i}.png', height=SIZE, width=SIZE)
            for i in (1, 2)
        ],
        annotations=anns,
        categories=[dict(id=1, name='a'),
                    dict(id=2, name='b')])
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(coco))
    return str(path)


def sample(img_id, masks, labels, scores, mask_scores=None):
    pred = dict(
        masks=torch.from_numpy(np.stack(masks)) if masks else torch.zeros(
            (0, SIZE, SIZE), dtype=torch.bool),
        labels=torch.tensor(labels, dtype=torch.long),
        scores=torch.tensor(scores, dtype=torch.float32))
    if mask_scores is not None:
        pred['mask_scores'] = torch.tensor(mask_scores, dtype=torch.float32)
    return dict(img_id=img_id, pred_instances=pred)


# Five detections on image 1 (label 0 = category 1, label 1 = category 2).
MASKS = [
    square(0, 0),  # A exactly: IoU 1
    square(0, 2),  # A shifted 2 columns: 8 / 24 = 1/3
    square(6, 7, 5, 5),  # B shifted 1 column: 20 / 30 = 2/3
    square(0, 8),  # the crowd region, which is ignored: 0
    square(0, 0),  # on A but of category 2: 0
]
LABELS = [0, 0, 1, 1, 1]
IOUS = [1, 1 / 3, 2 / 3, 0, 0]
SCORES = [0.9, 0.8, 0.7, 0.6, 0.5]
PRED_IOUS = [0.9, 0.4, 0.5, 0.1, 0.2]
MASK_SCORES = [s * p for s, p in zip(SCORES, PRED_IOUS)]


def evaluate(ann_file, samples, **kwargs):
    metric = MaskIoUCalibrationMetric(ann_file, **kwargs)
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_statistics_leave_out_detections_on_crowd_regions(ann_file):
    res = evaluate(ann_file, [sample(1, MASKS, LABELS, SCORES, MASK_SCORES)])
    assert res['calib/num_preds'] == 5
    # The fourth detection lies in the crowd region of its category and
    # matches nothing: COCOeval ignores it, and so do the statistics. The
    # other four: true IoUs (1, 1/3, 2/3, 0), class scores (.9, .8, .7,
    # .5), mask scores (.81, .32, .35, .10).
    assert res['calib/num_on_crowd'] == 1
    # Ranks of the IoUs (4, 2, 3, 1), of the mask scores the same: 1.
    assert res['calib/spearman_mask_score_iou'] == pytest.approx(1.0)
    # Class-score ranks (4, 3, 2, 1): centred (1.5, .5, -.5, -1.5) against
    # (1.5, -.5, .5, -1.5): r = 4 / 5.
    assert res['calib/spearman_cls_score_iou'] == pytest.approx(0.8)
    # Scores centred (.175, .075, -.025, -.225), IoUs (mean 1/2) centred
    # (1/2, -1/6, 1/6, -1/2): sum of products 11/60, squares 7/80, 5/9.
    assert res['calib/pearson_cls_score_iou'] == pytest.approx(
        (11 / 60) / math.sqrt(7 / 80 * 5 / 9))
    assert res['calib/pearson_mask_score_iou'] == pytest.approx(
        np.corrcoef([0.81, 0.32, 0.35, 0.10], [1, 1 / 3, 2 / 3, 0])[0, 1])
    # |0.9-1| + |0.4-1/3| + |0.5-2/3| + |0.2-0| = 8/15, over 4.
    assert res['calib/mae_pred_iou'] == pytest.approx(2 / 15, abs=1e-6)
    # True positives (IoU >= 0.5): the first and the third.
    # (|0.9-1| + |0.5-2/3|) / 2 = (1/10 + 1/6) / 2 = 2/15.
    assert res['calib/mae_pred_iou_tp'] == pytest.approx(2 / 15, abs=1e-6)
    # Their IoUs (2/3, 1): numpy's linear quantiles 3/4, 5/6 and 11/12.
    assert res['calib/tp_iou_q1'] == pytest.approx(2 / 3 + 1 / 12)
    assert res['calib/tp_iou_median'] == pytest.approx(5 / 6)
    assert res['calib/tp_iou_q3'] == pytest.approx(1 - 1 / 12)


def test_wrong_class_detection_splits_oracle_and_quality(ann_file):
    # Category 1: A (IoU 1, 0.9) before the shifted A (1/3, 0.8) in every
    # ranking: AP 1. Category 2: the shifted B (2/3, 0.7), the crowd
    # detection (ignored) and the category-2 mask on A (0.5), whose true
    # IoU is 0 but whose IoU with an instance of any class (A) is 1.
    res = evaluate(ann_file, [sample(1, MASKS, LABELS, SCORES)])
    # By class score and by the oracle (0.47 before 0): B matches first at
    # the 4 thresholds 0.50-0.65, AP 1 there, 0 above: 0.4.
    assert res['calib/segm_mAP_cls'] == pytest.approx((1 + 0.4) / 2)
    assert res['calib/segm_mAP_oracle'] == pytest.approx((1 + 0.4) / 2)
    # By quality the mask on A (0.5 x 1) comes before B (0.7 x 2/3):
    # precision 1/2 at recall 1 at those thresholds, 0.2.
    assert res['calib/segm_mAP_quality'] == pytest.approx((1 + 0.2) / 2)
    assert res['calib/room_quality'] == pytest.approx(-0.1)
    assert res['calib/room_class'] == pytest.approx(0.1)
    # Each instance is matched as well as it can be: no room above.
    assert res['calib/segm_mAP_upper'] == pytest.approx(0.7)
    assert res['calib/room_duplicates'] == pytest.approx(0, abs=1e-12)


def test_rooms_and_captured(ann_file):
    # Image 2, ground truth A. The TP (IoU 1) has class score 0.6, the FP
    # (IoU 1/3) 0.9. Class score: (FP, TP), precision 1/2 at recall 1 at
    # every threshold, AP 0.5. The mask score (0.57, 0.27), the oracle and
    # quality (0.6, 0.3) rank the TP first: AP 1, the bound too.
    samples = [
        sample(2, [square(0, 0), square(0, 2)], [0, 0], [0.6, 0.9],
               [0.57, 0.27])
    ]
    res = evaluate(ann_file, samples)
    expected = dict(cls=0.5, mask=1.0, oracle=1.0, quality=1.0, upper=1.0)
    for ranking, ap in expected.items():
        assert res[f'calib/segm_mAP_{ranking}'] == pytest.approx(ap), ranking
    assert res['calib/room_quality'] == pytest.approx(0.5)
    assert res['calib/captured'] == pytest.approx(1.0)
    assert res['calib/captured_upper'] == pytest.approx(1.0)
    # A mask score that keeps the class score's order captures nothing.
    samples[0]['pred_instances']['mask_scores'] = torch.tensor([0.3, 0.6])
    assert evaluate(ann_file, samples)['calib/captured'] == pytest.approx(0)


def test_duplicates_room(ann_file):
    # Category 1 (A on both images): A exactly twice on image 2 (class
    # scores 0.9 and 0.8), and A widened by 2 columns on image 1 (IoU
    # 16 / 24 = 2/3, 0.7). Category 2 (B) has no detection: AP 0, so each
    # mAP is category 1's over 2.
    samples = [
        sample(2, [square(0, 0), square(0, 0)], [0, 0], [0.9, 0.8]),
        sample(1, [square(0, 0, 4, 6)], [0], [0.7]),
    ]
    res = evaluate(ann_file, samples)
    # Every ranking puts the duplicate (a false positive) second: TP, FP,
    # TP at the 4 thresholds 0.50-0.65 (precision 1 up to recall 1/2, 2/3
    # up to 1: (51 + 50 * 2/3) / 101), TP, FP, FP at the 6 others
    # (51 / 101).
    low, high = (51 + 50 * 2 / 3) / 101, 51 / 101
    by_any = (4 * low + 6 * high) / 10 / 2
    for ranking in ('cls', 'oracle', 'quality'):
        assert res[f'calib/segm_mAP_{ranking}'] == pytest.approx(by_any)
    # The bound matches both instances at the 4 low thresholds (AP 1).
    assert res['calib/segm_mAP_upper'] == pytest.approx(
        (4 + 6 * high) / 10 / 2)
    assert res['calib/room_duplicates'] == pytest.approx(4 * (1 - low) / 20)


def test_maskness_rankings(ann_file):
    # Image 2, A: the TP (IoU 1) with class score 0.6 and maskness 0.9,
    # the FP (IoU 1/3) with 0.9 and 0.5: cls x maskness 0.54 against 0.45
    # puts the TP first (AP 1). With mask scores (0.2, 0.3) alone the FP
    # leads (AP 0.5); times the maskness (0.18, 0.15) the TP leads again.
    samples = [
        sample(2, [square(0, 0), square(0, 2)], [0, 0], [0.6, 0.9],
               [0.2, 0.3])
    ]
    samples[0]['pred_instances']['maskness'] = torch.tensor([0.9, 0.5])
    res = evaluate(ann_file, samples)
    assert res['calib/segm_mAP_maskness'] == pytest.approx(1.0)
    assert res['calib/segm_mAP_mask'] == pytest.approx(0.5)
    assert res['calib/segm_mAP_mask_maskness'] == pytest.approx(1.0)
    # Without maskness (a model that gives none): NaN, the rest unchanged.
    del samples[0]['pred_instances']['maskness']
    res = evaluate(ann_file, samples)
    assert math.isnan(res['calib/segm_mAP_maskness'])
    assert math.isnan(res['calib/segm_mAP_mask_maskness'])
    assert res['calib/segm_mAP_mask'] == pytest.approx(0.5)


def test_mask_score_ranking_gives_higher_ap(ann_file):
    # Image 2 has one ground truth A. The good mask (IoU 1) has the lower
    # class score; the bad one (IoU 1/3, below every COCO threshold) the
    # higher. By class score the ranking is (FP, TP): precision 1/2 at
    # recall 1 for all ten thresholds, AP 0.5. By mask score (TP, FP): AP 1.
    samples = [
        sample(2, [square(0, 0), square(0, 2)], [0, 0], [0.6, 0.9],
               [0.6 * 0.95, 0.9 * 0.3])
    ]
    res = evaluate(ann_file, samples)
    assert res['calib/segm_mAP_mask'] == pytest.approx(1.0)
    assert res['calib/segm_mAP_cls'] == pytest.approx(0.5)
    assert res['calib/spearman_mask_score_iou'] == pytest.approx(1.0)
    assert res['calib/spearman_cls_score_iou'] == pytest.approx(-1.0)
    # |0.95 - 1| and |0.3 - 1/3|
    assert res['calib/mae_pred_iou'] == pytest.approx(
        (0.05 + 1 / 30) / 2, abs=1e-6)


def test_without_mask_scores(ann_file):
    # A plain Mask R-CNN: the correlations of the mask score are those of
    # the class score; MAE, mask-score AP and `captured` undefined.
    res = evaluate(ann_file, [sample(1, MASKS, LABELS, SCORES)])
    assert math.isnan(res['calib/mae_pred_iou'])
    for kind in ('pearson', 'spearman'):
        assert (res[f'calib/{kind}_mask_score_iou'] ==
                res[f'calib/{kind}_cls_score_iou'])
    for key in ('segm_mAP_mask', 'segm_mAP_mask_maskness', 'captured',
                'captured_upper'):
        assert math.isnan(res[f'calib/{key}']), key


def test_equally_good_masks_leave_no_room(ann_file):
    # A exactly on both images, with different class scores: every ranking
    # gives AP 1, so a mask score has nothing to capture.
    samples = [
        sample(1, [square(0, 0), square(6, 6, 5, 5)], [0, 1], [0.9, 0.2],
               [0.1, 0.1]),
        sample(2, [square(0, 0)], [0], [0.4], [0.3])
    ]
    res = evaluate(ann_file, samples)
    for ranking in ('cls', 'mask', 'oracle', 'quality', 'upper'):
        assert res[f'calib/segm_mAP_{ranking}'] == pytest.approx(1.0)
    for room in ('quality', 'class', 'duplicates'):
        assert res[f'calib/room_{room}'] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(res['calib/captured'])
    assert math.isnan(res['calib/captured_upper'])


def test_score_thr_and_rle_input(ann_file):
    # Below score_thr (0.05): dropped. Masks given as RLE dicts, as mmdet's
    # DumpDetResults stores them, give the same result as tensors.
    scores = [0.9, 0.8, 0.7, 0.6, 0.01]
    tensors = evaluate(ann_file,
                       [sample(1, MASKS, LABELS, scores, MASK_SCORES)])
    assert tensors['calib/num_preds'] == 4
    rle_sample = sample(1, MASKS, LABELS, scores, MASK_SCORES)
    rle_sample['pred_instances']['masks'] = [
        mask_util.encode(np.asfortranarray(m[..., None].astype(np.uint8)))[0]
        for m in MASKS
    ]
    rles = evaluate(ann_file, [rle_sample])
    assert rles == pytest.approx(tensors, nan_ok=True)


def test_degenerate_cases(ann_file):
    # No detection at all: every correlation NaN, AP 0, nothing crashes.
    res = evaluate(ann_file, [sample(1, [], [], [])])
    assert res['calib/num_preds'] == 0
    assert res['calib/segm_mAP_cls'] == 0.0
    for key in ('pearson_mask_score_iou', 'spearman_cls_score_iou',
                'mae_pred_iou'):
        assert math.isnan(res[f'calib/{key}'])
    # One detection: correlations NaN, MAE defined.
    res = evaluate(ann_file, [sample(2, [square(0, 0)], [0], [0.8], [0.4])])
    assert math.isnan(res['calib/pearson_cls_score_iou'])
    assert res['calib/mae_pred_iou'] == pytest.approx(0.5)
    assert res['calib/segm_mAP_cls'] == pytest.approx(1.0)
    # Equal class scores: the class-score correlation is undefined.
    res = evaluate(ann_file, [sample(1, MASKS, LABELS, [0.5] * 5)])
    assert math.isnan(res['calib/pearson_cls_score_iou'])


def test_bad_input(ann_file, tmp_path):
    missing = str(tmp_path / 'nope.json')
    with pytest.raises(FileNotFoundError, match='nope.json'):
        MaskIoUCalibrationMetric(missing)
    with pytest.raises(KeyError, match='image id 7'):
        evaluate(ann_file, [sample(7, MASKS, LABELS, SCORES)])
    big = sample(1, [np.zeros((20, 20), bool)], [0], [0.9])
    with pytest.raises(ValueError, match='does not match'):
        evaluate(ann_file, [big])
    metric = MaskIoUCalibrationMetric(ann_file)
    metric.dataset_meta = dict(classes=('a', 'zebra'))
    metric.process({}, [sample(1, MASKS, LABELS, SCORES)])
    with pytest.raises(ValueError, match='zebra'):
        metric.evaluate(1)


def test_dataset_classes_map_labels_to_categories(ann_file):
    # With classes ('b',), label 0 is category 2: detection on B scores
    # IoU 2/3, the same mask labelled as category 1 would score 0.
    metric = MaskIoUCalibrationMetric(ann_file)
    metric.dataset_meta = dict(classes=('b', ))
    metric.process({}, [sample(1, [MASKS[2]], [0], [0.9], [0.45])])
    assert metric.evaluate(1)['calib/mae_pred_iou'] == pytest.approx(
        2 / 3 - 0.5, abs=1e-6)


def test_built_from_registry_with_prefix(ann_file):
    init_default_scope('ms_rcnn')
    metric = METRICS.build(
        dict(
            type='MaskIoUCalibrationMetric', ann_file=ann_file, prefix='mine'))
    assert isinstance(metric, MaskIoUCalibrationMetric)
    metric.process({}, [sample(1, MASKS, LABELS, SCORES, MASK_SCORES)])
    res = metric.evaluate(1)
    assert res['mine/num_preds'] == 5
    assert {k.split('/')[1]
            for k in res} == {
                'pearson_mask_score_iou', 'spearman_mask_score_iou',
                'pearson_cls_score_iou', 'spearman_cls_score_iou',
                'mae_pred_iou', 'mae_pred_iou_tp', 'tp_iou_q1',
                'tp_iou_median', 'tp_iou_q3', 'num_preds', 'num_on_crowd',
                'segm_mAP_cls', 'segm_mAP_mask', 'segm_mAP_oracle',
                'segm_mAP_quality', 'segm_mAP_maskness',
                'segm_mAP_mask_maskness', 'segm_mAP_upper', 'room_quality',
                'room_class', 'room_duplicates', 'captured', 'captured_upper'
            }


def rect(y0, x0, h, w, size=16):
    """(size, size) bool mask of an h x w rectangle at (y0, x0)."""
    mask = np.zeros((size, size), bool)
    mask[y0:y0 + h, x0:x0 + w] = True
    return mask


def coco_file(tmp_path, anns, size=16):
    """An annotation file of one image (id 1) holding ``anns``: (category,
    mask, iscrowd) triples; categories 1 ('a') and 2 ('b')."""
    coco = dict(
        images=[dict(id=1, file_name='1.png', height=size, width=size)],
        annotations=[
            gt_ann(i + 1, 1, cat, mask, crowd)
            for i, (cat, mask, crowd) in enumerate(anns)
        ],
        categories=[dict(id=1, name='a'),
                    dict(id=2, name='b')])
    path = tmp_path / 'bound.json'
    path.write_text(json.dumps(coco))
    return str(path)


def best_ap_of_every_order(path, masks, labels):
    """The largest COCO segm mAP (pycocotools) over every order of the
    detections. COCOeval ranks each category's detections apart from the
    others', so every order of each category's detections, combined,
    covers every distinct result of the orders of all detections."""
    coco = MaskIoUCalibrationMetric(path)._coco
    rles = encode_masks(np.stack(masks))
    by_cat = [[i for i, label in enumerate(labels) if label == cat]
              for cat in sorted(set(labels))]
    best = 0.
    for orders in itertools.product(*map(itertools.permutations, by_cat)):
        dets = []
        for order in orders:
            for rank, i in enumerate(order):
                dets.append(
                    dict(image_id=1, category_id=labels[i] + 1,
                         segmentation=rles[i], score=1. - rank / 10))
        best = max(best, coco_segm_ap(coco, dets, [1], [1, 2]))
    return best


def test_upper_bound_beats_every_order(tmp_path):
    # Category 1: A and B; category 2: C and a crowd region. Seven
    # detections: A exactly, a duplicate of A one column off (IoU 0.6), 3
    # columns of B's 4 (0.75), a background one; C without its last
    # column (0.8), one inside the crowd region, one of category 2 on A.
    path = coco_file(tmp_path, [(1, rect(0, 0, 4, 4), 0),
                                (1, rect(0, 6, 4, 4), 0),
                                (2, rect(8, 0, 5, 5), 0),
                                (2, rect(8, 8, 6, 6), 1)])
    masks = [rect(0, 0, 4, 4), rect(0, 1, 4, 4), rect(0, 6, 4, 3),
             rect(13, 0, 3, 3), rect(8, 0, 5, 4), rect(9, 9, 3, 3),
             rect(0, 0, 4, 4)]
    labels = [0, 0, 0, 0, 1, 1, 1]
    metric = MaskIoUCalibrationMetric(path)
    metric.process({}, [sample(1, masks, labels, [0.5] * 7)])
    upper = metric.evaluate(1)['calib/segm_mAP_upper']
    best = best_ap_of_every_order(path, masks, labels)
    assert best <= upper + 1e-12
    # Here one order reaches it: A and B first (each matched up to its
    # IoU), C first in its category. Category 1: A at 10 thresholds, B at
    # 6 (0.50-0.75); category 2: C at 7 (0.50-0.80); all of 2 and 1
    # instances: recall points <= 1/2 (51) or all 101.
    expected = ((4 * 101 + 2 * 101 + 4 * 51) / 10 / 101 + 7 / 10) / 2
    assert upper == pytest.approx(expected)
    assert best == pytest.approx(upper)


def test_upper_bound_where_no_order_reaches_it(tmp_path):
    # P and Q (category 1) overlap: P is columns 0-19 of rows 0-3, Q
    # columns 1-20. y is P exactly (IoU 1 with P, 76 / 84 = 0.905 with
    # Q); w is columns 0-16 (IoU 68 / 80 = 0.85 with P, 64 / 84 = 0.762
    # with Q). COCOeval gives each detection, in rank order, the free
    # instance of highest IoU.
    size = 24
    p, q = rect(0, 0, 4, 20, size), rect(0, 1, 4, 20, size)
    path = coco_file(tmp_path, [(1, p, 0), (1, q, 0)], size)
    y, w = p.copy(), rect(0, 0, 4, 17, size)
    res = evaluate(path, [sample(1, [y, w], [0, 0], [0.9, 0.8])])
    # y first (one detection per instance, the best by IoU, first): y
    # takes P; w takes Q up to 0.75: both instances at the 6 thresholds
    # 0.50-0.75, one of two (51 of 101 recall points) above. Category 2
    # has no instance and is left out.
    assert res['calib/segm_mAP_cls'] == pytest.approx(
        (6 + 4 * 51 / 101) / 10)
    # The bound: both at the 8 thresholds 0.50-0.85 (w with P, y with Q),
    # one above (y with P).
    upper = (8 + 2 * 51 / 101) / 10
    assert res['calib/segm_mAP_upper'] == pytest.approx(upper)
    # w first reaches both up to 0.85, but then fails at 0.90 and 0.95
    # before y takes P (precision 1/2): no order reaches the bound.
    assert best_ap_of_every_order(path, [y, w], [0, 0]) == pytest.approx(
        (8 + 2 * 51 / 101 / 2) / 10)
