"""HmeanIoUMetric on hand-made polygons with hand-computed results."""
import json

import cv2
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData

import ms_rcnn.evaluation.metrics.hmean_iou_metric as hmean_module
from ms_rcnn.evaluation.metrics.hmean_iou_metric import count_matches
from ms_rcnn.registry import METRICS


def rect(x0, y0, x1, y1):
    return [x0, y0, x1, y0, x1, y1, x0, y1]


GT1, GT2, DNC = rect(0, 0, 10, 10), rect(20, 0, 30, 10), rect(40, 0, 50, 10)
P_INSIDE_DNC = rect(41, 1, 49, 9)  # wholly inside the do-not-care square
P_IOU_06 = rect(0, 0, 10, 6)  # with GT1: 60 / 100
P_IOU_03 = rect(20, 0, 23, 10)  # with GT2: 30 / 100


def write_ann(path, images):
    """``images``: {img_id: [(polygon, iscrowd), ...]}."""
    anns = [
        dict(
            id=i, image_id=img_id, category_id=1, segmentation=[poly],
            iscrowd=crowd, text='t')
        for i, (img_id, poly, crowd) in enumerate(
            ((k, p, c) for k, v in images.items() for p, c in v), start=1)
    ]
    coco = dict(
        images=[dict(id=k, file_name=f'{k}.jpg', width=64, height=32)
                for k in images],
        annotations=anns,
        categories=[dict(id=1, name='text')])
    with open(path, 'w') as f:
        json.dump(coco, f)
    return str(path)


def sample(img_id, polygons, scores, **extra):
    pred = dict(polygons=[np.array(p, np.float32) for p in polygons],
                scores=torch.tensor(scores), **extra)
    return dict(img_id=img_id, pred_instances=pred)


def evaluate(ann_file, samples, **kwargs):
    metric = METRICS.build(dict(type='HmeanIoUMetric', ann_file=ann_file,
                                **kwargs))
    metric.process({}, samples)
    return metric.evaluate(len(samples))


@pytest.fixture
def one_image(tmp_path):
    return write_ann(tmp_path / 'ann.json',
                     {7: [(GT1, 0), (GT2, 0), (DNC, 1)]})


def test_two_gts_one_dnc_three_preds(one_image):
    # Scores lie between grid points (0.05 steps), so the sweep is exact:
    #   thr <= 0.35: preds 0.52 and 0.37 count (the one inside the
    #     do-not-care region is discarded): 1 hit / 2 preds / 2 gts
    #     -> P 0.5, R 0.5, hmean 0.5
    #   0.40 <= thr <= 0.50: pred 0.52 only -> P 1, R 0.5, hmean 2/3
    #   thr >= 0.55: nothing -> 0
    # best: hmean 2/3, first reached at 0.40
    res = evaluate(one_image, [
        sample(7, [P_INSIDE_DNC, P_IOU_06, P_IOU_03], [0.83, 0.52, 0.37])
    ])
    assert res == pytest.approx({
        'icdar/precision': 1.0,
        'icdar/recall': 0.5,
        'icdar/hmean': 2 / 3,
        'icdar/best_score_thr': 0.40
    })


def test_without_dnc_discard_the_pred_is_a_false_positive(one_image):
    # ignore_precision_thr=1 discards nothing: at 0.40..0.50 the preds 0.83
    # and 0.52 give 1 hit / 2 preds -> P 0.5, R 0.5, hmean 0.5 (at <= 0.35,
    # 1/3 and 1/2 -> 0.4; at >= 0.55, 0)
    res = evaluate(one_image, [
        sample(7, [P_INSIDE_DNC, P_IOU_06, P_IOU_03], [0.83, 0.52, 0.37])
    ], ignore_precision_thr=1.0)
    assert res['icdar/hmean'] == pytest.approx(0.5)
    assert res['icdar/precision'] == pytest.approx(0.5)
    assert res['icdar/best_score_thr'] == pytest.approx(0.40)


