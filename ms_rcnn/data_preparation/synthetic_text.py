"""Synthetic scene-text datasets written in the raw layouts of ICDAR 2015
and SCUT-CTW1500, for the shipped converters to read.

``icdar2015``::

    ch4_training_images/img_1.jpg
    ch4_training_localization_transcription_gt/gt_img_1.txt
    ch4_test_images/img_1.jpg
    Challenge4_Test_Task1_GT/gt_img_1.txt

Each ``gt_img_N.txt`` is UTF-8 with a BOM and CRLF line ends, one word a
line: ``x1,y1,...,x4,y4,transcription``, ``###`` for do-not-care.

``ctw1500`` (test images are numbered after the training ones, as in the
real set)::

    train_images/0001.jpg       ctw1500_train_labels/0001.xml
    test_images/0601.jpg        ctw1500_test_labels/0000601.txt

XML ``<box>`` elements with a ``<label>`` and ``<segs>`` of 14 (x, y)
points; test lines of 28 integers then ``####`` and the transcription
(``###`` for do-not-care).

The scenes are :func:`~.text_scenes.render_scene`'s. Each image draws from
its own random generator seeded with ``(seed, kind, split, index)``: the
same arguments give byte-identical files. ``synthetic_text.json`` in the
output folder records the arguments before the first file is written, and
the counts after the last. A run never mixes with an earlier one: the
layout's folders must be empty, or are emptied first with ``overwrite``.
"""
import json
import os
import os.path as osp
import shutil
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .coco_format import DO_NOT_CARE
from .text_render import check_fonts, default_fonts
from .text_scenes import KINDS, render_scene

SPLITS = ('train', 'test')
# (image folder, annotation folder) of each split, as the datasets ship.
LAYOUTS = {
    'icdar2015': {
        'train': ('ch4_training_images',
                  'ch4_training_localization_transcription_gt'),
        'test': ('ch4_test_images', 'Challenge4_Test_Task1_GT')
    },
    'ctw1500': {
        'train': ('train_images', 'ctw1500_train_labels'),
        'test': ('test_images', 'ctw1500_test_labels')
    }
}
# Share of do-not-care words: ICDAR 2015 marks many words '###' (small,
# blurred, far away), CTW1500 few of its lines.
DNC_SHARE = {'icdar2015': 0.5, 'ctw1500': 0.1}
RECORD = 'synthetic_text.json'
JPEG_QUALITY = 95


def icdar2015_gt(words: Sequence[Dict]) -> bytes:
    """A ``gt_img_N.txt``: UTF-8 with a BOM, CRLF line ends."""
    lines = [
        ','.join(map(str, w['polygon'])) + ',' +
        (DO_NOT_CARE if w['ignore'] else w['text']) for w in words
    ]
    return '\ufeff'.encode() + ''.join(
        line + '\r\n' for line in lines).encode('utf-8')


def ctw1500_xml(file_name: str, words: Sequence[Dict]) -> bytes:
    """A training ``NNNN.xml``: one ``<box>`` per line of text."""
    root = ET.Element('Annotations')
    image = ET.SubElement(root, 'image', file=file_name)
    for w in words:
        xs, ys = w['polygon'][0::2], w['polygon'][1::2]
        box = ET.SubElement(
            image, 'box', height=str(ys.max() - ys.min()),
            left=str(xs.min()), top=str(ys.min()),
            width=str(xs.max() - xs.min()))
        ET.SubElement(box, 'label').text = (DO_NOT_CARE if w['ignore'] else
                                            w['text'])
        ET.SubElement(box, 'segs').text = ','.join(map(str, w['polygon']))
        for x, y in zip(xs, ys):
            ET.SubElement(box, 'pts', x=str(x), y=str(y))
    ET.indent(root)
    return ET.tostring(root, encoding='utf-8') + b'\n'


def ctw1500_txt(words: Sequence[Dict]) -> bytes:
    """A test ``000NNNN.txt``: ``x1,y1,...,x14,y14,####transcription``."""
    return ''.join(
        ','.join(map(str, w['polygon'])) + ',####' +
        (DO_NOT_CARE if w['ignore'] else w['text']) + '\n'
        for w in words).encode('utf-8')


