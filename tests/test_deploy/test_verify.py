"""largest_differences on hand-made detections: paired by label and
closest box, each difference measured and judged, nothing compared never
within tolerances; tie_report on hand-made cuts."""
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from ms_rcnn.deploy import largest_differences
from ms_rcnn.deploy.cuts import record_nms
from ms_rcnn.deploy.verify import tie_report


def sample(boxes, labels, scores, masks, mask_scores=None):
    inst = InstanceData()
    inst.bboxes = torch.tensor(boxes, dtype=torch.float32).view(-1, 4)
    inst.labels = torch.tensor(labels, dtype=torch.long)
    inst.scores = torch.tensor(scores)
    inst.masks = torch.tensor(masks, dtype=torch.bool).view(-1, 2, 4)
    if mask_scores is not None:
        inst.mask_scores = torch.tensor(mask_scores)
    return DetDataSample(pred_instances=inst)


# Two detections of a 2x4 image: the left 2x2 and the right 2x2 square.
LEFT = [[1, 1, 0, 0], [1, 1, 0, 0]]
RIGHT = [[0, 0, 1, 1], [0, 0, 1, 1]]
BOXES = [[0, 0, 2, 2], [2, 0, 4, 2]]


def test_identical_detections_differ_by_zero():
    ref = [sample(BOXES, [0, 1], [0.9, 0.5], [LEFT, RIGHT], [0.4, 0.3])]
    out = largest_differences(ref, ref)
    assert out == dict(images=1, detections=2, count_mismatches=0,
                       unmatched=0, max_box_diff=0.,
                       max_score_diff=0., max_mask_score_diff=0.,
                       min_mask_iou=1., differing=[], within_tolerances=True)


def test_detections_in_another_order_are_paired():
    ref = [sample(BOXES, [0, 0], [0.5, 0.5], [LEFT, RIGHT], [0.4, 0.3])]
    swapped = [sample(BOXES[::-1], [0, 0], [0.5, 0.5], [RIGHT, LEFT],
                      [0.3, 0.4])]
    out = largest_differences(ref, swapped)
    assert out['unmatched'] == 0 and out['max_box_diff'] == 0.
    assert out['min_mask_iou'] == 1. and out['within_tolerances'] is True


def test_each_difference_is_measured_and_judged():
    ref = [sample(BOXES, [0, 1], [0.9, 0.5], [LEFT, RIGHT], [0.4, 0.3]),
           sample([], [], [], [])]
    # First box shifted by 0.5 px, its score off by 0.25, its mask one
    # column wider (IoU 4 / 6); the second's label changed (no partner);
    # one extra detection in the second image.
    wider = [[1, 1, 1, 0], [1, 1, 1, 0]]
    other = [sample([[0.5, 0, 2, 2], [2, 0, 4, 2]], [0, 2], [0.65, 0.5],
                    [wider, RIGHT], [0.4, 0.3]),
             sample([[0, 0, 1, 1]], [0], [0.1], [LEFT])]
    out = largest_differences(ref, other)
    assert out['detections'] == 2
    assert out['count_mismatches'] == 1
    assert out['unmatched'] == 3
    assert out['max_box_diff'] == 0.5
    assert abs(out['max_score_diff'] - 0.25) < 1e-6
    assert out['max_mask_score_diff'] == 0.
    assert abs(out['min_mask_iou'] - 4 / 6) < 1e-6
    assert out['differing'] == [0, 1]
    assert out['within_tolerances'] is False


def test_only_the_differing_image_is_listed():
    same = sample(BOXES, [0, 1], [0.9, 0.5], [LEFT, RIGHT], [0.4, 0.3])
    # The second image's first score is off by 2e-4, twice the tolerance.
    off = sample(BOXES, [0, 1], [0.9002, 0.5], [LEFT, RIGHT], [0.4, 0.3])
    out = largest_differences([same, same], [same, off])
    assert out['differing'] == [1]
    assert abs(out['max_score_diff'] - 2e-4) < 1e-6
    assert out['within_tolerances'] is False


def test_no_detection_anywhere_is_not_within_tolerances():
    empty = [sample([], [], [], []), sample([], [], [], [])]
    out = largest_differences(empty, empty)
    assert out['detections'] == 0 and out['differing'] == []
    assert out['max_score_diff'] is None
    assert out['within_tolerances'] is False


