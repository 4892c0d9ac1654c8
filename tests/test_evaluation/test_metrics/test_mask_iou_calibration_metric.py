"""MaskIoUCalibrationMetric on hand-made 12x12 images with known IoUs."""
import json
import math

import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from mmengine.registry import init_default_scope

from ms_rcnn.evaluation import MaskIoUCalibrationMetric
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


def test_hand_computed_correlations_and_mae(ann_file):
    res = evaluate(ann_file, [sample(1, MASKS, LABELS, SCORES, MASK_SCORES)])
    assert res['calib/num_preds'] == 5
    # Ranks of IoUs (5, 3, 4, 1.5, 1.5); of mask scores
    # (0.81, 0.32, 0.35, 0.06, 0.10): (5, 3, 4, 1, 2). Centred:
    # (2, 0, 1, -1.5, -1.5) and (2, 0, 1, -2, -1): r = 9.5 / sqrt(9.5 * 10).
    assert res['calib/spearman_mask_score_iou'] == pytest.approx(
        math.sqrt(0.95))
    # Class-score ranks (5, 4, 3, 2, 1), centred (2, 1, 0, -1, -2):
    # r = 8.5 / sqrt(9.5 * 10).
    assert res['calib/spearman_cls_score_iou'] == pytest.approx(8.5 /
                                                                math.sqrt(95))
    # Scores centred (.2, .1, 0, -.1, -.2), IoUs (mean 0.4) centred
    # (.6, -1/15, 4/15, -.4, -.4): sum of products 7/30, squares .1 and 34/45.
    assert res['calib/pearson_cls_score_iou'] == pytest.approx(
        (7 / 30) / math.sqrt(0.1 * 34 / 45))
    assert res['calib/pearson_mask_score_iou'] == pytest.approx(
        np.corrcoef(MASK_SCORES, IOUS)[0, 1])
    # |0.9-1| + |0.4-1/3| + |0.5-2/3| + 0.1 + 0.2 = 19/30, over 5.
    assert res['calib/mae_pred_iou'] == pytest.approx(19 / 150, abs=1e-6)
    # True positives (IoU >= 0.5): the first and the third.
    # (|0.9-1| + |0.5-2/3|) / 2 = (1/10 + 1/6) / 2 = 2/15.
    assert res['calib/mae_pred_iou_tp'] == pytest.approx(2 / 15, abs=1e-6)
    # Their IoUs (2/3, 1): numpy's linear quantiles 3/4, 5/6 and 11/12.
    assert res['calib/tp_iou_q1'] == pytest.approx(2 / 3 + 1 / 12)
    assert res['calib/tp_iou_median'] == pytest.approx(5 / 6)
    assert res['calib/tp_iou_q3'] == pytest.approx(1 - 1 / 12)


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
    assert math.isnan(res['calib/segm_mAP_mask'])
    assert math.isnan(res['calib/captured'])
    # The oracle needs no mask score. Category 1: A (IoU 1, score 0.9)
    # comes before the shifted A (IoU 1/3, 0.8) by class score and by
    # oracle, AP 1. Category 2: shifted B (IoU 2/3, 0.7) comes before the
    # mask on A (IoU 0, 0.5) in both rankings too, and the crowd detection
    # is ignored; B matches at the 4 thresholds 0.50-0.65 only: AP 0.4.
    assert res['calib/segm_mAP_cls'] == pytest.approx((1 + 0.4) / 2)
    assert res['calib/headroom'] == pytest.approx(0.0)


def test_rankings_headroom_and_captured(ann_file):
    # Image 2, ground truth A. The TP (IoU 1) has class score 0.6, the FP
    # (IoU 1/3) 0.9. Class score: (FP, TP), AP 0.5 (see above). The mask
    # score (0.57, 0.27), the oracle (0.6, 0.3), the IoU alone and the FP
    # put last all rank the TP first: AP 1. Ordering only the true
    # positives by quality (one TP, the FP keeps 0.9) changes nothing: 0.5.
    samples = [
        sample(2, [square(0, 0), square(0, 2)], [0, 0], [0.6, 0.9],
               [0.57, 0.27])
    ]
    res = evaluate(ann_file, samples)
    expected = dict(
        cls=0.5, mask=1.0, oracle=1.0, oracle_iou=1.0, fp_last=1.0,
        oracle_tp=0.5)
    for ranking, ap in expected.items():
        assert res[f'calib/segm_mAP_{ranking}'] == pytest.approx(ap), ranking
    assert res['calib/headroom'] == pytest.approx(0.5)
    assert res['calib/captured'] == pytest.approx(1.0)
    # A mask score that keeps the class score's order captures nothing.
    samples[0]['pred_instances']['mask_scores'] = torch.tensor([0.3, 0.6])
    assert evaluate(ann_file, samples)['calib/captured'] == pytest.approx(0)


