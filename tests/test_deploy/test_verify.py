"""largest_differences on hand-made detections: paired by label and
closest box, each difference measured and judged."""
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from ms_rcnn.deploy import largest_differences


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
                       min_mask_iou=1., within_tolerances=True)


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
    assert out['within_tolerances'] is False
