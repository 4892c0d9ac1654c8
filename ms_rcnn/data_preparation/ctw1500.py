"""SCUT-CTW1500 (curved text) ground truth to COCO-style JSON.

Raw layout::

    train_images/0001.jpg           ctw1500_train_labels/0001.xml
    test_images/1001.jpg            ctw1500_test_labels/0001001.txt

Training labels are one XML file per image::

    <Annotations>
      <image file="0001.jpg">
        <box height="197" left="131" top="49" width="399">
          <label>OLATHE</label>
          <segs>131,58,208,49,...</segs>    28 integers: 14 (x, y) points,
          <pts x="183" y="95" />            absolute pixels
        </box>
      </image>
    </Annotations>

Test labels are one text file per image, one line per text region: 28
integers, then ``####`` and the transcription (``...,165,134,####OLATHE``).
A transcription ``###`` marks a do-not-care region, so such a line ends with
``#######``. A ``<label>`` of ``###`` in the XML is do-not-care as well.
"""
import xml.etree.ElementTree as ET
from typing import Dict, List

from .coco_format import (TextAnnotationError, convert_split, make_instance,
                          parse_coords, parse_text_lines)

NUM_COORDS = 28
TEXT_SEPARATOR = '####'


def parse_ctw1500_xml(path: str) -> List[Dict]:
    """Instances of one training XML file, in document order.

    Errors name the file and the 1-based index of the ``<box>``.
    """
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise TextAnnotationError(f'{path}: invalid XML ({e})') from None
    instances = []
    for i, box in enumerate(root.iter('box'), start=1):
        where = f'{path}, box {i}'
        segs = box.findtext('segs')
        if not segs or not segs.strip():
            raise TextAnnotationError(f'{where}: no <segs>')
        polygon = parse_coords(segs.strip().split(','), NUM_COORDS, where)
        instances.append(
            make_instance(polygon, box.findtext('label') or '', where))
    return instances


def parse_ctw1500_line(line: str, where: str) -> Dict:
    """Parse one ``x1,y1,...,x14,y14,####transcription`` test line.

    Args:
        line (str): The line without its line end.
        where (str): ``'FILE, line N'``, put at the start of error messages.

    Returns:
        dict: ``polygon`` (28 floats), ``text`` and ``ignore``.
    """
    # The first '####' ends the coordinates: the text may contain '#' too.
    coords, sep, text = line.partition(TEXT_SEPARATOR)
    if not sep:
        raise TextAnnotationError(
            f'{where}: no {TEXT_SEPARATOR!r} before the transcription')
    fields = coords.split(',')
    if fields[-1].strip() == '':  # the comma that precedes '####'
        fields.pop()
    polygon = parse_coords(fields, NUM_COORDS, where)
    return make_instance(polygon, text, where)


def parse_ctw1500_txt(path: str) -> List[Dict]:
    """Instances of one test ``000NNNN.txt`` file, in file order.

    Blank lines are skipped; line numbers in errors are 1-based and count
    them.
    """
    return parse_text_lines(path, parse_ctw1500_line)


def _test_image_stem(stem: str) -> str:
    # 0001001.txt annotates 1001.jpg: image names have 4 digits.
    return f'{int(stem):04d}' if stem.isdigit() else stem


def convert_ctw1500(raw_dir: str, img_dir: str, label_dir: str,
                    split: str) -> Dict:
    """COCO-style dict of one split.

    Args:
        raw_dir (str): Dataset root; output ``file_name`` is relative to it.
        img_dir (str): Image folder, relative to ``raw_dir``.
        label_dir (str): Label folder, relative to ``raw_dir``.
        split (str): ``'train'`` (XML labels) or ``'test'`` (txt labels).

    Returns:
        dict: See :func:`.coco_format.build_coco`.
    """
    if split == 'train':
        return convert_split(raw_dir, img_dir, label_dir, '.xml',
                             lambda stem: stem, parse_ctw1500_xml)
    if split == 'test':
        return convert_split(raw_dir, img_dir, label_dir, '.txt',
                             _test_image_stem, parse_ctw1500_txt)
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")