def test_half_outside_dnc_is_kept(one_image):
    # 40 % of the pred lies in the do-not-care square: not discarded, so it
    # is a false positive beside the hit: P 1/2, R 1/2 at thr 0.05 .. 0.50
    res = evaluate(one_image, [
        sample(7, [rect(34, 0, 44, 10), P_IOU_06], [0.63, 0.52])
    ])
    assert res['icdar/precision'] == pytest.approx(0.5)
    assert res['icdar/hmean'] == pytest.approx(0.5)
    assert res['icdar/best_score_thr'] == pytest.approx(0.05)


def test_counts_are_summed_over_images(tmp_path):
    # image 1: 1 gt, 1 exact pred; image 2: 3 gts, no pred.
    # summed: R = 1 / 4 (a per-image mean would say 1 / 2), P = 1
    ann = write_ann(tmp_path / 'ann.json', {
        1: [(GT1, 0)],
        2: [(GT1, 0), (GT2, 0), (DNC, 0)]
    })
    res = evaluate(ann, [sample(1, [GT1], [0.93]), sample(2, [], [])])
    assert res['icdar/recall'] == pytest.approx(0.25)
    assert res['icdar/precision'] == pytest.approx(1.0)
    assert res['icdar/hmean'] == pytest.approx(0.4)
    assert res['icdar/best_score_thr'] == pytest.approx(0.05)


def test_empty_polygon_is_a_false_positive(one_image):
    res = evaluate(one_image, [
        sample(7, [GT1, [], GT2], [0.52, 0.52, 0.52])
    ])
    assert res['icdar/precision'] == pytest.approx(2 / 3)
    assert res['icdar/recall'] == pytest.approx(1.0)


def test_masks_and_mask_scores_through_the_evaluator(one_image):
    # The same three predictions as masks; mask_scores take precedence over
    # scores (here 0.95, which would change the best threshold).
    # cv2.rectangle fills pixels x0..x1, whose contour is rect(x0, .., y1).
    masks = np.zeros((3, 12, 56), np.uint8)
    for m, (x0, y0, x1, y1) in zip(masks, [(41, 1, 49, 9), (0, 0, 10, 6),
                                           (20, 0, 23, 10)]):
        cv2.rectangle(m, (x0, y0), (x1, y1), 1, thickness=-1)
    pred = InstanceData(
        masks=torch.from_numpy(masks).bool(),
        scores=torch.tensor([0.95, 0.95, 0.95]),
        mask_scores=torch.tensor([0.83, 0.52, 0.37]))
    data_sample = DetDataSample(metainfo=dict(img_id=7))
    data_sample.pred_instances = pred
    evaluator = Evaluator(
        METRICS.build(dict(type='HmeanIoUMetric', ann_file=one_image)))
    evaluator.process([data_sample])
    res = evaluator.evaluate(1)
    assert res['icdar/hmean'] == pytest.approx(2 / 3)
    assert res['icdar/best_score_thr'] == pytest.approx(0.40)


