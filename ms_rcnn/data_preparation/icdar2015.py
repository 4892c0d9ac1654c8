"""ICDAR2015 (Incidental Scene Text) ground truth to COCO-style JSON.

Raw layout, one ground-truth file per image::

    ch4_training_images/img_1.jpg
    ch4_training_localization_transcription_gt/gt_img_1.txt

Each ``gt_img_N.txt`` is UTF-8 with a BOM and CRLF line ends, one word per
line: ``x1,y1,x2,y2,x3,y3,x4,y4,transcription``. The transcription is the rest
of the line and may itself hold commas and quotes (``B1,``, ``"$100,000"``);
``###`` marks a do-not-care region.
"""
from typing import Dict, List

from .coco_format import (TextAnnotationError, convert_split, make_instance,
                          parse_coords, parse_text_lines)

NUM_COORDS = 8


def parse_icdar2015_line(line: str, where: str) -> Dict:
    """Parse one ``x1,y1,...,x4,y4,transcription`` line into an instance.

    Args:
        line (str): The line without its line end.
        where (str): ``'FILE, line N'``, put at the start of error messages.

    Returns:
        dict: ``polygon`` (8 floats), ``text`` and ``ignore``.
    """
    # Split off exactly 8 fields: commas after them belong to the text.
    fields = line.split(',', NUM_COORDS)
    if len(fields) != NUM_COORDS + 1:
        raise TextAnnotationError(
            f'{where}: expected {NUM_COORDS} coordinates and a '
            f'transcription, got {len(fields)} field(s)')
    polygon = parse_coords(fields[:NUM_COORDS], NUM_COORDS, where)
    return make_instance(polygon, fields[NUM_COORDS], where)


def parse_icdar2015_gt(path: str) -> List[Dict]:
    """Instances of one ``gt_img_N.txt`` file, in file order.

    Blank lines are skipped; line numbers in errors are 1-based and count
    them.
    """
    return parse_text_lines(path, parse_icdar2015_line)


def convert_icdar2015(raw_dir: str, img_dir: str, gt_dir: str) -> Dict:
    """COCO-style dict of one split (``img_dir`` and ``gt_dir`` relative to
    ``raw_dir``); see :func:`.coco_format.convert_split`.
    """
    # gt_img_7.txt annotates img_7.jpg
    return convert_split(raw_dir, img_dir, gt_dir, '.txt',
                         lambda stem: stem[len('gt_'):]
                         if stem.startswith('gt_') else stem,
                         parse_icdar2015_gt)
