"""How far apart two models' detections of the same images are."""
from typing import Sequence

import torch
from mmdet.structures import DetDataSample

# What "the same detections" means for an export.
TOLERANCES = dict(
    max_box_diff=1e-3, max_score_diff=1e-4, max_mask_score_diff=1e-4,
    min_mask_iou=0.99)


def mask_ious(masks: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
    """(n, ) IoU of each pair of (n, H, W) bool masks; 1 where both are
    empty."""
    inter = (masks & others).flatten(1).sum(1)
    union = (masks | others).flatten(1).sum(1)
    return torch.where(union > 0, inter / union.clamp(min=1),
                       torch.ones_like(inter, dtype=torch.float))


def match(reference, other):
    """Pair each detection of ``reference``, in reference order, with the
    unpaired detection of ``other`` of the same label whose box is closest.
    Detections whose scores differ by less than float rounding may come in
    either order from two implementations; pairing by box undoes that.

    Returns:
        tuple[Tensor, Tensor]: Indices of the paired detections in
        ``reference`` and in ``other``.
    """
    same_label = reference.labels[:, None] == other.labels[None]
    box_diffs = (reference.bboxes[:, None] - other.bboxes[None]).abs().amax(2)
    taken = torch.zeros(len(other), dtype=torch.bool)
    pairs = []
    for i in range(len(reference)):
        diffs = box_diffs[i].masked_fill(~same_label[i] | taken, float('inf'))
        if len(other) and diffs.min().isfinite():
            j = int(diffs.argmin())
            taken[j] = True
            pairs.append((i, j))
    pairs = torch.tensor(pairs, dtype=torch.long).view(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def largest_differences(reference: Sequence[DetDataSample],
                        other: Sequence[DetDataSample]) -> dict:
    """Compare the detections of each image (paired by :func:`match`).

    Args:
        reference (list[DetDataSample]): E.g. the PyTorch model's.
        other (list[DetDataSample]): E.g. onnxruntime's.

    Returns:
        dict: ``images``, ``detections`` (of ``reference``),
        ``count_mismatches`` (images with another number of detections),
        ``unmatched`` (detections of either side without a partner of the
        same label), then over the pairs ``max_box_diff`` (pixels
        of the original image), ``max_score_diff``,
        ``max_mask_score_diff``, ``min_mask_iou`` (None without pairs), and
        ``within_tolerances`` (:data:`TOLERANCES`, equal counts, all
        paired).
    """
    out = dict(images=len(reference), detections=0, count_mismatches=0,
               unmatched=0, max_box_diff=None, max_score_diff=None,
               max_mask_score_diff=None, min_mask_iou=None)

    def worst(key, value, pick=max):
        out[key] = value if out[key] is None else pick(out[key], value)

    for ref, oth in zip(reference, other):
        ref, oth = ref.pred_instances, oth.pred_instances
        out['detections'] += len(ref)
        if len(ref) != len(oth):
            out['count_mismatches'] += 1
        ref_inds, oth_inds = match(ref, oth)
        out['unmatched'] += len(ref) + len(oth) - 2 * len(ref_inds)
        if len(ref_inds) == 0:
            continue
        ref, oth = ref[ref_inds], oth[oth_inds]
        worst('max_box_diff', (ref.bboxes - oth.bboxes).abs().max().item())
        worst('max_score_diff', (ref.scores - oth.scores).abs().max().item())
        if 'mask_scores' in ref and 'mask_scores' in oth:
            worst('max_mask_score_diff',
                  (ref.mask_scores - oth.mask_scores).abs().max().item())
        worst('min_mask_iou',
              mask_ious(ref.masks, oth.masks).min().item(), min)
    out['within_tolerances'] = (
        out['count_mismatches'] == 0 and out['unmatched'] == 0 and all(
            out[key] is None or (out[key] >= tol if key.startswith('min')
                                 else out[key] <= tol)
            for key, tol in TOLERANCES.items()))
    return out
