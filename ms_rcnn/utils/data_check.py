"""Checks of COCO-style annotation files before a run reads them.

mmdet's ``CocoDataset`` fails on a broken annotation file with a bare
``JSONDecodeError`` from inside pycocotools, and silently drops annotations it
cannot use (zero-area boxes, boxes outside the image, category ids it does not
know). :func:`check_coco_file` reads the file once and

- raises :class:`AnnotationError`, naming the file (and the annotation ids),
  for what makes the whole file unusable: a missing, empty or malformed file,
  missing top-level keys, annotations whose ``category_id`` is not among the
  file's ``categories`` or whose ``image_id`` is not among its ``images``;
- warns (:class:`DataWarning`), naming the file, the image and the
  annotation ids, for what the data pipeline will not load: zero-area
  boxes, boxes or polygons entirely outside their image, polygons with fewer
  than 3 points (dropped by mmdet's dataset or by ``SanitizeInstances``),
  and images without annotations (dropped from training by
  ``filter_empty_gt``). ``CocoMetric`` reads the file itself, so an
  evaluation still scores against these annotations.

:func:`check_dataloader_cfgs` applies it to the datasets of a config;
``tools/train.py`` and ``tools/test.py`` call it before building the Runner.
"""
import json
import os.path as osp
import warnings
from typing import Dict, List

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


def _polygon_problem(segmentation, width, height):
    """Why a polygon segmentation is unusable, or None (RLE is not checked).

    A polygon needs at least 3 points (6 numbers); one whose points all lie
    outside the image rasterises to an empty mask.
    """
    if not isinstance(segmentation, list) or not segmentation:
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
        if w < 1 or h < 1 or ann.get('area', 1) <= 0:
            problems['zero-area box'].append((name, ann_id))
        elif x + w <= 0 or y + h <= 0 or x >= width or y >= height:
            problems['box outside the image'].append((name, ann_id))
        else:
            why = _polygon_problem(ann.get('segmentation'), width, height)
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


def _is_coco(dataset_cfg) -> bool:
    """Whether a dataset config builds mmdet's ``CocoDataset`` or a subclass
    (other datasets may read other formats from a ``.json``)."""
    from mmdet.datasets import CocoDataset

    from ms_rcnn.registry import DATASETS
    cls = dataset_cfg.get('type')
    if isinstance(cls, str):
        cls = DATASETS.get(cls)
    return isinstance(cls, type) and issubclass(cls, CocoDataset)


def _dataset_cfgs(dataset_cfg):
    """Every dataset config in ``dataset_cfg``: wrappers (such as
    ``RepeatDataset`` and ``ConcatDataset``) and the datasets inside."""
    if isinstance(dataset_cfg, (list, tuple)):
        for cfg in dataset_cfg:
            yield from _dataset_cfgs(cfg)
    elif dataset_cfg:
        yield dataset_cfg
        yield from _dataset_cfgs(
            dataset_cfg.get('dataset', dataset_cfg.get('datasets')))


def _datasets(dataset_cfg):
    """The leaf COCO dataset configs with an ``ann_file``."""
    for cfg in _dataset_cfgs(dataset_cfg):
        if ('dataset' not in cfg and 'datasets' not in cfg
                and cfg.get('ann_file') and _is_coco(cfg)):
            yield cfg


def check_dataloader_cfgs(
    cfg,
    keys=('train_dataloader', 'val_dataloader', 'test_dataloader')) -> None:
    """:func:`check_coco_file` on the local JSON ``ann_file`` of every
    ``CocoDataset`` (or subclass) in ``cfg``.

    Args:
        cfg (Config): A full config.
        keys (tuple[str]): The dataloaders to check.
    """
    seen = set()
    for key in keys:
        loader = cfg.get(key)
        if not loader:
            continue
        for dataset in _datasets(loader.get('dataset')):
            ann_file = osp.join(
                dataset.get('data_root') or '', dataset['ann_file'])
            # Remote files (s3://, http://) are left to the dataset.
            if ann_file in seen or '://' in ann_file or not ann_file.endswith(
                    '.json'):
                continue
            seen.add(ann_file)
            check_coco_file(ann_file)


# mmdet's image loader under the names a config may give it.
_PLAIN_LOADERS = ('LoadImageFromFile', 'mmdet.LoadImageFromFile',
                  'mmcv.LoadImageFromFile')


def use_checked_loader(cfg, keys=('val_dataloader', 'test_dataloader')):
    """Load evaluation images with a ``CheckedLoadImageFromFile`` that raises.

    Shipped test pipelines keep mmdet's ``LoadImageFromFile`` because
    mmdet's ``DetInferencer`` finds the loader it replaces by that name. An
    evaluation run has no such constraint, so ``tools/train.py`` and
    ``tools/test.py`` swap it here (same arguments): a missing, corrupt or
    truncated image then stops the evaluation with an error naming the file
    instead of a traceback from inside mmcv, and no image is left out
    silently.

    Args:
        cfg (Config): A full config, modified in place.
        keys (tuple[str]): The dataloaders whose pipelines are changed.

    Returns:
        int: How many loaders were replaced.
    """
    replaced = 0
    for key in keys:
        loader = cfg.get(key)
        if not loader:
            continue
        for dataset in _dataset_cfgs(loader.get('dataset')):
            pipeline = dataset.get('pipeline') or []
            for i, transform in enumerate(pipeline):
                if transform.get('type') not in _PLAIN_LOADERS:
                    continue
                args = {
                    k: v
                    for k, v in transform.items()
                    if k not in ('type', 'ignore_empty')
                }
                # The full name: the dataset may be built in mmdet's scope.
                pipeline[i] = dict(
                    type='ms_rcnn.CheckedLoadImageFromFile',
                    skip_bad=False,
                    **args)
                replaced += 1
    return replaced
