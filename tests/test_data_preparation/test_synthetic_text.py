"""The synthetic scene-text generator: raw files the converters read, ink
inside the polygons, do-not-care share, geometry, determinism, fonts."""
import os
import os.path as osp

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from ms_rcnn.data_preparation import (convert_ctw1500, convert_icdar2015,
                                      ensure_text_dataset,
                                      generate_text_dataset)
from ms_rcnn.data_preparation.synthetic_text import (DNC_SHARE, LAYOUTS,
                                                     render_image)
from ms_rcnn.data_preparation.text_render import (ArcWarp, QuadWarp,
                                                  default_fonts, outline,
                                                  warp_alpha)
from ms_rcnn.data_preparation.text_scenes import sample_warp

SIZE = 160
NUM_TRAIN, NUM_TEST = 6, 3


def read_tree(root):
    """{relative path: bytes} of every file under root."""
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, root)] = f.read()
    return files


@pytest.fixture(scope='module')
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthtext')
    counts = {
        kind: generate_text_dataset(
            str(root / kind), kind, seed=0, num_train=NUM_TRAIN,
            num_test=NUM_TEST, img_size=SIZE)
        for kind in LAYOUTS
    }
    return root, counts


def convert(root, kind, split):
    img_dir, ann_dir = LAYOUTS[kind][split]
    if kind == 'icdar2015':
        return convert_icdar2015(str(root / kind), img_dir, ann_dir)
    return convert_ctw1500(str(root / kind), img_dir, ann_dir, split)


@pytest.mark.parametrize('kind', ['icdar2015', 'ctw1500'])
@pytest.mark.parametrize('split', ['train', 'test'])
def test_converters_read_back_every_word(datasets, kind, split):
    root, counts = datasets
    coco = convert(root, kind, split)
    num = NUM_TRAIN if split == 'train' else NUM_TEST
    assert len(coco['images']) == num
    assert all(img['width'] == img['height'] == SIZE
               for img in coco['images'])
    anns = coco['annotations']
    assert len(anns) == counts[kind][split]['words']
    assert sum(a['iscrowd'] for a in anns) == counts[kind][split][
        'do_not_care']
    # Word by word, what the converter parsed is what the generator drew:
    # polygon, transcription (commas and quotes included) and do-not-care.
    expected = []
    for i in range(num):
        _, words = render_image(kind, 0, split, i, SIZE, default_fonts(),
                                DNC_SHARE[kind])
        expected += [(i + 1, w['polygon'].tolist(),
                      '###' if w['ignore'] else w['text'], w['ignore'])
                     for w in words]
    got = [(a['image_id'], a['segmentation'][0], a['text'],
            bool(a['iscrowd'])) for a in anns]
    assert got == expected
    assert {len(p) for _, p, _, _ in got} == {8 if kind == 'icdar2015'
                                              else 28}


def test_icdar_files_have_a_bom_and_crlf_and_ctw_names_follow_the_set(
        datasets):
    root, _ = datasets
    files = read_tree(root)
    gt = files['icdar2015/Challenge4_Test_Task1_GT/gt_img_1.txt']
    assert gt.startswith(b'\xef\xbb\xbf') and gt.endswith(b'\r\n')
    assert gt.count(b'\r\n') == gt.count(b'\n')
    # Test images are numbered after the training ones, their labels with
    # 7 digits, as in CTW1500.
    assert 'ctw1500/test_images/0007.jpg' in files
    assert 'ctw1500/ctw1500_test_labels/0000007.txt' in files
    assert 'ctw1500/ctw1500_train_labels/0006.xml' in files


def ink_inside(word, size):
    """Share of a word's ink inside its polygon as pycocotools (mmdet's
    polygon rasteriser) fills it."""
    poly = [float(v) for v in word['polygon']]
    filled = mask_utils.decode(
        mask_utils.merge(mask_utils.frPyObjects([poly], size, size)))
    ink = word['ink']
    x0, y0 = word['ink_xy']
    inside = filled[y0:y0 + ink.shape[0], x0:x0 + ink.shape[1]]
    return float((ink * inside).sum() / ink.sum())


@pytest.mark.parametrize('kind', ['icdar2015', 'ctw1500'])
def test_at_least_95_percent_of_each_words_ink_is_inside_its_polygon(kind):
    fonts = default_fonts()
    shares, styles = [], set()
    for i in range(12):
        _, words = render_image(kind, 1, 'train', i, 192, fonts, 0.5)
        for w in words:
            assert w['ink'].sum() > 0, 'a word without ink'
            shares.append(ink_inside(w, 192))
            styles.add(w['style'])
    assert min(shares) >= 0.95
    assert styles == {'care', 'tiny', 'blurred', 'faint', 'cut'}


@pytest.mark.parametrize('kind, low, high', [('icdar2015', 0.3, 0.5),
                                             ('ctw1500', 0.03, 0.15)])
