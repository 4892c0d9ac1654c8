"""Mask-IoU targets: hand-computed values and parity with mmdet's crops."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from mmdet.structures.mask import BitmapMasks, PolygonMasks

from ms_rcnn.models.task_modules import (area_ratios, bitmap_area_ratios,
                                         mask_iou_targets, polygon_area_ratios)

BENCHMARK = (Path(__file__).parents[3] / 'tools' / 'analysis_tools' /
             'benchmark_heads.py')
spec = importlib.util.spec_from_file_location('benchmark_heads', BENCHMARK)
benchmark_heads = importlib.util.module_from_spec(spec)
spec.loader.exec_module(benchmark_heads)

# A 4x6 rectangle (rows 2..5, columns 2..7) in a 10x10 image: 24 pixels.
RECT_POLY = [np.array([2., 2., 8., 2., 8., 6., 2., 6.])]


def rect_bitmap():
    mask = np.zeros((1, 10, 10), dtype=np.uint8)
    mask[0, 2:6, 2:8] = 1
    return BitmapMasks(mask, 10, 10)


BOXES = torch.tensor([
    [2., 2., 8., 6.],  # the whole instance
    [2., 2., 5., 6.],  # its left half
    [2.9, 2.2, 5.7, 6.9],  # truncated to the left half, as mmdet does
    [-5., -5., 3., 3.],  # clipped to the image: one pixel of the instance
    [0., 0., 10., 10.],  # the whole image
])


def test_bitmap_ratios_by_hand():
    ratios = area_ratios(BOXES, torch.zeros(5, dtype=torch.long),
                         rect_bitmap())
    expected = torch.tensor([1., .5, .5, 1 / 24, 1.])
    torch.testing.assert_close(ratios, expected, rtol=0, atol=1e-6)


def test_bitmap_ratios_count_any_non_zero_pixel():
    # Masks read from PNG files hold 0/255: 255 is one pixel, not 255.
    masks = rect_bitmap()
    masks = BitmapMasks(masks.masks * 255, 10, 10)
    ratios = area_ratios(BOXES, torch.zeros(5, dtype=torch.long), masks)
    expected = torch.tensor([1., .5, .5, 1 / 24, 1.])
    torch.testing.assert_close(ratios, expected, rtol=0, atol=1e-6)
    # A box over the left half of a 100x200 instance in a wide image.
    wide = np.zeros((1, 300, 1000), dtype=np.uint8)
    wide[0, 50:150, 100:300] = 255
    half = area_ratios(
        torch.tensor([[100., 50., 200., 150.]]),
        torch.zeros(1, dtype=torch.long), BitmapMasks(wide, 300, 1000))
    torch.testing.assert_close(half, torch.tensor([.5]), rtol=0, atol=1e-6)


def test_bitmap_ratios_of_tensor_masks_by_hand():
    # (G, H, W) tensors are read one instance at a time, like arrays.
    masks = torch.from_numpy(rect_bitmap().masks).bool()
    ratios = area_ratios(BOXES, torch.zeros(5, dtype=torch.long), masks)
    expected = torch.tensor([1., .5, .5, 1 / 24, 1.])
    torch.testing.assert_close(ratios, expected, rtol=0, atol=1e-6)


def test_bitmap_ratios_extra_memory_stays_under_one_mask():
    # One instance of almost the whole image among 49 small ones, three
    # boxes on each. Anything sized by the instances (a window per instance
    # as large as the largest one's boxes, or a copy of each mask) would
    # exceed one mask's bytes many times over; a few arrays of N values do
    # not.
    height, width = 400, 600
    masks = np.zeros((50, height, width), dtype=np.uint8)
    masks[0, 10:390, 10:590] = 1
    rng = np.random.RandomState(0)
    corners = rng.randint(0, [height - 30, width - 30], (49, 2))
    boxes = [[10, 10, 590, 390]]
    for mask, (y, x) in zip(masks[1:], corners):
        mask[y:y + 20, x:x + 30] = 1
        boxes.append([x, y, x + 30, y + 20])
    inds = torch.arange(50).repeat_interleave(3)
    boxes = torch.tensor(boxes, dtype=torch.float32)[inds]
    boxes += torch.from_numpy(rng.uniform(-8, 8, boxes.shape)).float()
    bitmaps = BitmapMasks(masks, height, width)
    ratios = []
    peak = benchmark_heads.peak_host_bytes(
        lambda: ratios.append(area_ratios(boxes, inds, bitmaps)))
    assert peak < height * width
    torch.testing.assert_close(
        ratios[0], _mmdet_crop_ratios(boxes, inds, bitmaps), rtol=0,
        atol=1e-6)


def test_polygon_ratios_by_hand():
    masks = PolygonMasks([RECT_POLY], 10, 10)
    ratios = area_ratios(BOXES, torch.zeros(5, dtype=torch.long), masks)
    expected = torch.tensor([1., .5, .5, 1 / 24, 1.])
    torch.testing.assert_close(ratios, expected, rtol=0, atol=1e-6)


def test_polygon_triangle_by_hand():
    # Triangle x + y <= 8 (area 32): the box [0,4]^2 holds 16 of it, the box
    # [4,8]x[0,4] the triangle of legs 4 (area 8).
    tri = [np.array([0., 0., 8., 0., 0., 8.])]
    masks = PolygonMasks([tri, RECT_POLY], 20, 20)
    boxes = torch.tensor([[0., 0., 4., 4.], [4., 0., 8., 4.],
                          [2., 2., 5., 6.]])
    ratios = polygon_area_ratios(boxes, torch.tensor([0, 0, 1]), masks)
    torch.testing.assert_close(
        ratios, torch.tensor([.5, .25, .5]), rtol=0, atol=1e-6)


def test_polygon_with_a_hole_by_hand():
    # One ring around the square [0,10]^2 and back around the hole [3,7]^2
    # (a keyhole, as contour tracers write holes): area 100 - 16 = 84. The
    # hole stays outside in any box: the whole image holds 84, the left half
    # 50 - 8 = 42.
    keyhole = [np.array([0., 0, 10, 0, 10, 10, 0, 10, 0, 5, 3, 5, 3, 7, 7, 7,
                         7, 3, 3, 3, 3, 5, 0, 5])]
    masks = PolygonMasks([keyhole], 10, 10)
    boxes = torch.tensor([[0., 0., 10., 10.], [0., 0., 5., 10.]])
    ratios = polygon_area_ratios(boxes, torch.zeros(2, dtype=torch.long),
                                 masks)
    torch.testing.assert_close(
        ratios, torch.tensor([1., .5]), rtol=0, atol=1e-6)


def test_zero_area_and_out_of_image_instances():
    # An instance with no pixels (e.g. moved out of the image by an
    # augmentation) gets ratio 0, not NaN.
    empty = BitmapMasks(np.zeros((1, 10, 10), dtype=np.uint8), 10, 10)
    ratios = area_ratios(BOXES[:2], torch.zeros(2, dtype=torch.long), empty)
    assert ratios.tolist() == [0., 0.]
    outside = PolygonMasks([[np.array([20., 20., 30., 20., 30., 30.])]], 10,
                           10)
    ratios = area_ratios(BOXES[:2], torch.zeros(2, dtype=torch.long), outside)
    assert ratios.tolist() == [0., 0.]
    degenerate = PolygonMasks([[np.array([1., 1., 5., 5., 9., 9.])]], 10, 10)
    ratios = area_ratios(BOXES[:2], torch.zeros(2, dtype=torch.long),
                         degenerate)
    assert ratios.tolist() == [0., 0.]


def test_no_positives():
    ratios = bitmap_area_ratios(
        torch.zeros(0, 4), torch.zeros(0, dtype=torch.long),
        torch.zeros(2, 10, 10, dtype=torch.uint8))
    assert ratios.shape == (0, )
    assert mask_iou_targets(
        torch.zeros(0, 28, 28), torch.zeros(0, 28, 28), ratios).shape == (0, )


def _mmdet_crop_ratios(boxes, inds, masks):
    """Ratios the way mmdet computes them: one crop per RoI on the host."""
    full = masks.areas
    out = []
    for box, ind in zip(boxes.numpy().astype(np.int32), inds.tolist()):
        out.append(masks[ind].crop(box).areas[0] / (full[ind] + 1e-7))
    return torch.tensor(out, dtype=torch.float32)


def _random_case(seed, num_gts=5, num_rois=40, size=(60, 80)):
    rng = np.random.RandomState(seed)
    height, width = size
    polys = []
    for _ in range(num_gts):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        # A star-shaped (hence simple) polygon of random radii.
        angles = np.sort(rng.uniform(0, 2 * np.pi, rng.randint(3, 12)))
        radii = rng.uniform(3, 25, len(angles))
        pts = np.stack([cx + radii * np.cos(angles),
                        cy + radii * np.sin(angles)], 1)
        polys.append([pts.reshape(-1)])
    # Top-left corners inside the image: mmdet's bitmap crop of a box that
    # starts below or right of the image raises (see the test below).
    boxes = np.zeros((num_rois, 4), dtype=np.float32)
    boxes[:, 0] = rng.uniform(-10, width - 1, num_rois)
    boxes[:, 1] = rng.uniform(-10, height - 1, num_rois)
    boxes[:, 2:] = boxes[:, :2] + rng.uniform(0, 40, (num_rois, 2))
    inds = torch.from_numpy(rng.randint(0, num_gts, num_rois))
    return PolygonMasks(polys, height, width), torch.from_numpy(boxes), inds


@pytest.mark.parametrize('seed,size', [(0, (60, 80)), (1, (60, 83)),
                                       (2, (37, 64)), (3, (20, 2100))])
def test_parity_with_mmdet_crops(seed, size):
    # Image sizes of even and odd widths, one much wider than tall.
    polygons, boxes, inds = _random_case(seed, size=size)
    torch.testing.assert_close(
        area_ratios(boxes, inds, polygons),
        _mmdet_crop_ratios(boxes, inds, polygons),
        rtol=1e-5,
        atol=1e-5)
    bitmaps = polygons.to_bitmap()
    torch.testing.assert_close(
        area_ratios(boxes, inds, bitmaps),
        _mmdet_crop_ratios(boxes, inds, bitmaps),
        rtol=1e-6,
        atol=1e-6)


@pytest.mark.parametrize('kind', ['bitmap', 'polygon'])
def test_any_box_with_any_instance_matches_mmdet_crops(kind):
    # Not only positives: every box paired with every instance, most of
    # them far from it (ratio 0), some covering it partly or whole.
    polygons, boxes, _ = _random_case(4, num_gts=6, num_rois=15)
    masks = polygons if kind == 'polygon' else polygons.to_bitmap()
    boxes = boxes.repeat_interleave(len(masks), 0)
    inds = torch.arange(len(masks)).repeat(15)
    expected = _mmdet_crop_ratios(boxes, inds, masks)
    assert (expected == 0).any() and (expected > 0).any()
    torch.testing.assert_close(
        area_ratios(boxes, inds, masks), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    'masks', [rect_bitmap(), PolygonMasks([RECT_POLY], 10, 10)])
def test_bad_instance_indices_are_named(masks):
    # -1 would silently pick the last instance.
    for bad in (-1, 1):
        with pytest.raises(IndexError, match='gt_inds must index the 1 mask'):
            area_ratios(BOXES[:1], torch.tensor([bad]), masks)
    with pytest.raises(ValueError, match=r'gt_inds \(N, \), got \(5, 4\)'):
        area_ratios(BOXES, torch.zeros(4, dtype=torch.long), masks)


def test_box_outside_the_image():
    # mmdet's per-RoI crop of a box below the image has no area at all and
    # raises IndexError; the batched version gives ratio 0.
    masks = rect_bitmap()
    box = torch.tensor([[2., 12., 8., 15.]])
    with pytest.raises(IndexError):
        _mmdet_crop_ratios(box, torch.zeros(1, dtype=torch.long), masks)
    assert area_ratios(box, torch.zeros(1, dtype=torch.long),
                       masks).tolist() == [0.]


def test_targets_by_hand():
    target = torch.zeros(3, 28, 28)
    target[:, :10, :10] = 1  # 100 pixels of the instance inside each RoI
    logits = torch.full((3, 28, 28), -10.)
    logits[0, :10, :10] = 10.  # perfect
    logits[1, :10, :20] = 10.  # 200 pixels, 100 of them right
    logits[2, :10, :10] = 10.  # perfect inside, but the RoI holds half
    ratios = torch.tensor([1., 1., .5])
    iou = mask_iou_targets(logits, target, ratios)
    # 100 / 100; 100 / (200 + 100 - 100); 100 / (100 + 200 - 100)
    torch.testing.assert_close(iou, torch.tensor([1., .5, .5]))


def test_threshold_on_probabilities_not_logits():
    target = torch.zeros(1, 28, 28)
    target[:, :10, :10] = 1
    # Logit 0.3 is probability 0.574: foreground at threshold 0.5. mmdet
    # compares the logit itself with 0.5 and drops these pixels.
    logits = torch.full((1, 28, 28), -10.)
    logits[0, :10, :10] = 0.3
    ratio = torch.ones(1)
    assert mask_iou_targets(logits, target, ratio).item() == 1.0
    assert mask_iou_targets(
        logits, target, ratio, thr_on_logits=True).item() == 0.0
