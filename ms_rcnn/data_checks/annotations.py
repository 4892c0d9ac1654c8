"""Checks of COCO-style annotations: the file before a run reads it, and
each instance (the rule :class:`~ms_rcnn.data_checks.SanitizeInstances`
applies while loading).

mmdet's ``CocoDataset`` fails on a broken annotation file with a bare
``JSONDecodeError`` from inside pycocotools, and silently drops annotations it
cannot use (zero-area boxes, boxes outside the image, category ids it does not
know). :func:`check_coco_file` reads the file once and

- raises :class:`AnnotationError`, naming the file (and the annotation ids),
  for what makes the whole file unusable: a missing, empty or malformed file,
  missing top-level keys, annotations whose ``category_id`` is not among the
  file's ``categories`` or whose ``image_id`` is not among its ``images``;
- warns (:class:`DataWarning`), naming the file, the image and the
  annotation ids, for what the data pipeline will not load
  (:func:`instance_problem`) and images without annotations (dropped from
  training by ``filter_empty_gt``). ``CocoMetric`` reads the file itself, so
  an evaluation still scores against these annotations.
"""
import json
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence

# How many ids or file names a message lists before it says "and N more".
MAX_LISTED = 10


class AnnotationError(ValueError):
    """An annotation file that cannot be used at all."""


class DataWarning(UserWarning):
    """A sample or an annotation that is skipped or cannot be evaluated."""


def _listed(items) -> str:
    items = list(items)
    shown = ', '.join(str(i) for i in items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return shown + (f' and {more} more' if more > 0 else '')


def _load_json(ann_file: str) -> dict:
    if not osp.isfile(ann_file):
        raise AnnotationError(f'{ann_file}: annotation file does not exist')
    with open(ann_file, 'rb') as f:
        raw = f.read()
    if not raw.strip():
        raise AnnotationError(f'{ann_file}: annotation file is empty')
    try:
        coco = json.loads(raw)
    except ValueError as e:  # JSONDecodeError and bad encodings
        raise AnnotationError(
            f'{ann_file}: not valid JSON ({e}); a truncated download or an '
            'interrupted write leaves such a file') from None
    if not isinstance(coco, dict):
        raise AnnotationError(
            f'{ann_file}: expected a JSON object with "images", '
            f'"annotations" and "categories", got a {type(coco).__name__}')
    missing = [
        k for k in ('images', 'annotations', 'categories')
        if not isinstance(coco.get(k), list)
    ]
    if missing:
        raise AnnotationError(
            f'{ann_file}: no list under key(s) {", ".join(missing)}')
    return coco


def instance_problem(box: Sequence[float], segmentation, width: float,
                     height: float) -> Optional[str]:
    """Why an instance cannot be trained on, or None.

    Args:
        box (Sequence[float]): ``(x1, y1, x2, y2)`` in pixels.
        segmentation (list | dict | None): COCO polygons (a list of flat
            ``[x1, y1, x2, y2, ...]`` lists) or RLE (a dict); an RLE is
            only checked for being empty, None (no ``segmentation``, as in
            a box-only dataset) not at all.
        width (float): Width of the image.
        height (float): Height of the image.

    Returns:
        str | None: ``'zero-area box'``, ``'box outside the image'``,
        ``'no segmentation'`` (an empty list or dict: mmdet's
        ``CocoDataset`` gives the instance no mask, and
        ``LoadAnnotations(with_mask=True)`` fails on it),
        ``'polygon with fewer than 3 points'`` (mmdet drops such polygons and
        would leave the instance without a mask) or ``'mask outside the
        image'`` (all points outside: it rasterises to an empty mask).
    """
    x1, y1, x2, y2 = box
    if x2 - x1 <= 0 or y2 - y1 <= 0:
        return 'zero-area box'
    if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
        return 'box outside the image'
    if segmentation is not None and not segmentation:
        return 'no segmentation'
    if not isinstance(segmentation, list):
        return None
    polygons = [p for p in segmentation if len(p) >= 6 and len(p) % 2 == 0]
    if not polygons:
        return 'polygon with fewer than 3 points'
    xs = [x for p in polygons for x in p[0::2]]
    ys = [y for p in polygons for y in p[1::2]]
    if max(xs) <= 0 or max(ys) <= 0 or min(xs) >= width or min(ys) >= height:
        return 'mask outside the image'
    return None


def check_coco_file(ann_file: str, warn: bool = True) -> Dict[str, List]:
    """Validate a COCO annotation file.

    Args:
        ann_file (str): Path of the JSON file.
        warn (bool): Emit one :class:`DataWarning` per kind of problem.

    Returns:
        dict: Problem -> list of ``(image file name, annotation id)`` (or
        ``(file name, None)`` for images without annotations) that mmdet's
        dataset or ms_rcnn's ``SanitizeInstances`` will drop.

    Raises:
        AnnotationError: For problems that make the file unusable.
    """
    coco = _load_json(ann_file)
    images = {img.get('id'): img for img in coco['images']}
    cat_ids = {cat.get('id') for cat in coco['categories']}
    unknown_cat, unknown_img = [], []
    problems = {
        'zero-area box': [],
        'box outside the image': [],
        'no segmentation': [],
        'polygon with fewer than 3 points': [],
        'mask outside the image': [],
        'image without annotations': [],
    }
    annotated = set()
    for ann in coco['annotations']:
        ann_id = ann.get('id')
        if ann.get('category_id') not in cat_ids:
            unknown_cat.append(f'{ann_id} (category_id '
                               f'{ann.get("category_id")})')
        img = images.get(ann.get('image_id'))
        if img is None:
            unknown_img.append(f'{ann_id} (image_id {ann.get("image_id")})')
            continue
        annotated.add(ann.get('image_id'))
        name = img.get('file_name')
        width, height = img.get('width', 1e9), img.get('height', 1e9)
        x, y, w, h = ann.get('bbox', (0, 0, 0, 0))
        # CocoDataset's own rule drops boxes under a pixel wide.
        if w < 1 or h < 1 or ann.get('area', 1) <= 0:
            why = 'zero-area box'
        else:
            why = instance_problem((x, y, x + w, y + h),
                                   ann.get('segmentation'), width, height)
        if why is not None:
            problems[why].append((name, ann_id))
    if unknown_cat:
        raise AnnotationError(
            f'{ann_file}: annotation id(s) {_listed(unknown_cat)} use a '
            f'category_id that is not in "categories" (known: '
            f'{sorted(cat_ids)})')
    if unknown_img:
        raise AnnotationError(
            f'{ann_file}: annotation id(s) {_listed(unknown_img)} refer to an '
            'image_id that is not in "images"')
    problems['image without annotations'] = [(img.get('file_name'), None)
                                             for img_id, img in images.items()
                                             if img_id not in annotated]
    if warn:
        for problem, where in problems.items():
            if where:
                listed = _listed(
                    name if ann_id is None else f'{name} (ann id {ann_id})'
                    for name, ann_id in where)
                warnings.warn(
                    f'{ann_file}: {len(where)} x {problem}, '
                    f'not loaded: {listed}', DataWarning)
    return problems
