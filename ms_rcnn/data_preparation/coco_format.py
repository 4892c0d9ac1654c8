"""Pieces shared by the text-detection converters: validation, COCO output.

Every converter turns one annotation file into a list of *instances*::

    dict(polygon=[x1, y1, x2, y2, ...],  # floats, absolute pixels
         text='transcription',
         ignore=False)                    # True for do-not-care ('###')

and :func:`build_coco` turns ``(file_name, width, height, instances)`` records
into a COCO-style dict that mmdet's ``CocoDataset`` reads. Do-not-care
instances get ``iscrowd: 1``: ``CocoDataset`` then sets their ``ignore_flag``
and ``PackDetInputs`` moves them to ``ignored_instances``, so training skips
them while :class:`~ms_rcnn.evaluation.HmeanIoUMetric` still sees them.
Degenerate polygons (zero area) become do-not-care instances too, each named
in a warning; their COCO ``area`` is 0, so ``CocoDataset`` leaves them out of
training and the metric finds nothing inside them.
"""
import json
import logging
import math
import os
import re
from typing import Callable, Dict, List, Sequence, Tuple

from PIL import Image
from shapely.geometry import Polygon

DO_NOT_CARE = '###'
TEXT_CATEGORY = {'id': 1, 'name': 'text'}
# Extensions tried, in order, when an annotation names an image by its stem.
IMAGE_EXTENSIONS = ('.jpg', '.JPG', '.jpeg', '.png')

logger = logging.getLogger(__name__)


class TextAnnotationError(ValueError):
    """A malformed annotation. The message starts with where it is, e.g.
    ``'.../gt_img_7.txt, line 3: ...'`` or ``'.../0042.xml, box 2: ...'``."""


def natural_key(name: str) -> list:
    """Sort key that puts ``img_2`` before ``img_10``."""
    return [int(p) if p.isdigit() else p for p in re.split(r'(\d+)', name)]


def parse_coords(fields: Sequence[str], num: int, where: str) -> List[float]:
    """Parse ``num`` coordinates from strings, or raise naming ``where``."""
    if len(fields) != num:
        raise TextAnnotationError(
            f'{where}: expected {num} coordinates, got {len(fields)}')
    coords = []
    for field in fields:
        try:
            value = float(field)
        except ValueError:
            raise TextAnnotationError(
                f'{where}: non-numeric coordinate {field.strip()!r}') from None
        if not math.isfinite(value):
            raise TextAnnotationError(
                f'{where}: non-finite coordinate {field.strip()!r}')
        coords.append(value)
    return coords


def polygon_area(polygon: Sequence[float]) -> float:
    """Area of a flat ``[x1, y1, x2, y2, ...]`` polygon of 3 or more points
    (shapely's: the shoelace formula, also for a self-intersecting one)."""
    return Polygon(list(zip(polygon[0::2], polygon[1::2]))).area


def make_instance(polygon: List[float], text: str, where: str) -> Dict:
    """Wrap a polygon and its transcription as an instance.

    A degenerate polygon (fewer than 3 distinct points, or zero area) can be
    neither learned nor matched, yet official ground truth holds a few and
    users cannot edit it: the instance is kept as do-not-care
    (``ignore=True``) and a warning names ``where``. Self-intersecting
    polygons are kept as they are (some real ground truth has them); the
    metric repairs them with shapely.
    """
    distinct = len(set(zip(polygon[0::2], polygon[1::2])))
    degenerate = None
    if distinct < 3:
        degenerate = f'degenerate polygon with {distinct} distinct point(s)'
    elif polygon_area(polygon) == 0:
        degenerate = 'degenerate polygon of zero area'
    if degenerate:
        logger.warning('%s: %s; marked do-not-care', where, degenerate)
    return dict(
        polygon=polygon,
        text=text,
        ignore=bool(degenerate) or text.strip() == DO_NOT_CARE)


def parse_text_lines(path: str, parse_line: Callable[[str, str],
                                                     Dict]) -> List[Dict]:
    """``parse_line(line, where)`` of each non-blank line of a UTF-8 file
    (without a BOM), in file order; ``where`` is ``'<path>, line <i>'``,
    1-based and counting blank lines."""
    with open(path, 'rb') as f:
        raw = f.read()
    try:
        # 'utf-8-sig' drops the BOM that ICDAR files start with.
        text = raw.decode('utf-8-sig')
    except UnicodeDecodeError as e:
        raise TextAnnotationError(f'{path}: not UTF-8 ({e})') from None
    return [
        parse_line(line, f'{path}, line {i}')
        for i, line in enumerate(text.splitlines(), start=1) if line.strip()
    ]


def find_image(img_dir: str, stem: str) -> str:
    """Path of the image ``img_dir/stem.<ext>``; raises if there is none."""
    for ext in IMAGE_EXTENSIONS:
        path = os.path.join(img_dir, stem + ext)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f'image {os.path.join(img_dir, stem + IMAGE_EXTENSIONS[0])} '
        'not found (annotations refer to it)')