def _file_names(kind: str, split: str, index: int, num_train: int):
    """(image, annotation) file names of image ``index`` (0-based)."""
    if kind == 'icdar2015':
        return f'img_{index + 1}.jpg', f'gt_img_{index + 1}.txt'
    number = index + 1 + (num_train if split == 'test' else 0)
    if split == 'train':
        return f'{number:04d}.jpg', f'{number:04d}.xml'
    return f'{number:04d}.jpg', f'{number:07d}.txt'


def render_image(kind: str, seed: int, split: str, index: int,
                 img_size: int, fonts: Sequence[str],
                 dnc_share: float) -> Tuple[np.ndarray, List[Dict]]:
    """Image ``index`` (0-based) of a split and its words, exactly as
    :func:`generate_text_dataset` writes them; see
    :func:`~.text_scenes.render_scene` for what is returned."""
    rng = np.random.default_rng(
        [seed, KINDS.index(kind), SPLITS.index(split), index])
    return render_scene(rng, kind, img_size, fonts, dnc_share)


def _write(path: str, data: bytes) -> None:
    with open(path, 'wb') as f:
        f.write(data)


def _read_record(out_dir: str) -> Optional[Dict]:
    """``out_dir``'s ``synthetic_text.json`` (the arguments, and the
    ``counts`` once the last file is written), or None where there is none
    to read."""
    try:
        with open(osp.join(out_dir, RECORD)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _is_complete(out_dir: str, params: Dict) -> bool:
    """Whether ``out_dir`` holds the dataset of ``params``, all files."""
    record = _read_record(out_dir) or {}
    counts = record.pop('counts', None)  # recorded after the last file
    if counts is None or record != params:
        return False
    for split in SPLITS:
        img_dir, ann_dir = LAYOUTS[params['kind']][split]
        for i in range(params[f'num_{split}']):
            img, ann = _file_names(params['kind'], split, i,
                                   params['num_train'])
            if not (osp.isfile(osp.join(out_dir, img_dir, img))
                    and osp.isfile(osp.join(out_dir, ann_dir, ann))):
                return False
    return True


def _empty_layout(out_dir: str, kind: str, overwrite: bool) -> None:
    """Empty the folders of ``kind``'s layout in ``out_dir``, so that the
    converters read no file of an earlier run; refuse a folder with files
    unless ``overwrite``.

    Raises:
        FileExistsError: naming the first such folder and the option.
    """
    folders = [
        osp.join(out_dir, d) for split in SPLITS for d in LAYOUTS[kind][split]
    ]
    used = [d for d in folders if osp.isdir(d) and os.listdir(d)]
    if used and not overwrite:
        raise FileExistsError(
            f'{used[0]} is not empty: the converters would read its files '
            'with the new ones. Pass --overwrite (overwrite=True in Python) '
            f'to delete the files of {", ".join(used)} first, or write to '
            'another --out-dir')
    for folder in used:
        shutil.rmtree(folder)


def text_dataset_params(kind: str,
                        seed: int = 0,
                        num_train: int = 600,
                        num_test: int = 100,
                        img_size: int = 256,
                        dnc_share: Optional[float] = None,
                        fonts: Optional[Sequence[str]] = None) -> Dict:
    """What :func:`generate_text_dataset` records of its arguments in
    ``synthetic_text.json`` (the same defaults; fonts by file name), to
    tell whether a folder holds the set those arguments make."""
    if kind not in KINDS:
        raise ValueError(f'kind must be one of {KINDS}, got {kind!r}')
    if img_size < 64:
        raise ValueError(f'img_size must be >= 64, got {img_size}')
    fonts = default_fonts() if fonts is None else fonts
    return dict(
        kind=kind, seed=seed, num_train=num_train, num_test=num_test,
        img_size=img_size,
        dnc_share=DNC_SHARE[kind] if dnc_share is None else dnc_share,
        fonts=[osp.basename(f) for f in fonts])


def text_dataset_record(out_dir: str) -> Optional[Dict]:
    """The arguments recorded in ``out_dir``'s ``synthetic_text.json``
    (without its ``counts``), or None where there is none to read."""
    record = _read_record(out_dir)
    if record is not None:
        record.pop('counts', None)
    return record


def generate_text_dataset(out_dir: str,
                          kind: str,
                          seed: int = 0,
                          num_train: int = 600,
                          num_test: int = 100,
                          img_size: int = 256,
                          dnc_share: Optional[float] = None,
                          fonts: Optional[Sequence[str]] = None,
                          skip_existing: bool = False,
                          overwrite: bool = False) -> Dict:
    """Write one synthetic dataset in the raw layout of ``kind``.

    Args:
        out_dir (str): Dataset root (the converters' ``raw_dir``).
        kind (str): ``'icdar2015'`` or ``'ctw1500'``.
        seed (int): Seed of every image's random generator.
        num_train (int): Training images.
        num_test (int): Test images.
        img_size (int): Side of the square images, pixels (>= 64).
        dnc_share (float, optional): Probability that a word other than
            an image's first is do-not-care; None: :data:`DNC_SHARE`.
        fonts (Sequence[str], optional): TrueType files, one drawn per
            word; None: the DejaVu fonts installed with matplotlib.
        skip_existing (bool): Keep a complete dataset written with the
            same arguments.
        overwrite (bool): Delete the files of the layout's folders
            (``LAYOUTS[kind]``) first. Without it, a folder with files
            raises FileExistsError.

    Returns:
        dict: ``{'train': {...}, 'test': {...}}`` with the number of
        ``images``, ``words`` and ``do_not_care`` words of each split.
    """
    fonts = default_fonts() if fonts is None else fonts
    params = text_dataset_params(kind, seed, num_train, num_test, img_size,
                                 dnc_share, fonts)
    fonts = check_fonts(fonts)
    if skip_existing and _is_complete(out_dir, params):
        return _read_record(out_dir)['counts']
    _empty_layout(out_dir, kind, overwrite)
    # Written first: a run cut short leaves a folder that the record marks
    # as the generator's (ensure_text_dataset replaces it).
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, RECORD), 'w') as f:
        json.dump(params, f, indent=1)
    counts = {}
    for split in SPLITS:
        img_dir, ann_dir = (osp.join(out_dir, d)
                            for d in LAYOUTS[kind][split])
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        words_total = dnc_total = 0
        for i in range(params[f'num_{split}']):
            img, words = render_image(kind, seed, split, i, img_size, fonts,
                                      params['dnc_share'])
            img_name, ann_name = _file_names(kind, split, i, num_train)
            ok, jpg = cv2.imencode(
                '.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            assert ok, f'cv2 failed to encode {img_name}'
            _write(osp.join(img_dir, img_name), jpg.tobytes())
            if kind == 'icdar2015':
                ann = icdar2015_gt(words)
            elif split == 'train':
                ann = ctw1500_xml(img_name, words)
            else:
                ann = ctw1500_txt(words)
            _write(osp.join(ann_dir, ann_name), ann)
            words_total += len(words)
            dnc_total += sum(w['ignore'] for w in words)
        counts[split] = dict(
            images=params[f'num_{split}'], words=words_total,
            do_not_care=dnc_total)
    with open(osp.join(out_dir, RECORD), 'w') as f:
        json.dump(dict(params, counts=counts), f, indent=1)
    return counts


def ensure_text_dataset(out_dir: str, kind: str, **kwargs) -> Dict:
    """:func:`generate_text_dataset` unless ``out_dir`` already holds the
    same dataset; returns the counts. An earlier set of the generator there
    (its record written) is replaced; other files in the layout's folders
    raise FileExistsError."""
    return generate_text_dataset(
        out_dir, kind, skip_existing=True,
        overwrite=osp.isfile(osp.join(out_dir, RECORD)), **kwargs)
