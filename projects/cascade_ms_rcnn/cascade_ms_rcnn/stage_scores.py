"""The class scores of a cascade's training RoIs as its test time sums them.

Shapes: n sampled RoIs of one image, C classes (C + 1 class scores).

At test time, a cascade's class of a detection is the argmax of the mean of
every stage's class scores, each stage scoring the box as the stages before
it refined it (mmdet's ``CascadeRoIHead._refine_roi``). In training, each
stage samples its RoIs among the boxes that the stage before it refined
from its own sampled RoIs, less the ground-truth boxes that its sampler
added (mmdet's ``BBoxHead.refine_bboxes`` drops them). Following a RoI back
through the samplings gives the same chain of boxes, which the earlier
stages' box losses have already scored: each box sampling result keeps the
sum of its chains' scores as ``chain_scores`` (n, C + 1).
"""
from typing import Callable, List

import torch
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.structures.bbox import bbox2roi
from torch import Tensor


def added_gts(res: SamplingResult, adds_gts: bool) -> Tensor:
    """(n, ) bool: each of ``res.priors`` is a ground-truth box that the
    sampler added to the proposals. A sampler with ``add_gt_as_proposals``
    (``adds_gts``) puts the image's ground-truth boxes first."""
    num_added = res.num_gts if adds_gts else 0
    return torch.cat([res.pos_inds, res.neg_inds]) < num_added


def refined_from(res: SamplingResult, prev: SamplingResult,
                 adds_gts: bool) -> Tensor:
    """Which RoI of an earlier sampling each RoI of ``res`` was refined
    from.

    Args:
        res (SamplingResult): A sampling among the boxes that ``prev``'s
            RoIs were refined into.
        prev (SamplingResult): The earlier sampling of the same image.
        adds_gts (bool): ``res``'s sampler added the ground-truth boxes
            to the proposals (see :func:`added_gts`).

    Returns:
        Tensor: (n, ) index into ``prev.priors`` of each of ``res.priors``,
        -1 for a ground-truth box that ``res``'s sampler added.
    """
    # refine_bboxes keeps prev's RoIs in order, less its positives that are
    # ground-truth boxes.
    kept = torch.ones(
        len(prev.priors), dtype=torch.bool, device=prev.priors.device)
    kept[:len(prev.pos_is_gt)] = prev.pos_is_gt == 0
    kept_rows = kept.nonzero()[:, 0]
    inds = torch.cat([res.pos_inds, res.neg_inds])
    added = added_gts(res, adds_gts)
    rows = torch.full_like(inds, -1)
    rows[~added] = kept_rows[inds[~added] -
                             (res.num_gts if adds_gts else 0)]
    return rows


def inherited_scores(res: SamplingResult, prev: SamplingResult,
                     adds_gts: bool) -> Tensor:
    """(n, C + 1) ``prev.chain_scores`` of the RoI that each RoI of ``res``
    was refined from; 0 for the ground-truth boxes that the sampler added
    (see :func:`refined_from`)."""
    scores = prev.chain_scores
    # Row -1 of the padded scores is the zero row.
    padded = torch.cat([scores, scores.new_zeros((1, scores.size(1)))])
    return padded[refined_from(res, prev, adds_gts)]


def inference_labels(sampling_results: List[SamplingResult],
                     box_samplings: List[SamplingResult], adds_gts: bool,
                     score_boxes: Callable[[Tensor], Tensor],
                     num_classes: int) -> List[Tensor]:
    """The test-time class of each RoI of the last stage's mask sampling.

    Args:
        sampling_results (list[SamplingResult]): Per image, the RoIs of the
            last stage's mask loss: its box sampling, or (HTC's interleaved
            training) a sampling among the boxes that it refined.
        box_samplings (list[SamplingResult]): Per image, the last stage's
            box sampling, with ``chain_scores``.
        adds_gts (bool): The last stage's sampler adds the ground-truth
            boxes to the proposals.
        score_boxes (callable): (m, 5) RoIs -> (m, C + 1) sum of every
            stage's class scores of the boxes themselves, for the
            ground-truth boxes that the sampler added, which have no chain.
        num_classes (int): C; column C is the background.

    Returns:
        list[Tensor]: Per image, (n, ) the argmax over the C classes of the
        summed scores (that of the mean).
    """
    sums, added = [], []
    for res, box_res in zip(sampling_results, box_samplings):
        added.append(added_gts(res, adds_gts))
        sums.append(res.chain_scores if res is box_res else inherited_scores(
            res, box_res, adds_gts))
    rois = bbox2roi([res.priors[a] for res, a in zip(sampling_results, added)])
    if len(rois):
        gt_sums = score_boxes(rois).split([int(a.sum()) for a in added])
        sums = [s.index_put((a, ), g) for s, a, g in zip(sums, added, gt_sums)]
    return [s[:, :num_classes].argmax(1) for s in sums]