def test_oracle_tp_orders_true_positives_by_quality(ann_file):
    # Category 1 has A on images 1 and 2. d1 on image 1 covers A and two
    # more columns (IoU 16/24 = 2/3), class score 0.7; d2 is A exactly on
    # image 2, 0.5. A third detection, B exactly (category 2), makes
    # category 2's AP 1 in every ranking. No detection is below IoU 0.5,
    # so putting those last changes nothing.
    d1 = sample(1, [square(0, 0, 4, 6), square(6, 6, 5, 5)], [0, 1],
                [0.7, 0.9])
    d2 = sample(2, [square(0, 0)], [0], [0.5])
    res = evaluate(ann_file, [d1, d2])
    # Both match at the 4 thresholds 0.50-0.65: AP 1 there. At the 6 from
    # 0.70, by class score d1 (a FP there) comes first: precision 1/2 up
    # to recall 1/2, i.e. at 51 of COCO's 101 recall points. Ordered by
    # class score x IoU (d1 0.467, d2 0.5) d2 comes first: precision 1;
    # oracle_tp swaps their class scores (d2 0.7, d1 0.5) to the same end.
    by_cls = (4 + 6 * 0.5 * 51 / 101) / 10
    by_quality = (4 + 6 * 51 / 101) / 10
    assert res['calib/segm_mAP_cls'] == pytest.approx((by_cls + 1) / 2)
    assert res['calib/segm_mAP_fp_last'] == pytest.approx((by_cls + 1) / 2)
    for ranking in ('oracle_tp', 'oracle', 'oracle_iou'):
        assert res[f'calib/segm_mAP_{ranking}'] == pytest.approx(
            (by_quality + 1) / 2), ranking
    assert res['calib/headroom'] == pytest.approx((by_quality - by_cls) / 2)


def test_equally_good_masks_leave_no_headroom(ann_file):
    # A exactly on both images, with different class scores: every ranking
    # gives AP 1, so a mask score has nothing to capture.
    samples = [
        sample(1, [square(0, 0), square(6, 6, 5, 5)], [0, 1], [0.9, 0.2],
               [0.1, 0.1]),
        sample(2, [square(0, 0)], [0], [0.4], [0.3])
    ]
    res = evaluate(ann_file, samples)
    for ranking in ('cls', 'mask', 'oracle', 'oracle_iou', 'fp_last',
                    'oracle_tp'):
        assert res[f'calib/segm_mAP_{ranking}'] == pytest.approx(1.0)
    assert res['calib/headroom'] == pytest.approx(0.0)
    assert math.isnan(res['calib/captured'])


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
                'tp_iou_median', 'tp_iou_q3', 'segm_mAP_cls',
                'segm_mAP_mask', 'segm_mAP_oracle', 'segm_mAP_oracle_iou',
                'segm_mAP_fp_last', 'segm_mAP_oracle_tp', 'headroom',
                'captured', 'num_preds'
            }


def test_oracle_tp_keeps_false_positives_in_their_place(ann_file):
    # Image 1, category 1 (A): the shifted A (IoU 2/3, class score 0.9),
    # a FP beside A (IoU 0, 0.8) and A exactly (IoU 1, 0.7). By class
    # score: the TP of IoU 2/3, the FP, the exact TP. oracle_tp hands the
    # good masks' scores (0.9, 0.7) out again by quality: the exact TP
    # 0.9, the shifted one 0.7; the FP stays second. Two detections on A:
    # the higher-scored TP matches it, the other is a false positive.
    samples = [
        sample(1, [square(0, 0, 4, 6), square(8, 0), square(0, 0)],
               [0, 0, 0], [0.9, 0.8, 0.7])
    ]
    res = evaluate(ann_file, samples)
    # Category 2 (B) has no detection: AP 0, so mAP is category 1's / 2.
    # By class score, thresholds 0.50-0.65 (4): first det matches, AP 1;
    # 0.70-0.95 (6): the shifted A fails, the exact A third matches:
    # precision 1/3 at recall 1, AP 1/3.
    by_cls = (4 * 1 + 6 / 3) / 10
    # oracle_tp: the exact A first: AP 1 at every threshold.
    assert res['calib/segm_mAP_cls'] == pytest.approx(by_cls / 2)
    assert res['calib/segm_mAP_oracle_tp'] == pytest.approx(1 / 2)
    # Putting the FP last leaves the shifted A first, the exact A second:
    # from 0.70, precision 1/2 at recall 1 (AP 1/2 instead of 1/3).
    assert res['calib/segm_mAP_fp_last'] == pytest.approx(
        (4 + 6 / 2) / 10 / 2)
