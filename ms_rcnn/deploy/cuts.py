"""The scores on both sides of each cut of a ranking, recorded in eager
runs of :class:`~ms_rcnn.deploy.graph.DetectorGraph` (``cuts``, a dict:
name -> (last kept score, first dropped score)).

Two runtimes whose scores differ by float rounding may keep different
boxes where such a pair is closer than that rounding; ``--verify``
reports the pairs of the images whose detections differ
(:func:`ms_rcnn.deploy.verify.tie_report`).
"""
from typing import Optional

import torch
from mmdet.structures.bbox import bbox_overlaps
from torch import Tensor


def record_cut(cuts: Optional[dict], name: str, scores: Tensor,
               kept: int) -> None:
    """Into ``cuts``, when it is a dict: the last kept and the first
    dropped of ``scores`` (descending) cut after ``kept``, if any is
    dropped. Eager only; the exported graph runs with ``cuts=None``."""
    if cuts is not None and scores.shape[0] > kept > 0:
        cuts[name] = (scores[kept - 1].item(), scores[kept].item())


def record_nms(cuts: dict, name: str, boxes: Tensor, scores: Tensor,
               keep: Tensor, iou_threshold: float) -> None:
    """Into ``cuts[name]``: (score of a kept box, score of a box that it
    suppressed) of the suppressed box closest to its suppressors.

    A box is suppressed by every kept, higher-scoring box that overlaps it
    above the threshold; were its score above all of theirs, it would be
    kept (and they could be suppressed). The pair is the suppressed box and
    its highest such suppressor, for the box where that gap is smallest.

    A suppressed box that no kept box overlaps above the threshold here
    was suppressed by an IoU that the NMS op and ``bbox_overlaps`` put on
    either side of the threshold (they differ in the last bit): a tie of
    IoU, not of scores. Such boxes are recorded apart, under
    ``name + '_iou'`` (e.g. ``rpn.nms_iou``), as (its score, its score),
    the highest of them.
    """
    suppressed = torch.ones_like(scores, dtype=torch.bool)
    suppressed[keep] = False
    if not suppressed.any() or not len(keep):
        return
    kept_boxes, kept_scores = boxes[keep], scores[keep]
    # The highest suppressor of each suppressed box, in blocks of 4096 x
    # 4096 boxes (64 MB of IoUs): with score_thr=0 the R-CNN's NMS sees
    # tens of thousands of class boxes and keeps thousands.
    tops = []
    for chunk in boxes[suppressed].split(4096):
        top = chunk.new_full((len(chunk), ), float('-inf'))
        for block, block_scores in zip(
                kept_boxes.split(4096), kept_scores.split(4096)):
            overlaps = bbox_overlaps(block, chunk) > iou_threshold
            top = torch.maximum(
                top,
                torch.where(overlaps, block_scores[:, None],
                            float('-inf')).max(0)[0])
        tops.append(top)
    top, dropped = torch.cat(tops), scores[suppressed]
    found = torch.isfinite(top)
    if not found.all():
        score = dropped[~found].max().item()
        cuts[f'{name}_iou'] = (score, score)
    if found.any():
        gaps = top[found] - dropped[found]
        i = int(gaps.argmin())
        cuts[name] = (top[found][i].item(), dropped[found][i].item())