def test_do_not_care_share_follows_the_option(kind, low, high):
    fonts = default_fonts()

    def share(dnc_share, num=20):
        flags = [
            w['ignore'] for i in range(num) for w in render_image(
                kind, 2, 'train', i, SIZE, fonts, dnc_share)[1]
        ]
        return np.mean(flags), len(flags)

    # The default: many words in the ICDAR-like set, few lines in the
    # CTW-like one (the first word of an image is always legible).
    assert low <= share(DNC_SHARE[kind])[0] <= high
    assert share(0.0)[0] == 0
    # Every word but each image's first: (words - images) / words.
    value, words = share(1.0)
    assert value == pytest.approx((words - 20) / words)


def top_edge_angles(polygon, points_per_side):
    """Degrees of the first and last segments of the top edge."""
    pts = np.reshape(polygon, (-1, 2))[:points_per_side].astype(float)
    d = np.diff(pts, axis=0)
    return np.degrees(np.arctan2(d[[0, -1], 1], d[[0, -1], 0]))


def test_icdar_words_are_clockwise_quads_from_the_top_left_mostly_level():
    fonts = default_fonts()
    angles = []
    for i in range(30):
        for w in render_image('icdar2015', 3, 'train', i, SIZE, fonts,
                              0.0)[1]:
            x, y = np.reshape(w['polygon'], (4, 2)).astype(float).T
            # Shoelace with y down: positive = clockwise on the screen.
            assert np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y) > 0
            # Top edge left to right, left edge downwards.
            assert x[1] > x[0] and y[3] > y[0]
            angles.append(top_edge_angles(w['polygon'], 2)[0])
    angles = np.abs(angles)
    assert np.mean(angles <= 17) >= 0.6  # +-15 degrees, then perspective
    assert (angles > 20).any() and angles.max() <= 66


def test_ctw_lines_have_14_points_a_third_bent_up_to_120_degrees():
    fonts = default_fonts()
    bends = []
    for i in range(40):
        for w in render_image('ctw1500', 4, 'train', i, SIZE, fonts, 0.0)[1]:
            assert len(w['polygon']) == 28
            assert len(w['text'].split()) >= 2  # lines of several words
            first, last = top_edge_angles(w['polygon'], 7)
            # Total bend: the turn from the first to the last of the six
            # top segments (each a sixth of the arc, so the end tangents
            # turn 5/6 of the bend more).
            bends.append(abs((last - first + 180) % 360 - 180) * 6 / 5)
    bends = np.array(bends)
    assert 0.2 <= np.mean(bends > 20) <= 0.5
    assert bends.max() <= 125


def test_ctw_points_run_along_the_top_from_the_start_then_back_below():
    # Ink dots at the top of a flat 120 x 20 line, at the 7 points' places
    # from its start (left) to its end, then at its bottom from the end
    # back: each dot, warped as the glyphs are (warp_alpha), lands nearest
    # the polygon's point of the same index (points 20 px apart, dots 1.5
    # px inside the box).
    w, h, size = 120, 20, 256
    cols = np.clip(np.round(np.linspace(-.5, w - .5, 7)).astype(int), 1,
                   w - 2)
    dots = [(1, c) for c in cols] + [(h - 2, c) for c in cols[::-1]]
    rng = np.random.default_rng(5)
    checked = bent = 0
    while checked < 30:
        warp, polygon = sample_warp(rng, 'ctw1500', size, (w, h), False)
        points = polygon.reshape(14, 2)
        if points.min() < 2 or points.max() > size - 3:
            continue  # the generator keeps legible lines inside the image
        checked += 1
        bent += warp.k != 0
        for index, (row, col) in enumerate(dots):
            alpha = np.zeros((h, w), np.float32)
            alpha[row - 1:row + 2, col - 1:col + 2] = 1
            ink, (x0, y0) = warp_alpha(alpha, warp, (size, size))
            ys, xs = np.nonzero(ink)
            weights = ink[ys, xs]
            center = np.array([x0 + (xs * weights).sum() / weights.sum(),
                               y0 + (ys * weights).sum() / weights.sum()])
            nearest = np.argmin(np.hypot(*(points - center).T))
            assert nearest == index, (checked, index, nearest)
    assert bent >= 5  # curved lines among them


def test_arc_warp_bends_the_middle_line_on_a_circle():
    # A 100 x 10 flat line bent by 90 degrees: its middle line becomes a
    # quarter circle of length 100, radius 200 / pi, centred 200 / pi
    # above (10, 20) when the line is level there.
    warp = ArcWarp((10, 20), 0.0, np.pi / 2, (100, 10))
    u = np.linspace(-0.5, 99.5, 5)
    x, y = warp.forward(u, np.full_like(u, 4.5))
    r = 200 / np.pi
    np.testing.assert_allclose(np.hypot(x - 10, y - (20 - r)), r)
    # The ends lie 45 degrees either side of the bottom of the circle
    # (y points down), higher than the middle.
    np.testing.assert_allclose(
        np.degrees(np.arctan2(y[[0, -1]] - (20 - r), x[[0, -1]] - 10)),
        [135, 45], atol=1e-9)
    assert (y[[0, -1]] < 20).all()
    back_u, back_v = warp.inverse(x, y)
    np.testing.assert_allclose(back_u, u, atol=1e-9)
    np.testing.assert_allclose(back_v, 4.5, atol=1e-9)
    # No bend: a translation.
    x, y = ArcWarp((50, 60), 0.0, 0.0, (11, 5)).forward(5.0, 2.0)
    assert (x, y) == (50, 60)


