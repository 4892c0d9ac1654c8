"""ICDAR2015 ground truth parsing and conversion to COCO style."""
import logging
import os

import cv2
import numpy as np
import pytest

from ms_rcnn.data_preparation import (TextAnnotationError, convert_icdar2015,
                                      parse_icdar2015_gt, parse_icdar2015_line)

QUAD = [377., 117., 463., 117., 465., 130., 378., 130.]
# A trapezoid with horizontal top (86 px) and bottom (87 px), 13 px high.
QUAD_AREA = (86 + 87) / 2 * 13


def write_gt(path, lines):
    """A ground-truth file as the official ones: BOM, CRLF line ends."""
    with open(path, 'wb') as f:
        f.write(b'\xef\xbb\xbf' + '\r\n'.join(lines).encode('utf-8') +
                b'\r\n')


def write_image(path, width, height):
    cv2.imwrite(str(path), np.zeros((height, width, 3), np.uint8))


@pytest.mark.parametrize('text', ['Genaxis Theatre', 'B1,', '"$100,000"',
                                  'a,b,c', ''])
def test_line_keeps_commas_and_quotes_in_text(text):
    inst = parse_icdar2015_line('377,117,463,117,465,130,378,130,' + text,
                                'f.txt, line 1')
    assert inst == dict(polygon=QUAD, text=text, ignore=False)


def test_line_do_not_care():
    inst = parse_icdar2015_line('374,155,409,155,409,170,374,170,###', 'w')
    assert inst['ignore'] is True
    assert inst['text'] == '###'
    # '###' inside a longer word is a word, not a do-not-care mark
    assert not parse_icdar2015_line('1,1,9,1,9,9,1,9,###a', 'w')['ignore']


def test_gt_file_with_bom_and_crlf(tmp_path):
    path = tmp_path / 'gt_img_1.txt'
    write_gt(path, [
        '377,117,463,117,465,130,378,130,Genaxis Theatre',
        '374,155,409,155,409,170,374,170,###',
        '',  # blank lines are skipped
        '10,20,30,20,30,40,10,40,"Tom\'s", B1,',
    ])
    assert parse_icdar2015_gt(str(path)) == [
        dict(polygon=QUAD, text='Genaxis Theatre', ignore=False),
        dict(
            polygon=[374., 155., 409., 155., 409., 170., 374., 170.],
            text='###',
            ignore=True),
        dict(
            polygon=[10., 20., 30., 20., 30., 40., 10., 40.],
            text='"Tom\'s", B1,',
            ignore=False),
    ]


@pytest.mark.parametrize('bad_line, message', [
    ('1,2,3,4,5,6,7,text', 'expected 8 coordinates and a transcription, '
     'got 8 field(s)'),
    ('1,2,3,4,5,6,7,x8,text', "non-numeric coordinate 'x8'"),
    ('1,2,3,4,5,6,7,nan,text', "non-finite coordinate 'nan'"),
])
def test_malformed_line_names_file_and_line(tmp_path, bad_line, message):
    path = tmp_path / 'gt_img_7.txt'
    # the bad line is line 3: the blank line 2 counts
    write_gt(path, ['377,117,463,117,465,130,378,130,ok', '', bad_line])
    with pytest.raises(TextAnnotationError) as err:
        parse_icdar2015_gt(str(path))
    assert str(err.value) == f'{path}, line 3: {message}'
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize('bad_line, problem', [
    ('5,5,5,5,9,9,9,9,text', 'degenerate polygon with 2 distinct point(s)'),
    ('0,0,5,5,10,10,0,0,text', 'degenerate polygon of zero area'),
])
def test_degenerate_polygon_becomes_do_not_care_with_a_warning(
        tmp_path, caplog, bad_line, problem):
    path = tmp_path / 'gt_img_3.txt'
    write_gt(path, ['377,117,463,117,465,130,378,130,ok', '', bad_line,
                    '374,155,409,155,409,170,374,170,next'])
    with caplog.at_level(logging.WARNING):
        instances = parse_icdar2015_gt(str(path))
    assert [(i['text'], i['ignore']) for i in instances] == [
        ('ok', False), ('text', True), ('next', False)
    ]
    assert instances[1]['polygon'] == [
        float(v) for v in bad_line.split(',')[:8]
    ]
    assert caplog.messages == [
        f'{path}, line 3: {problem}; marked do-not-care'
    ]


def make_split(root, sizes):
    """images/img_N.jpg and gts/gt_img_N.txt for N, (w, h) in ``sizes``."""
    os.makedirs(root / 'images')
    os.makedirs(root / 'gts')
    for n, (w, h) in sizes.items():
        write_image(root / 'images' / f'img_{n}.jpg', w, h)
        write_gt(root / 'gts' / f'gt_img_{n}.txt',
                 [f'{n},1,{n + 10},1,{n + 10},6,{n},6,w{n}'])


def test_convert_split(tmp_path):
    make_split(tmp_path, {10: (64, 48), 2: (32, 24)})
    write_gt(tmp_path / 'gts' / 'gt_img_2.txt', [
        '377,117,463,117,465,130,378,130,"$100,000"',
        '374,155,409,155,409,170,374,170,###',
    ])
    coco = convert_icdar2015(str(tmp_path), 'images', 'gts')
    assert coco['categories'] == [{'id': 1, 'name': 'text'}]
    # natural order: img_2 before img_10
    assert coco['images'] == [
        dict(id=1, file_name='images/img_2.jpg', width=32, height=24),
        dict(id=2, file_name='images/img_10.jpg', width=64, height=48),
    ]
    anns = coco['annotations']
    assert [a['id'] for a in anns] == [1, 2, 3]
    assert [a['image_id'] for a in anns] == [1, 1, 2]
    assert [a['iscrowd'] for a in anns] == [0, 1, 0]
    assert [a['text'] for a in anns] == ['"$100,000"', '###', 'w10']
    assert anns[0]['segmentation'] == [QUAD]
    assert anns[0]['bbox'] == [377., 117., 88., 13.]
    assert anns[0]['area'] == QUAD_AREA
    assert anns[0]['category_id'] == 1
    assert anns[1]['bbox'] == [374., 155., 35., 15.]
    assert anns[1]['area'] == 35 * 15
    assert anns[2]['bbox'] == [10., 1., 10., 5.]


def test_missing_image_is_named(tmp_path):
    make_split(tmp_path, {1: (32, 24)})
    write_gt(tmp_path / 'gts' / 'gt_img_3.txt', ['1,1,9,1,9,9,1,9,x'])
    with pytest.raises(FileNotFoundError, match='images/img_3.jpg'):
        convert_icdar2015(str(tmp_path), 'images', 'gts')


def test_image_without_gt_is_an_error(tmp_path):
    make_split(tmp_path, {1: (32, 24)})
    write_image(tmp_path / 'images' / 'img_5.jpg', 8, 8)
    with pytest.raises(FileNotFoundError, match='img_5.jpg'):
        convert_icdar2015(str(tmp_path), 'images', 'gts')
