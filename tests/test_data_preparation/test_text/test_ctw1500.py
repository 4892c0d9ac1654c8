"""CTW1500 ground truth parsing (XML train, txt test) and conversion."""
import logging
import os

import cv2
import numpy as np
import pytest

from ms_rcnn.data_preparation import (TextAnnotationError, convert_ctw1500,
                                      parse_ctw1500_line, parse_ctw1500_txt,
                                      parse_ctw1500_xml)


def band(x0, y0, width=60, height=20):
    """14 points: 7 along the top edge left to right, 7 back along the
    bottom. A rectangle with collinear points, so its area is exact."""
    step = width // 6
    top = [(x0 + i * step, y0) for i in range(7)]
    bottom = [(x0 + width - i * step, y0 + height) for i in range(7)]
    return [float(v) for pt in top + bottom for v in pt]


BAND = band(10, 10)  # bbox [10, 10, 60, 20], area 1200
BAND2 = band(100, 50, 30, 12)  # bbox [100, 50, 30, 12], area 360


def ints(polygon):
    return ','.join(str(int(v)) for v in polygon)


def write_xml(path, boxes):
    """Training label in the official layout; ``boxes``: (label, segs)."""
    body = ''.join(
        f'<box height="20" left="0" top="0" width="60">'
        f'<label>{label}</label><segs>{segs}</segs><pts x="1" y="2" />'
        f'</box>\n' for label, segs in boxes)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(f'<Annotations>\n<image file="{os.path.basename(path)}">\n'
                f'{body}</image>\n</Annotations>\n')


def write_txt(path, lines):
    with open(path, 'wb') as f:
        f.write('\r\n'.join(lines).encode('utf-8') + b'\r\n')


def test_xml(tmp_path):
    path = tmp_path / '0001.xml'
    write_xml(path, [('OLATHE', ints(BAND)), ('###', ints(BAND2)),
                     ('Tom&apos;s, "best"', ints(BAND))])
    assert parse_ctw1500_xml(str(path)) == [
        dict(polygon=BAND, text='OLATHE', ignore=False),
        dict(polygon=BAND2, text='###', ignore=True),
        dict(polygon=BAND, text='Tom\'s, "best"', ignore=False),
    ]


@pytest.mark.parametrize('segs, message', [
    (ints(BAND[:-2]), 'expected 28 coordinates, got 26'),
    (ints(BAND[:-1]) + ',y', "non-numeric coordinate 'y'"),
    ('', 'no <segs>'),
])
def test_malformed_xml_box_names_file_and_box(tmp_path, segs, message):
    path = tmp_path / '0042.xml'
    write_xml(path, [('ok', ints(BAND)), ('bad', segs)])
    with pytest.raises(TextAnnotationError) as err:
        parse_ctw1500_xml(str(path))
    assert str(err.value) == f'{path}, box 2: {message}'


def test_degenerate_xml_box_becomes_do_not_care_with_a_warning(
        tmp_path, caplog):
    path = tmp_path / '0042.xml'
    point = ','.join(['7'] * 28)
    write_xml(path, [('ok', ints(BAND)), ('dot', point), ('ok2', ints(BAND2))])
    with caplog.at_level(logging.WARNING):
        instances = parse_ctw1500_xml(str(path))
    assert instances == [
        dict(polygon=BAND, text='ok', ignore=False),
        dict(polygon=[7.] * 28, text='dot', ignore=True),
        dict(polygon=BAND2, text='ok2', ignore=False),
    ]
    assert caplog.messages == [
        f'{path}, box 2: degenerate polygon with 1 distinct point(s); '
        'marked do-not-care'
    ]


def test_zero_area_txt_line_becomes_do_not_care_with_a_warning(
        tmp_path, caplog):
    path = tmp_path / '0001003.txt'
    # 14 points on the line y = 10
    flat = ','.join(f'{10 + i},10' for i in range(14))
    write_txt(path, [ints(BAND) + ',####a', flat + ',####b'])
    with caplog.at_level(logging.WARNING):
        instances = parse_ctw1500_txt(str(path))
    assert [(i['text'], i['ignore']) for i in instances] == [('a', False),
                                                             ('b', True)]
    assert caplog.messages == [
        f'{path}, line 2: degenerate polygon of zero area; marked '
        'do-not-care'
    ]


