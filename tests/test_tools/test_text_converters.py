"""icdar2015.py and ctw1500.py converters: command line to JSON files.

A successful conversion runs each tool in a subprocess; the error paths call
its ``main`` in this process, which saves the package import time.
"""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def run_tool(name, *args):
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    return subprocess.run(
        [sys.executable,
         osp.join(ROOT, 'tools', 'dataset_converters', name), *args],
        capture_output=True, text=True, env=env, cwd=ROOT)


def load_tool(name):
    path = osp.join(ROOT, 'tools', 'dataset_converters', name)
    spec = importlib.util.spec_from_file_location(name[:-3] + '_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exit_message(name, *args):
    """The message the tool exits with (it must exit with one)."""
    with pytest.raises(SystemExit) as exc:
        load_tool(name).main(list(args))
    return exc.value.code


def write(path, lines, bom=False):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write((b'\xef\xbb\xbf' if bom else b'') +
                '\r\n'.join(lines).encode('utf-8') + b'\r\n')


def write_image(path, width, height):
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(str(path), np.zeros((height, width, 3), np.uint8))


def make_icdar2015(raw):
    """Official layout: 2 train images (one ### word), 1 test image."""
    write_image(raw / 'ch4_training_images' / 'img_1.jpg', 64, 32)
    write_image(raw / 'ch4_training_images' / 'img_2.jpg', 48, 40)
    write_image(raw / 'ch4_test_images' / 'img_1.jpg', 80, 60)
    gt = raw / 'ch4_training_localization_transcription_gt'
    write(gt / 'gt_img_1.txt', ['1,2,21,2,21,12,1,12,"$100,000"',
                                '30,2,40,2,40,12,30,12,###'], bom=True)
    write(gt / 'gt_img_2.txt', ['5,5,15,5,15,9,5,9,B1,'], bom=True)
    write(raw / 'Challenge4_Test_Task1_GT' / 'gt_img_1.txt',
          ['0,0,8,0,8,4,0,4,it\'s'], bom=True)


def test_icdar2015_cli(tmp_path):
    raw, out = tmp_path / 'raw', tmp_path / 'out'
    make_icdar2015(raw)
    proc = run_tool('icdar2015.py', str(raw), '--out-dir', str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f'train: 2 images, 3 instances, 1 do-not-care -> '
        f'{out}/icdar2015_train.json',
        f'test: 1 images, 1 instances, 0 do-not-care -> '
        f'{out}/icdar2015_test.json',
    ]
    with open(out / 'icdar2015_train.json', encoding='utf-8') as f:
        train = json.load(f)
    assert [i['file_name'] for i in train['images']] == [
        'ch4_training_images/img_1.jpg', 'ch4_training_images/img_2.jpg'
    ]
    assert [(a['text'], a['iscrowd']) for a in train['annotations']] == [
        ('"$100,000"', 0), ('###', 1), ('B1,', 0)
    ]
    assert train['annotations'][0]['bbox'] == [1, 2, 20, 10]
    assert train['annotations'][0]['area'] == 200
    with open(out / 'icdar2015_test.json', encoding='utf-8') as f:
        test = json.load(f)
    assert test['images'] == [
        dict(id=1, file_name='ch4_test_images/img_1.jpg', width=80,
             height=60)
    ]
    assert test['annotations'][0]['text'] == "it's"


def test_icdar2015_cli_reports_the_bad_line(tmp_path):
    raw = tmp_path / 'raw'
    make_icdar2015(raw)
    gt = raw / 'ch4_training_localization_transcription_gt' / 'gt_img_2.txt'
    write(gt, ['5,5,15,5,15,9,5,9,ok', '5,5,15,5,15,9,5,word'], bom=True)
    message = exit_message('icdar2015.py', str(raw), '--out-dir',
                           str(tmp_path / 'out'))
    assert message == (
        f'error: {gt}, line 2: expected 8 coordinates and a transcription, '
        'got 8 field(s)')
    assert not (tmp_path / 'out' / 'icdar2015_train.json').exists()


def test_icdar2015_cli_keeps_a_degenerate_polygon_as_do_not_care(tmp_path):
    raw, out = tmp_path / 'raw', tmp_path / 'out'
    make_icdar2015(raw)
    gt = raw / 'ch4_training_localization_transcription_gt' / 'gt_img_1.txt'
    write(gt, ['1,2,21,2,21,12,1,12,"$100,000"', '0,0,5,5,10,10,0,0,flat',
               '30,2,40,2,40,12,30,12,###'], bom=True)
    proc = run_tool('icdar2015.py', str(raw), '--out-dir', str(out))
    assert proc.returncode == 0, proc.stderr
    assert (f'WARNING: {gt}, line 2: degenerate polygon of zero area; '
            'marked do-not-care') in proc.stderr.splitlines()
    assert proc.stdout.splitlines()[0] == (
        'train: 2 images, 4 instances, 2 do-not-care (1 degenerate) -> '
        f'{out}/icdar2015_train.json')
    ann_file = str(out / 'icdar2015_train.json')
    with open(ann_file, encoding='utf-8') as f:
        anns = json.load(f)['annotations']
    assert [(a['text'], a['iscrowd'], a['area']) for a in anns] == [
        ('"$100,000"', 0, 200), ('flat', 1, 0), ('###', 1, 100), ('B1,', 0, 40)
    ]
    assert anns[1]['segmentation'] == [[0, 0, 5, 5, 10, 10, 0, 0]]
    assert anns[1]['bbox'] == [0, 0, 10, 10]

    # mmdet's CocoDataset loads the file and leaves the zero-area instance
    # out; the other do-not-care word is kept with its ignore flag.
    from mmdet.datasets import CocoDataset
    dataset = CocoDataset(
        data_root=str(raw), ann_file=ann_file, data_prefix=dict(img=''),
        metainfo=dict(classes=('text', )), pipeline=[])
    assert [(i['bbox'], i['ignore_flag'])
            for i in dataset.get_data_info(0)['instances']] == [
                ([1, 2, 21, 12], 0), ([30, 2, 40, 12], 1)
            ]
    # The data check before training accepts it; it warns that the
    # zero-area box is not loaded.
    from ms_rcnn.data_checks import DataWarning, check_coco_file
    with pytest.warns(DataWarning, match='1 x zero-area box'):
        problems = check_coco_file(ann_file)
    assert problems['zero-area box'] == [('ch4_training_images/img_1.jpg', 2)]


def test_icdar2015_cli_custom_dirs_and_missing_image(tmp_path):
    raw = tmp_path / 'raw'
    write(raw / 'gts' / 'gt_img_4.txt', ['0,0,8,0,8,4,0,4,x'], bom=True)
    os.makedirs(raw / 'imgs')
    message = exit_message('icdar2015.py', str(raw), '--out-dir',
                           str(tmp_path / 'out'), '--train-img-dir', 'imgs',
                           '--train-gt-dir', 'gts')
    assert message == (f'error: image {raw}/imgs/img_4.jpg not found '
                       '(annotations refer to it)')


def band(x0, y0):
    """28 integers: a 60 x 20 rectangle traced with 14 points."""
    top = [(x0 + 10 * i, y0) for i in range(7)]
    bottom = [(x0 + 60 - 10 * i, y0 + 20) for i in range(7)]
    return ','.join(str(v) for pt in top + bottom for v in pt)


def make_ctw1500(raw):
    write_image(raw / 'train_images' / '0001.jpg', 90, 50)
    write_image(raw / 'test_images' / '1001.jpg', 100, 40)
    os.makedirs(raw / 'ctw1500_train_labels')
    with open(raw / 'ctw1500_train_labels' / '0001.xml', 'w') as f:
        f.write('<Annotations><image file="0001.jpg">'
                f'<box><label>ROAD</label><segs>{band(5, 5)}</segs></box>'
                f'<box><label>###</label><segs>{band(20, 25)}</segs></box>'
                '</image></Annotations>')
    write(raw / 'ctw1500_test_labels' / '0001001.txt',
          [band(1, 1) + ',####Hi, "you"', band(30, 15) + ',#######'])


def test_ctw1500_cli(tmp_path):
    raw, out = tmp_path / 'raw', tmp_path / 'out'
    make_ctw1500(raw)
    proc = run_tool('ctw1500.py', str(raw), '--out-dir', str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f'train: 1 images, 2 instances, 1 do-not-care -> '
        f'{out}/ctw1500_train.json',
        f'test: 1 images, 2 instances, 1 do-not-care -> '
        f'{out}/ctw1500_test.json',
    ]
    with open(out / 'ctw1500_test.json', encoding='utf-8') as f:
        test = json.load(f)
    assert test['images'][0]['file_name'] == 'test_images/1001.jpg'
    assert [(a['text'], a['iscrowd']) for a in test['annotations']] == [
        ('Hi, "you"', 0), ('###', 1)
    ]
    assert test['annotations'][1]['bbox'] == [30, 15, 60, 20]
    assert test['annotations'][1]['area'] == 1200
    assert len(test['annotations'][1]['segmentation'][0]) == 28


def test_ctw1500_cli_reports_the_bad_box(tmp_path):
    raw = tmp_path / 'raw'
    make_ctw1500(raw)
    xml = raw / 'ctw1500_train_labels' / '0001.xml'
    with open(xml, 'w') as f:
        f.write('<Annotations><image><box><segs>1,2,3</segs></box>'
                '</image></Annotations>')
    message = exit_message('ctw1500.py', str(raw), '--out-dir',
                           str(tmp_path / 'out'))
    assert message == (
        f'error: {xml}, box 1: expected 28 coordinates, got 3')


@pytest.mark.parametrize('kind, images', [
    ('icdar2015', ('ch4_training_images/img_2.jpg',
                   'ch4_test_images/img_1.jpg')),
    ('ctw1500', ('train_images/0002.jpg', 'test_images/0003.jpg')),
])
def test_make_text_then_the_converter_the_users_two_commands(
        tmp_path, kind, images):
    raw = str(tmp_path / kind)
    proc = run_tool('make_text.py', kind, '--out-dir', raw, '--num-train',
                    '2', '--num-test', '1', '--img-size', '96')
    assert proc.returncode == 0, proc.stderr
    for name in images:
        assert cv2.imread(osp.join(raw, name)).shape == (96, 96, 3)
    proc = run_tool(f'{kind}.py', raw, '--out-dir', raw)
    assert proc.returncode == 0, proc.stderr
    for split, num in (('train', 2), ('test', 1)):
        with open(osp.join(raw, f'{kind}_{split}.json')) as f:
            coco = json.load(f)
        assert [img['file_name'] for img in coco['images']][-1] == (
            images[0] if split == 'train' else images[1])
        assert len(coco['images']) == num and coco['annotations']


def test_make_text_names_a_missing_font_and_the_option(tmp_path):
    missing = str(tmp_path / 'Missing.ttf')
    message = exit_message('make_text.py', 'icdar2015', '--out-dir',
                           str(tmp_path / 'out'), '--fonts', missing)
    assert message.startswith('error: font file ' + missing)
    assert '--fonts' in message