def test_quad_warp_puts_the_box_corners_on_the_quad():
    quad = np.array([[3, 4], [40, 8], [38, 20], [2, 15]], float)
    warp = QuadWarp(quad, (30, 10))
    np.testing.assert_allclose(outline(warp, (30, 10), 2), quad, atol=1e-4)


def test_same_seed_same_bytes_other_seed_other_bytes(datasets, tmp_path):
    root, _ = datasets
    again = tmp_path / 'again'
    generate_text_dataset(str(again), 'icdar2015', seed=0,
                          num_train=NUM_TRAIN, num_test=NUM_TEST,
                          img_size=SIZE)
    assert read_tree(again) == read_tree(root / 'icdar2015')
    other = tmp_path / 'other'
    generate_text_dataset(str(other), 'icdar2015', seed=1, num_train=1,
                          num_test=1, img_size=SIZE)
    first, second = read_tree(root / 'icdar2015'), read_tree(other)
    for name in ('ch4_training_images/img_1.jpg',
                 'ch4_training_localization_transcription_gt/gt_img_1.txt'):
        assert first[name] != second[name]


def test_ensure_keeps_a_complete_dataset_and_redoes_another(tmp_path):
    out = str(tmp_path / 'ctw')
    kwargs = dict(seed=0, num_train=2, num_test=1, img_size=128)
    counts = ensure_text_dataset(out, 'ctw1500', **kwargs)
    label = osp.join(out, 'ctw1500_train_labels', '0001.xml')
    os.utime(label, (0, 0))
    assert ensure_text_dataset(out, 'ctw1500', **kwargs) == counts
    assert os.stat(label).st_mtime == 0  # not rewritten
    ensure_text_dataset(out, 'ctw1500', **dict(kwargs, seed=1))
    assert os.stat(label).st_mtime > 0


def test_missing_font_names_the_file_and_the_option(tmp_path):
    missing = str(tmp_path / 'NoSuchFont.ttf')
    with pytest.raises(FileNotFoundError) as exc:
        generate_text_dataset(str(tmp_path / 'out'), 'icdar2015',
                              fonts=[missing])
    assert missing in str(exc.value) and '--fonts' in str(exc.value)
    not_a_font = tmp_path / 'notes.ttf'
    not_a_font.write_text('hello')
    with pytest.raises(ValueError, match='notes.ttf is not a TrueType'):
        generate_text_dataset(str(tmp_path / 'out'), 'icdar2015',
                              fonts=[str(not_a_font)])
    assert not (tmp_path / 'out').exists()


def test_a_second_run_into_a_used_folder_is_refused_or_replaces_it(
        tmp_path):
    out = tmp_path / 'ctw'
    kwargs = dict(seed=0, num_test=1, img_size=128)
    generate_text_dataset(str(out), 'ctw1500', num_train=3, **kwargs)
    first = read_tree(out)
    with pytest.raises(FileExistsError) as exc:
        generate_text_dataset(str(out), 'ctw1500', num_train=1, **kwargs)
    assert str(out / 'train_images') in str(exc.value)
    assert '--overwrite' in str(exc.value)
    assert read_tree(out) == first  # refused before writing anything
    # With overwrite, only the new run's files: one training image, and
    # the test image numbered after it (0002, not 0004 as before).
    generate_text_dataset(str(out), 'ctw1500', num_train=1, overwrite=True,
                          **kwargs)
    assert sorted(p for p in read_tree(out) if p != 'synthetic_text.json') == [
        'ctw1500_test_labels/0000002.txt', 'ctw1500_train_labels/0001.xml',
        'test_images/0002.jpg', 'train_images/0001.jpg']
    coco = convert_ctw1500(str(out), 'train_images', 'ctw1500_train_labels',
                           'train')
    assert [img['file_name'] for img in coco['images']] == [
        'train_images/0001.jpg']


def test_ensure_replaces_its_own_earlier_set_but_not_other_files(tmp_path):
    out = tmp_path / 'icdar'
    kwargs = dict(seed=0, num_test=1, img_size=128)
    ensure_text_dataset(str(out), 'icdar2015', num_train=3, **kwargs)
    # A set written by the generator (its record says so) is replaced:
    # no training image of the first run stays.
    ensure_text_dataset(str(out), 'icdar2015', num_train=1, **kwargs)
    assert sorted(os.listdir(out / 'ch4_training_images')) == ['img_1.jpg']
    # Files the generator did not write are not deleted.
    other = tmp_path / 'other'
    (other / 'ch4_test_images').mkdir(parents=True)
    (other / 'ch4_test_images' / 'img_1.jpg').write_bytes(b'a real image')
    with pytest.raises(FileExistsError, match='ch4_test_images'):
        ensure_text_dataset(str(other), 'icdar2015', num_train=1, **kwargs)
    assert (other / 'ch4_test_images' / 'img_1.jpg').read_bytes() == \
        b'a real image'