def test_sweep_is_logged(one_image, monkeypatch):
    logged = []
    monkeypatch.setattr(hmean_module, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    evaluate(one_image, [
        sample(7, [P_INSIDE_DNC, P_IOU_06, P_IOU_03], [0.83, 0.52, 0.37])
    ], pred_score_thrs=[0.3, 0.4, 0.6])
    table = logged[0].splitlines()
    assert table[2].split() == ['0.30', '0.5000', '0.5000', '0.5000', '1/2/2']
    assert table[3].split() == ['0.40', '1.0000', '0.5000', '0.6667', '1/1/2']
    assert table[4].split() == ['0.60', '0.0000', '0.0000', '0.0000', '0/0/2']
    assert logged[1].startswith('1 predictions discarded inside do-not-care')


def test_default_thresholds_start_low(one_image):
    # rescored MS R-CNN scores are products of two probabilities: the sweep
    # must reach well below mmocr's 0.3
    metric = METRICS.build(dict(type='HmeanIoUMetric', ann_file=one_image))
    # 0.05, 0.10, ..., 0.90 as the doubles nearest the decimals, so that a
    # score of exactly 0.15 passes the threshold printed as 0.15
    assert metric.score_thrs.tolist() == [i / 20 for i in range(1, 19)]


def test_count_matches_vanilla_takes_each_gt_first_free_pred_in_order():
    # gt0 takes pred0 (first above 0.5, not the best), gt1 then takes pred1:
    # 2 matches, where pairing by descending IoU would give gt0 pred1 and
    # leave gt1 without a match
    assert count_matches(np.array([[0.6, 0.9], [0.0, 0.7]]), 0.5) == 2
    # gt0 takes pred0; gt1's only candidate is taken: 1 match
    assert count_matches(np.array([[0.7, 0.8], [0.9, 0.0]]), 0.5) == 1
    # two preds on one GT: one hit
    assert count_matches(np.array([[0.9, 0.8]]), 0.5) == 1
    # the threshold is strict, as in the ICDAR protocol
    assert count_matches(np.array([[0.5]]), 0.5) == 0
    assert count_matches(np.array([[0.51]]), 0.5) == 1
    assert count_matches(np.zeros((2, 0)), 0.5) == 0


def test_count_matches_max_matching_is_a_maximum_matching():
    # gt0 pred1 and gt1 pred0: 2 matches, where list order (gt0 takes pred0)
    # and descending IoU (gt0 pred0 at 0.9 first) both stop at 1
    ious = np.array([[0.9, 0.6], [0.8, 0.0]])
    assert count_matches(ious, 0.5, 'vanilla') == 1
    assert count_matches(ious, 0.5, 'max_matching') == 2
    # 3 GTs all above 0.5 only with pred0, and gt2 also with pred1: 2
    ious = np.array([[0.9, 0.], [0.8, 0.], [0.7, 0.6]])
    assert count_matches(ious, 0.5, 'max_matching') == 2
    assert count_matches(np.array([[0.5]]), 0.5, 'max_matching') == 0
    assert count_matches(np.zeros((0, 3)), 0.5, 'max_matching') == 0


# One detection overlaps both GTs by more than 0.5. IoUs, by hand (all
# boxes 10 x 10, overlaps along x only):
#   gt0 [0, 10]:  det0 [2, 12] 80 / 120 = 2/3,   det1 [-1.5, 8.5] 85 / 115
#   gt1 [3, 13]:  det0 90 / 110 = 9/11,          det1 55 / 145
GT_A, GT_B = rect(0, 0, 10, 10), rect(3, 0, 13, 10)
DET_A, DET_B = rect(2, 0, 12, 10), rect(-1.5, 0, 8.5, 10)


@pytest.mark.parametrize('strategy, hits', [('vanilla', 1),
                                            ('max_matching', 2)])
def test_detection_over_two_gts(tmp_path, strategy, hits):
    # vanilla (the ICDAR script): gt0 takes det0, the first above 0.5; gt1
    # is left with det1 at 11/29: 1 hit / 2 dets / 2 gts -> P = R = H = 0.5.
    # max_matching: gt0 det1 and gt1 det0: 2 hits -> P = R = H = 1.
    ann = write_ann(tmp_path / 'ann.json', {1: [(GT_A, 0), (GT_B, 0)]})
    metric = METRICS.build(
        dict(type='HmeanIoUMetric', ann_file=ann, strategy=strategy,
             pred_score_thrs=[0.3]))
    metric.process({}, [sample(1, [DET_A, DET_B], [0.8, 0.7])])
    np.testing.assert_allclose(metric.results[0]['ious'],
                               [[2 / 3, 85 / 115], [9 / 11, 55 / 145]])
    res = metric.evaluate(1)
    assert res == pytest.approx({
        'icdar/precision': hits / 2,
        'icdar/recall': hits / 2,
        'icdar/hmean': hits / 2,
        'icdar/best_score_thr': 0.3
    })


def test_default_strategy_is_vanilla(one_image):
    metric = METRICS.build(dict(type='HmeanIoUMetric', ann_file=one_image))
    assert metric.strategy == 'vanilla'


def test_unknown_strategy(one_image):
    with pytest.raises(ValueError, match="got 'hungarian'"):
        METRICS.build(dict(type='HmeanIoUMetric', ann_file=one_image,
                           strategy='hungarian'))


def test_set_without_text_has_recall_0(tmp_path):
    # nothing to find: recall 0 (as the ICDAR script), so hmean 0
    ann = write_ann(tmp_path / 'ann.json', {1: [(DNC, 1)]})
    res = evaluate(ann, [sample(1, [GT1], [0.9])])
    assert res['icdar/recall'] == 0
    assert res['icdar/precision'] == 0
    assert res['icdar/hmean'] == 0


def test_zero_area_do_not_care_gt_discards_nothing(tmp_path):
    # the converters keep a zero-area polygon as do-not-care: lying on
    # GT1's diagonal, it holds no area of the prediction, which still hits
    ann = write_ann(tmp_path / 'ann.json',
                    {1: [(GT1, 0), ([0, 0, 5, 5, 10, 10, 0, 0], 1)]})
    res = evaluate(ann, [sample(1, [GT1], [0.9])])
    assert res['icdar/precision'] == 1
    assert res['icdar/recall'] == 1


def test_unknown_image_id(one_image):
    metric = METRICS.build(dict(type='HmeanIoUMetric', ann_file=one_image))
    with pytest.raises(KeyError, match='img_id 8'):
        metric.process({}, [sample(8, [GT1], [0.5])])


@pytest.mark.parametrize('score_key, hmean, thr',
                         [(None, 0.5, 0.05), ('mask_scores', 0.5, 0.05),
                          ('scores', 2 / 3, 0.40)])
def test_score_key_picks_the_ranking_score(one_image, score_key, hmean, thr):
    # Class scores 0.83, 0.52, 0.37 as in test_two_gts_one_dnc_three_preds
    # (best hmean 2/3 at 0.40); mask scores all 0.12: only thresholds
    # <= 0.10 keep the preds 0.52 and 0.37 -> 1 hit / 2 preds / 2 gts,
    # hmean 0.5 at 0.05. Without score_key the mask scores rank.
    res = evaluate(one_image, [
        sample(7, [P_INSIDE_DNC, P_IOU_06, P_IOU_03], [0.83, 0.52, 0.37],
               mask_scores=torch.tensor([0.12, 0.12, 0.12]))
    ], score_key=score_key)
    assert res['icdar/hmean'] == pytest.approx(hmean)
    assert res['icdar/best_score_thr'] == pytest.approx(thr)


def test_unknown_score_key_is_named(one_image):
    with pytest.raises(KeyError, match="score_key 'quality' is not in"):
        evaluate(one_image, [sample(7, [GT1], [0.9])], score_key='quality')


def test_rankings_threshold_the_same_predictions(one_image):
    # Two exact hits (class scores 0.98 and 0.97, mask scores 0.9 and 0.85,
    # maskness 0.9 and 0.8) and a false positive P (true IoU 30 / 110 =
    # 3/11 with GT2) with class score 0.92, mask score 0.22, maskness 0.6;
    # a fourth prediction lies inside the do-not-care region and is
    # discarded in every ranking.
    p_fp = rect(19, 0, 23, 10)
    res = evaluate(
        one_image, [
            sample(7, [GT1, GT2, p_fp, P_INSIDE_DNC], [0.98, 0.97, 0.92, 0.99],
                   mask_scores=torch.tensor([0.9, 0.85, 0.22, 0.99]),
                   maskness=torch.tensor([0.9, 0.8, 0.6, 0.9]))
        ],
        rankings=('cls', 'mask', 'oracle', 'quality', 'maskness',
                  'mask_maskness'))
    # With P: 2 hits / 3 preds / 2 GTs -> P 2/3, R 1, hmean 0.8; without
    # it: hmean 1. The class score cannot drop P at thresholds <= 0.90
    # (0.8); the wide sweep drops it from 0.93 up to 0.97.
    assert res['icdar/hmean_cls'] == pytest.approx(0.8)
    assert res['icdar/score_thr_cls'] == pytest.approx(0.05)
    assert res['icdar/hmean_cls_wide'] == pytest.approx(1.0)
    assert res['icdar/score_thr_cls_wide'] == pytest.approx(0.93)
    # Mask score: P (0.22) is gone from 0.25. Oracle and quality (one
    # class): 0.92 x 3/11 = 0.251, gone from 0.30. Class score x
    # maskness: P 0.552, the hits 0.882 and 0.776: gone from 0.60. Mask
    # score x maskness: P 0.132, the hits 0.81 and 0.68: gone from 0.15.
    for ranking, thr in (('mask', 0.25), ('oracle', 0.30), ('quality', 0.30),
                         ('maskness', 0.60), ('mask_maskness', 0.15)):
        for suffix in ('', '_wide'):
            key = f'{ranking}{suffix}'
            assert res[f'icdar/hmean_{key}'] == pytest.approx(1.0), key
            assert res[f'icdar/score_thr_{key}'] == pytest.approx(thr), key
    # Both GTs can be hit by a prediction of their own: 2 x 2 / (2 + 2).
    assert res['icdar/hmean_upper'] == pytest.approx(1.0)
    # The main result ranks by the mask score, as before.
    assert res['icdar/hmean'] == pytest.approx(1.0)
    assert res['icdar/best_score_thr'] == pytest.approx(0.25)


def test_upper_hmean_counts_one_prediction_per_gt(one_image):
    # Two predictions on GT1 (IoU 1 and 0.6), none on GT2: at most one
    # hit, so hmean <= 2 x 1 / (1 + 2) whatever the ranking; the sweep by
    # class score keeps both (P 1/2, R 1/2).
    res = evaluate(one_image,
                   [sample(7, [GT1, P_IOU_06], [0.5, 0.9])],
                   rankings=('cls', ))
    assert res['icdar/hmean_upper'] == pytest.approx(2 / 3)
    assert res['icdar/hmean_cls'] == pytest.approx(2 / 3)
    # GT2 at IoU 0.3 only, below the protocol's 0.5: no second hit.
    res = evaluate(one_image, [sample(7, [GT1, P_IOU_03], [0.5, 0.9])],
                   rankings=('cls', ))
    assert res['icdar/hmean_upper'] == pytest.approx(2 / 3)


def test_logged_counts_do_not_depend_on_rankings(one_image, monkeypatch):
    # A prediction inside the do-not-care region below the lowest
    # threshold (0.01 < 0.05) is never seen by the protocol's sweep: not
    # counted as discarded, with or without other rankings.
    logged = []
    monkeypatch.setattr(hmean_module, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    samples = [sample(7, [P_INSIDE_DNC, GT1], [0.01, 0.9])]
    evaluate(one_image, samples)
    evaluate(one_image, samples, rankings=('cls', 'oracle'))
    assert logged[1].startswith('0 predictions discarded')
    assert logged[3] == logged[1]


def test_rankings_without_mask_scores(one_image):
    res = evaluate(
        one_image, [sample(7, [GT1, P_IOU_03], [0.9, 0.8])],
        rankings=('cls', 'mask', 'oracle'))
    for key in ('hmean_mask', 'hmean_mask_wide', 'score_thr_mask'):
        assert np.isnan(res[f'icdar/{key}'])
    # GT1 hit, P_IOU_03 a false positive at every threshold up to 0.80
    # (P 1/2, R 1/2); 0.85 keeps GT1 alone (P 1, R 1/2: hmean 2/3).
    assert res['icdar/hmean_cls'] == pytest.approx(2 / 3)
    assert res['icdar/score_thr_cls'] == pytest.approx(0.85)
    # The oracle scores P 0.8 x 0.3: gone from 0.25.
    assert res['icdar/score_thr_oracle'] == pytest.approx(0.25)


def test_unknown_ranking_is_named(one_image):
    with pytest.raises(ValueError, match="'best'"):
        evaluate(one_image, [], rankings=('best', ))