@pytest.mark.parametrize('cuts, gaps, ties, verdict', [
    # The finest level's 1000th and 1001st objectness 7e-6 apart.
    ({'rpn.level0.nms_pre': (0.6534, 0.653393),
      'rcnn.max_per_img': (0.30, 0.29)},
     {'rpn.level0.nms_pre': 7e-6, 'rcnn.max_per_img': 0.01},
     ['rpn.level0.nms_pre'], 'tie at a top-k cut'),
    ({'rcnn.score_thr.above': (0.050005, 0.05),
      'rcnn.max_per_img': (0.30, 0.29)},
     {'rcnn.score_thr.above': 5e-6, 'rcnn.max_per_img': 0.01},
     ['rcnn.score_thr.above'], 'tie at score_thr'),
    # A suppressed box 1e-6 below the box that suppressed it.
    ({'rpn.nms': (0.700001, 0.7), 'rcnn.score_thr.below': (0.05, 0.049999)},
     {'rpn.nms': 1e-6, 'rcnn.score_thr.below': 1e-6},
     ['rcnn.score_thr.below', 'rpn.nms'], 'tie in NMS and at score_thr'),
    # 5e-5 apart: above float rounding (2e-5), if within the score
    # tolerance (1e-4).
    ({'rpn.max_per_img': (0.80005, 0.8), 'rpn.level1.nms_pre': (0.5, 0.4)},
     {'rpn.max_per_img': 5e-5, 'rpn.level1.nms_pre': 0.1},
     [], 'no tie at a cut'),
])
def test_tie_report_names_cuts_closer_than_float_rounding(
        cuts, gaps, ties, verdict):
    report = tie_report(cuts)
    assert report['cuts'] == cuts
    assert report['gaps'] == pytest.approx(gaps, rel=1e-6)
    assert report['ties'] == ties and report['verdict'] == verdict


@pytest.mark.parametrize('ties, verdict', [
    # 'nms' is inside 'nms_pre' but is not a part of its name.
    (['rpn.level0.nms_pre'], 'tie at a top-k cut'),
    (['rpn.level3.nms_pre', 'rcnn.score_thr.below'],
     'tie at a top-k cut and at score_thr'),
    (['rcnn.nms', 'rpn.level2.nms_pre'], 'tie in NMS and at a top-k cut'),
    (['rcnn.max_per_img', 'rpn.nms'], 'tie in NMS and at a top-k cut'),
    (['rcnn.score_thr.above', 'rcnn.nms'], 'tie in NMS and at score_thr'),
    (['rpn.nms', 'rpn.max_per_img', 'rcnn.score_thr.above'],
     'tie in NMS and at a top-k cut and at score_thr'),
    # A box suppressed with no kept box above the IoU threshold.
    (['rcnn.nms_iou'], 'tie at an NMS IoU threshold'),
])
def test_verdict_names_every_kind_of_tied_cut(ties, verdict):
    # Ties 1e-6 wide; each kind is named once, NMS first.
    report = tie_report({name: (0.5 + 1e-6, 0.5) for name in ties})
    assert report['ties'] == sorted(ties)
    assert report['verdict'] == verdict


def test_record_nms_reports_a_box_suppressed_without_suppressor():
    # Box 0 (0.9) is kept. Box 1 (0.8) overlaps it by IoU 0.6 > 0.5: its
    # suppressor, gap 0.1. Box 2 (0.7) overlaps box 0 by 0.5 exactly, not
    # above the threshold here, yet the op suppressed it (its IoU put it
    # the other side): no score gap exists, and none of -inf is reported.
    boxes = torch.tensor([[0., 0., 10., 10.], [0., 0., 10., 6.],
                          [0., 0., 20., 10.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    cuts = {}
    record_nms(cuts, 'rcnn.nms', boxes, scores, torch.tensor([0]), 0.5)
    assert cuts == {'rcnn.nms': pytest.approx((0.9, 0.8)),
                    'rcnn.nms_iou': pytest.approx((0.7, 0.7))}
    report = tie_report(cuts)
    assert report['ties'] == ['rcnn.nms_iou']
    assert report['verdict'] == 'tie at an NMS IoU threshold'
    # Only such boxes: no score pair at all.
    cuts = {}
    record_nms(cuts, 'rpn.nms', boxes[[0, 2]], scores[[0, 2]],
               torch.tensor([0]), 0.5)
    assert cuts == {'rpn.nms_iou': pytest.approx((0.7, 0.7))}
