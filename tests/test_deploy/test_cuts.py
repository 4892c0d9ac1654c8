"""The records of the cuts of DetectorGraph's rankings (eager runs), on
hand-made boxes and scores."""
import pytest
import torch

from ms_rcnn.deploy.cuts import record_cut
from ms_rcnn.deploy.graph import batched_nms


def test_nms_records_the_suppressed_box_closest_to_its_suppressor():
    boxes = torch.tensor([
        [0., 0., 10., 10.],  # kept
        [1., 1., 11., 11.],  # IoU 81/119 with box 0: suppressed, 0.05 below
        [0., 0., 10., 10.5],  # IoU 100/105 with box 0: suppressed, 0.001
        [50., 50., 60., 60.],  # IoU 100/105 with box 5: suppressed, 0.005
        [50., 50., 60., 61.],  # IoU 105/110 with box 5: suppressed, 0.095
        [50., 50., 60., 60.5],  # kept
    ])
    scores = torch.tensor([0.9, 0.85, 0.899, 0.89, 0.8, 0.895])
    cuts = {}
    keep = batched_nms(boxes, scores, torch.zeros(6, dtype=torch.long), 0.5,
                       False, cuts, 'rpn.nms')
    assert keep.tolist() == [0, 5]
    assert cuts == {'rpn.nms': pytest.approx((0.9, 0.899))}
    # Another level for box 2: nothing suppresses it, box 3 is closest.
    cuts = {}
    batched_nms(boxes, scores, torch.tensor([0, 0, 1, 0, 0, 0]), 0.5, False,
                cuts, 'rpn.nms')
    assert cuts == {'rpn.nms': pytest.approx((0.895, 0.89))}


def test_nms_record_over_more_than_one_block_of_boxes():
    # 5000 disjoint boxes, each kept and suppressing its own copy just
    # below it: 0.001 below, but 0.0001 for box 4500, which lies in the
    # second block of 4096 kept boxes and of 4096 suppressed boxes.
    n = 5000
    x = torch.arange(n, dtype=torch.float) * 10
    kept = torch.stack([x, torch.zeros(n), x + 8, torch.full((n, ), 8.)], 1)
    kept_scores = 0.5 + torch.arange(n, dtype=torch.float) / 20000
    below = torch.full((n, ), 1e-3)
    below[4500] = 1e-4
    boxes = torch.cat([kept, kept])
    scores = torch.cat([kept_scores, kept_scores - below])
    cuts = {}
    keep = batched_nms(boxes, scores, torch.zeros(2 * n, dtype=torch.long),
                       0.5, False, cuts, 'rcnn.nms')
    assert sorted(keep.tolist()) == list(range(n))
    assert cuts == {
        'rcnn.nms':
        pytest.approx((kept_scores[4500].item(),
                       (kept_scores[4500] - 1e-4).item()))
    }


def test_top_k_cut_records_the_last_kept_and_first_dropped():
    cuts = {}
    scores = torch.tensor([0.9, 0.7, 0.69999, 0.5])
    record_cut(cuts, 'rpn.max_per_img', scores, 2)
    record_cut(cuts, 'rcnn.max_per_img', scores, 4)  # nothing dropped
    record_cut(None, 'ignored', scores, 1)
    assert cuts == {'rpn.max_per_img': pytest.approx((0.7, 0.69999))}
