"""The synthetic shapes dataset: determinism, COCO validity, visible masks."""
import contextlib
import io
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from ms_rcnn.data_preparation import shapes
from ms_rcnn.data_preparation.shapes import (CLASSES, MIN_VISIBLE_AREA,
                                             ensure_shapes_dataset,
                                             generate_shapes_dataset,
                                             layout_instances)

NUM_TRAIN, NUM_VAL = 24, 6


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
def dataset(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('shapes'))
    return generate_shapes_dataset(
        root, seed=0, num_train=NUM_TRAIN, num_val=NUM_VAL)


def load_coco(path):
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(path)


def test_same_seed_same_bytes_other_seed_other_bytes(dataset, tmp_path):
    again = generate_shapes_dataset(
        str(tmp_path / 'again'), seed=0, num_train=NUM_TRAIN, num_val=NUM_VAL)
    first, second = read_tree(dataset['data_root']), read_tree(
        again['data_root'])
    assert len(first) == NUM_TRAIN + NUM_VAL + 2
    assert first == second
    other = read_tree(
        generate_shapes_dataset(
            str(tmp_path / 'other'), seed=1, num_train=2,
            num_val=1)['data_root'])
    for name in ('images/train_000000.png', 'images/val_000000.png',
                 'annotations/train.json'):
        assert other[name] != first[name]


def test_images_and_annotations_are_valid_coco(dataset):
    for split, num in (('train', NUM_TRAIN), ('val', NUM_VAL)):
        coco = load_coco(dataset[f'{split}_ann'])
        assert len(coco.imgs) == num
        assert [c['id']
                for c in coco.loadCats(coco.getCatIds())] == [1, 2, 3]
        for img_id, img in coco.imgs.items():
            pixels = cv2.imread(osp.join(dataset['img_dir'], img['file_name']))
            assert pixels.shape == (128, 128, 3)
            anns = coco.imgToAnns[img_id]
            assert 1 <= len(anns) <= 4
            for ann in anns:
                assert ann['iscrowd'] == 0 and ann['area'] >= MIN_VISIBLE_AREA
                assert all(
                    len(p) >= 6 and len(p) % 2 == 0
                    for p in ann['segmentation'])
                x, y, w, h = ann['bbox']
                assert 0 <= x and 0 <= y and x + w <= 128 and y + h <= 128
    # Every class shows up in the 24 training images.
    train = load_coco(dataset['train_ann'])
    assert {a['category_id'] for a in train.anns.values()} == {1, 2, 3}


def test_polygons_match_the_visible_pixels(dataset):
    """Re-render each image's instance-id map (same per-image seed) and
    compare it with the annotations: the rasterised polygons, areas and
    boxes match the visible pixels exactly."""
    coco = load_coco(dataset['train_ann'])
    occluded = 0
    for index in range(NUM_TRAIN):
        rng = np.random.default_rng([0, 0, index])
        id_map, labels, _ = layout_instances(rng, 128)
        anns = coco.imgToAnns[index + 1]
        assert [a['category_id'] - 1 for a in anns] == labels
        for k, ann in enumerate(anns):
            visible = id_map == k + 1
            assert ann['area'] == visible.sum()
            ys, xs = np.nonzero(visible)
            assert ann['bbox'] == [
                xs.min(), ys.min(),
                np.ptp(xs) + 1,
                np.ptp(ys) + 1
            ]
            np.testing.assert_array_equal(coco.annToMask(ann), visible)
            # Touching a later-drawn instance: (almost surely) occluded.
            grown = cv2.dilate(visible.astype(np.uint8), np.ones((3, 3)))
            occluded += bool((id_map[grown > 0] > k + 1).any())
    assert occluded > 0


def test_masks_vary_by_occlusion_and_thin_parts():
    """What makes mask quality vary stays in the data: over 200 layouts,
    many instances are partly hidden by later ones, and many have parts
    thinner than 9 pixels (a 9x9 opening removes most of their pixels)."""
    visible_share, thin = [], []
    for index in range(200):
        id_map, labels, full_areas = layout_instances(
            np.random.default_rng(index), 128)
        for k, full in enumerate(full_areas):
            visible = (id_map == k + 1).astype(np.uint8)
            visible_share.append(visible.sum() / full)
            opened = cv2.morphologyEx(visible, cv2.MORPH_OPEN,
                                      np.ones((9, 9), np.uint8))
            thin.append(opened.sum() < 0.5 * visible.sum())
    visible_share, thin = np.array(visible_share), np.array(thin)
    assert (visible_share <= 1).all()
    occluded = (visible_share < 0.95).mean()
    assert 0.15 < occluded < 0.6, occluded
    assert (visible_share < 0.6).mean() > 0.02
    assert 0.15 < thin.mean() < 0.6, thin.mean()


def test_layout_drops_tiny_and_keeps_ids_dense():
    for index in range(30):
        id_map, labels, _ = layout_instances(np.random.default_rng(index), 64)
        assert 1 <= len(labels) <= 4
        assert set(np.unique(id_map)) - {0} == set(range(1, len(labels) + 1))
        areas = np.bincount(id_map.ravel())[1:]
        assert (areas >= MIN_VISIBLE_AREA).all()


def test_ensure_builds_only_when_missing(tmp_path, monkeypatch):
    root = str(tmp_path / 'data')
    paths = ensure_shapes_dataset(root, seed=3, num_train=2, num_val=1)
    assert osp.isfile(paths['train_ann']) and osp.isfile(paths['val_ann'])
    assert sorted(os.listdir(paths['img_dir'])) == [
        'train_000000.png', 'train_000001.png', 'val_000000.png'
    ]

    made = []
    real_make_split = shapes.make_split

    def counting_make_split(out_dir, split, params):
        made.append(split)
        return real_make_split(out_dir, split, params)

    monkeypatch.setattr(shapes, 'make_split', counting_make_split)
    assert ensure_shapes_dataset(root, seed=3, num_train=2, num_val=1) == paths
    assert made == []
    # Another seed, another size or a missing image: built again.
    ensure_shapes_dataset(root, seed=4, num_train=2, num_val=1)
    ensure_shapes_dataset(root, seed=3, num_train=3, num_val=1)
    os.remove(osp.join(paths['img_dir'], 'val_000000.png'))
    ensure_shapes_dataset(root, seed=3, num_train=3, num_val=1)
    assert made == ['train', 'val'] * 3
    assert osp.isfile(osp.join(paths['img_dir'], 'val_000000.png'))


def test_classes():
    assert CLASSES == ('ellipse', 'triangle', 'cross')


def test_shape_colours_are_never_closer_to_the_background_than_asked():
    rng = np.random.default_rng(0)
    backgrounds = np.concatenate(
        [rng.uniform(40, 215, size=(200, 3)), [[40, 40, 40], [215, 215, 40]]])
    for background in backgrounds:
        for low, high in ((30, 60), (60, 300)):
            color = shapes._shape_color(rng, background, low, high)
            assert ((0 <= color) & (color <= 255)).all()
            assert np.linalg.norm(color - background) >= low