def check_all_annotated(img_dir: str, image_paths: Sequence[str]) -> None:
    """Raise if ``img_dir`` holds an image that no annotation file names.

    Such an image would otherwise vanish from the converted split unnoticed.
    """
    used = {os.path.normpath(p) for p in image_paths}
    extra = sorted((name for name in os.listdir(img_dir)
                    if name.endswith(IMAGE_EXTENSIONS)
                    and os.path.normpath(os.path.join(img_dir, name))
                    not in used),
                   key=natural_key)
    if extra:
        raise FileNotFoundError(
            f'{len(extra)} image(s) in {img_dir} have no annotation file, '
            f'e.g. {extra[0]}')


def relative_file_name(path: str, root: str) -> str:
    """``path`` relative to ``root`` with '/' separators, as COCO stores it."""
    return os.path.relpath(path, root).replace(os.sep, '/')


def image_size(path: str) -> Tuple[int, int]:
    """(width, height) from the image header, without decoding the pixels.

    The stored size is not rotated by an EXIF orientation tag.
    """
    with Image.open(path) as img:
        return img.size


def build_coco(records: Sequence[Tuple[str, int, int, List[Dict]]]) -> Dict:
    """COCO dict from ``(file_name, width, height, instances)`` records.

    Image ids follow the record order from 1; annotation ids run from 1 over
    the whole split. ``bbox`` is ``[x, y, w, h]`` of the polygon's extent and
    ``area`` the polygon area.
    """
    images, annotations = [], []
    for img_id, (file_name, width, height, instances) in enumerate(
            records, start=1):
        images.append(
            dict(id=img_id, file_name=file_name, width=width, height=height))
        for inst in instances:
            xs, ys = inst['polygon'][0::2], inst['polygon'][1::2]
            x0, y0 = min(xs), min(ys)
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=img_id,
                    category_id=TEXT_CATEGORY['id'],
                    segmentation=[list(inst['polygon'])],
                    bbox=[x0, y0, max(xs) - x0, max(ys) - y0],
                    area=polygon_area(inst['polygon']),
                    iscrowd=int(inst['ignore']),
                    text=inst['text']))
    return dict(
        images=images,
        annotations=annotations,
        categories=[dict(TEXT_CATEGORY)])


def convert_split(raw_dir: str, img_dir: str, ann_dir: str, ann_ext: str,
                  image_stem: Callable[[str], str],
                  parse: Callable[[str], List[Dict]]) -> Dict:
    """COCO dict of one split with one annotation file per image.

    Args:
        raw_dir (str): Dataset root; output ``file_name`` is relative to it.
        img_dir (str): Image folder, relative to ``raw_dir``.
        ann_dir (str): Annotation folder, relative to ``raw_dir``.
        ann_ext (str): Extension of the annotation files, e.g. ``'.txt'``.
        image_stem (callable): Annotation file stem -> image file stem.
        parse (callable): Annotation file path -> list of instances.

    Returns:
        dict: See :func:`build_coco`. Images come in natural order of the
        annotation file names (1, 2, ..., 10).
    """
    ann_root = os.path.join(raw_dir, ann_dir)
    img_root = os.path.join(raw_dir, img_dir)
    ann_names = sorted(
        (n for n in os.listdir(ann_root) if n.endswith(ann_ext)),
        key=natural_key)
    records, img_paths = [], []
    for ann_name in ann_names:
        stem = image_stem(os.path.splitext(ann_name)[0])
        img_path = find_image(img_root, stem)
        width, height = image_size(img_path)
        instances = parse(os.path.join(ann_root, ann_name))
        records.append((relative_file_name(img_path, raw_dir), width, height,
                        instances))
        img_paths.append(img_path)
    check_all_annotated(img_root, img_paths)
    return build_coco(records)


def coco_counts(coco: Dict) -> Tuple[int, int, int, int]:
    """(images, instances, do-not-care instances, degenerate instances) of
    a COCO dict; degenerate instances are the do-not-care ones of zero
    area."""
    anns = coco['annotations']
    return (len(coco['images']), len(anns),
            sum(ann['iscrowd'] for ann in anns),
            sum(ann['area'] == 0 for ann in anns))


def dump_coco(coco: Dict, path: str) -> None:
    """Write a COCO dict as UTF-8 JSON (transcriptions are kept readable)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(coco, f, ensure_ascii=False)


def convert_splits(name: str, out_dir: str,
                   converters: Dict[str, Callable[[], Dict]]) -> Dict:
    """Run each split's converter, write ``OUT/<name>_<split>.json`` and
    print its counts; the converter CLIs share this.

    A malformed annotation or a missing file ends the program with a one-line
    ``error: ...`` naming it, instead of a traceback. A degenerate polygon
    does not: it is converted as do-not-care with a warning naming it, and
    the split's count line ends with how many there were.

    Returns:
        dict: ``{split: json path}``.
    """
    paths = {}
    for split, convert in converters.items():
        try:
            coco = convert()
        except (TextAnnotationError, FileNotFoundError) as e:
            raise SystemExit(f'error: {e}')
        paths[split] = os.path.join(out_dir, f'{name}_{split}.json')
        dump_coco(coco, paths[split])
        images, instances, ignored, degenerate = coco_counts(coco)
        of_which = f' ({degenerate} degenerate)' if degenerate else ''
        print(f'{split}: {images} images, {instances} instances, {ignored} '
              f'do-not-care{of_which} -> {paths[split]}')
    return paths
