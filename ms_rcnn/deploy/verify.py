"""How far apart two models' detections of the same images are."""
from typing import Dict, Sequence, Tuple

import torch
from mmdet.structures import DetDataSample

# What "the same detections" means for an export.
TOLERANCES = dict(
    max_box_diff=1e-3, max_score_diff=1e-4, max_mask_score_diff=1e-4,
    min_mask_iou=0.99)
# Float rounding between the runtimes: their scores of the same detection
# differed by up to 1.1e-5 on ms-rcnn_r50-caffe_fpn_1x_coco at full size
# (random weights; 12 views of a photograph: itself, mirrored, resized to
# 1280x720, 9 random crops); two scores closer than twice that may come
# in either order.
ROUNDING = 2e-5


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


def within(out: dict) -> bool:
    """Whether a dict of differences (one image's or all) is within
    :data:`TOLERANCES`: equal counts, all paired, each difference within
    its tolerance."""
    return out['count_mismatches'] == 0 and out['unmatched'] == 0 and all(
        out[key] is None or (
            out[key] >= tol if key.startswith('min') else out[key] <= tol)
        for key, tol in TOLERANCES.items())


def image_differences(ref, oth) -> dict:
    """The differences of one image's detections (``pred_instances`` of
    both), keys as :func:`largest_differences`'s."""
    out = dict(detections=len(ref), count_mismatches=int(len(ref) != len(oth)),
               unmatched=0, max_box_diff=None, max_score_diff=None,
               max_mask_score_diff=None, min_mask_iou=None)
    ref_inds, oth_inds = match(ref, oth)
    out['unmatched'] = len(ref) + len(oth) - 2 * len(ref_inds)
    if len(ref_inds) == 0:
        return out
    ref, oth = ref[ref_inds], oth[oth_inds]
    out['max_box_diff'] = (ref.bboxes - oth.bboxes).abs().max().item()
    out['max_score_diff'] = (ref.scores - oth.scores).abs().max().item()
    if 'mask_scores' in ref and 'mask_scores' in oth:
        out['max_mask_score_diff'] = (ref.mask_scores -
                                      oth.mask_scores).abs().max().item()
    out['min_mask_iou'] = mask_ious(ref.masks, oth.masks).min().item()
    return out


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
        ``max_mask_score_diff``, ``min_mask_iou`` (None without pairs),
        ``differing`` (indices of the images whose detections are not
        within :data:`TOLERANCES`) and ``within_tolerances``: no image
        differs and at least one detection was compared (two empty
        results prove nothing).
    """
    out = dict(images=len(reference), detections=0, count_mismatches=0,
               unmatched=0, max_box_diff=None, max_score_diff=None,
               max_mask_score_diff=None, min_mask_iou=None, differing=[])
    for i, (ref, oth) in enumerate(zip(reference, other)):
        diffs = image_differences(ref.pred_instances, oth.pred_instances)
        for key in ('detections', 'count_mismatches', 'unmatched'):
            out[key] += diffs[key]
        for key, value in diffs.items():
            if key.startswith(('max', 'min')) and value is not None:
                pick = min if key.startswith('min') else max
                out[key] = value if out[key] is None else pick(
                    out[key], value)
        if not within(diffs):
            out['differing'].append(i)
    out['within_tolerances'] = not out['differing'] and (
        out['max_score_diff'] is not None)
    return out


def tie_report(cuts: Dict[str, Tuple[float, float]]) -> dict:
    """Whether a cut of a ranking may explain differing detections.

    Args:
        cuts (dict): From the PyTorch graph (``DetectorGraph.forward``'s
            ``cuts``): name -> (last kept, first dropped) score.

    Returns:
        dict: ``cuts`` as given, ``gaps`` (name -> last kept - first
        dropped), ``ties`` (the cuts whose gap is below float rounding,
        :data:`ROUNDING`: the two runtimes may keep either side) and
        ``verdict``: every kind of cut with a tie, e.g. ``'tie in NMS'``
        (a suppressed box and its suppressor), ``'tie in NMS and at a
        top-k cut'`` (``nms_pre``, ``max_per_img``), ``'tie at
        score_thr'``, ``'tie at an NMS IoU threshold'`` (a box suppressed
        though no kept box overlaps it above the threshold: ``*_iou``,
        see :func:`~ms_rcnn.deploy.cuts.record_nms`); ``'no tie at a
        cut'`` (a difference to look into) when there is none. All kinds
        are named: on full-size random weights the top-k cuts were tied on
        every image tried without changing a detection, while a tie in the
        RPN's NMS did change one.
    """
    gaps = {name: kept - dropped for name, (kept, dropped) in cuts.items()}
    ties = sorted(name for name, gap in gaps.items() if gap < ROUNDING)
    # A cut's kind is one of the parts of its name ('rpn.level0.nms_pre'
    # is a top-k cut, not NMS).
    parts = set().union(*(name.split('.') for name in ties))
    kinds = [
        phrase for phrase, names in (('in NMS', {'nms'}),
                                     ('at a top-k cut',
                                      {'nms_pre', 'max_per_img'}),
                                     ('at score_thr', {'score_thr'}),
                                     ('at an NMS IoU threshold', {'nms_iou'}))
        if parts & names
    ]
    verdict = 'tie ' + ' and '.join(kinds) if kinds else 'no tie at a cut'
    return dict(cuts=cuts, gaps=gaps, ties=ties, verdict=verdict)


def tie_reports(graph, detector, imgs: Sequence[str]) -> dict:
    """:func:`tie_report` of each image path, from the cuts of the PyTorch
    ``graph`` (a ``DetectorGraph``) on the inputs that ``detector``
    (an ``OnnxMaskScoringDetector``) gives its file."""
    out = {}
    for path, feed in zip(imgs, detector.feeds(imgs)):
        cuts = {}
        with torch.no_grad():
            graph(torch.from_numpy(feed['img']),
                  torch.from_numpy(feed['img_shape']), cuts)
        out[path] = tie_report(cuts)
    return out