def test_invalid_xml_names_file(tmp_path):
    path = tmp_path / '0003.xml'
    path.write_text('<Annotations><image><box>')
    with pytest.raises(TextAnnotationError, match=f'{path}: invalid XML'):
        parse_ctw1500_xml(str(path))


def test_txt_line_text_and_do_not_care():
    line = ints(BAND) + ',####Hello, "World"'
    assert parse_ctw1500_line(line, 'w') == dict(
        polygon=BAND, text='Hello, "World"', ignore=False)
    # '####' separator then '###': do-not-care
    dnc = parse_ctw1500_line(ints(BAND) + ',#######', 'w')
    assert dnc['text'] == '###' and dnc['ignore'] is True
    # only the first '####' separates: a text may start with '#'
    hashed = parse_ctw1500_line(ints(BAND) + ',#####5', 'w')
    assert hashed['text'] == '#5' and hashed['ignore'] is False


def test_txt_file(tmp_path):
    path = tmp_path / '0001001.txt'
    write_txt(path, [
        ints(BAND) + ',####Latin 9', '',
        ints(BAND2) + ',#######'
    ])
    assert parse_ctw1500_txt(str(path)) == [
        dict(polygon=BAND, text='Latin 9', ignore=False),
        dict(polygon=BAND2, text='###', ignore=True),
    ]


@pytest.mark.parametrize('bad_line, message', [
    (ints(BAND[:-2]) + ',####x', 'expected 28 coordinates, got 26'),
    (ints(BAND) + ',7,8,####x', 'expected 28 coordinates, got 30'),
    (ints(BAND) + ',x', "no '####' before the transcription"),
    (ints(BAND[:-1]) + ',1e,####x', "non-numeric coordinate '1e'"),
])
def test_malformed_txt_line_names_file_and_line(tmp_path, bad_line,
                                                message):
    path = tmp_path / '0001002.txt'
    write_txt(path, [ints(BAND) + ',####ok', bad_line])
    with pytest.raises(TextAnnotationError) as err:
        parse_ctw1500_txt(str(path))
    assert str(err.value) == f'{path}, line 2: {message}'


def write_image(path, width, height):
    cv2.imwrite(str(path), np.zeros((height, width, 3), np.uint8))


def test_convert_both_splits(tmp_path):
    for d in ('train_images', 'train_labels', 'test_images', 'test_labels'):
        os.makedirs(tmp_path / d)
    write_image(tmp_path / 'train_images' / '0001.jpg', 80, 40)
    write_xml(tmp_path / 'train_labels' / '0001.xml',
              [('A', ints(BAND)), ('###', ints(BAND2))])
    write_image(tmp_path / 'test_images' / '1001.jpg', 140, 70)
    write_txt(tmp_path / 'test_labels' / '0001001.txt',
              [ints(BAND2) + ',#######', ints(BAND) + ',####B,C'])

    train = convert_ctw1500(str(tmp_path), 'train_images', 'train_labels',
                            'train')
    assert train['images'] == [
        dict(id=1, file_name='train_images/0001.jpg', width=80, height=40)
    ]
    assert [(a['text'], a['iscrowd']) for a in train['annotations']] == [
        ('A', 0), ('###', 1)
    ]
    assert train['annotations'][0]['segmentation'] == [BAND]
    assert train['annotations'][0]['bbox'] == [10., 10., 60., 20.]
    assert train['annotations'][0]['area'] == 1200.
    assert train['annotations'][1]['bbox'] == [100., 50., 30., 12.]
    assert train['annotations'][1]['area'] == 360.

    test = convert_ctw1500(str(tmp_path), 'test_images', 'test_labels',
                           'test')
    # 0001001.txt annotates 1001.jpg
    assert test['images'] == [
        dict(id=1, file_name='test_images/1001.jpg', width=140, height=70)
    ]
    assert [(a['text'], a['iscrowd']) for a in test['annotations']] == [
        ('###', 1), ('B,C', 0)
    ]


def test_missing_test_image_is_named(tmp_path):
    os.makedirs(tmp_path / 'imgs')
    os.makedirs(tmp_path / 'labels')
    write_txt(tmp_path / 'labels' / '0001007.txt', [ints(BAND) + ',####a'])
    with pytest.raises(FileNotFoundError, match='imgs/1007.jpg'):
        convert_ctw1500(str(tmp_path), 'imgs', 'labels', 'test')
