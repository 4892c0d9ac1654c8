"""masks_to_polygons: drawn shapes come back with their corners."""
import cv2
import numpy as np
import pytest
import torch

from ms_rcnn.structures import masks_to_polygons

H, W = 96, 128


def corners(polygon):
    """A flat polygon as a sorted list of (x, y) tuples."""
    return sorted(map(tuple, np.asarray(polygon).reshape(-1, 2).tolist()))


def rectangle_mask(x0, y0, x1, y1):
    mask = np.zeros((H, W), np.uint8)
    cv2.rectangle(mask, (x0, y0), (x1, y1), 1, thickness=-1)
    return mask.astype(bool)


def rotated_mask(center=(64, 48), size=(60, 20), angle=30):
    """A filled rotated rectangle and its integer corners (4, 2)."""
    pts = np.round(cv2.boxPoints((center, size, angle))).astype(np.int32)
    mask = np.zeros((H, W), np.uint8)
    cv2.fillPoly(mask, [pts], 1)
    return mask.astype(bool), pts


def shoelace(polygon):
    xy = np.asarray(polygon, np.float64).reshape(-1, 2)
    x, y = xy[:, 0], xy[:, 1]
    return abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2


@pytest.mark.parametrize('mode', ['contour', 'quad'])
def test_axis_aligned_rectangle_gives_its_corners(mode):
    polys = masks_to_polygons(rectangle_mask(10, 20, 50, 40)[None], mode)
    assert len(polys) == 1
    assert polys[0].dtype == np.float32 and polys[0].shape == (8, )
    # vertices are boundary pixel centres: the drawn corners, exactly
    np.testing.assert_allclose(
        corners(polys[0]), [(10, 20), (10, 40), (50, 20), (50, 40)],
        atol=1e-4)


def test_rotated_rectangle_quad_within_one_pixel():
    mask, pts = rotated_mask()
    (quad, ) = masks_to_polygons(mask[None], mode='quad')
    assert quad.shape == (8, )
    got = quad.reshape(4, 2)
    for corner in pts:
        assert np.min(np.linalg.norm(got - corner, axis=1)) <= 1.0
    # the rectangle encloses the drawn corners (fillPoly includes them), and
    # adds at most a half-pixel strip along the 160 px perimeter
    assert shoelace(pts) <= shoelace(quad) <= shoelace(pts) + 0.5 * 160


def test_rotated_rectangle_contour():
    mask, pts = rotated_mask()
    (contour, ) = masks_to_polygons(mask[None], mode='contour')
    # the traced outline runs through the boundary pixels that fillPoly drew
    # along the edges between the corners, so it encloses the drawn area
    assert shoelace(contour) == pytest.approx(shoelace(pts), rel=0.01)
    # simplified, it is the 4 drawn corners to within a pixel
    (simple, ) = masks_to_polygons(mask[None], epsilon=1.5)
    assert simple.shape == (8, )
    for corner in simple.reshape(4, 2):
        assert np.min(np.linalg.norm(pts - corner, axis=1)) <= 1.0


def test_empty_and_tiny_masks_give_empty_arrays_in_place():
    masks = np.zeros((4, H, W), bool)
    masks[0] = rectangle_mask(0, 0, 9, 9)
    masks[2, 5, 5] = True  # one pixel: zero area
    masks[3] = rectangle_mask(30, 30, 32, 32)  # 3x3 pixels: contour area 4
    polys = masks_to_polygons(masks, min_area=5)
    assert [p.shape for p in polys] == [(8, ), (0, ), (0, ), (0, )]
    assert all(p.dtype == np.float32 for p in polys)
    (kept, ) = masks_to_polygons(masks[3:], min_area=4)
    assert shoelace(kept) == 4


def test_largest_component_wins():
    mask = rectangle_mask(5, 5, 10, 10) | rectangle_mask(40, 30, 80, 60)
    (poly, ) = masks_to_polygons(mask[None])
    assert corners(poly) == [(40, 30), (40, 60), (80, 30), (80, 60)]


def test_tensor_input_matches_numpy():
    mask, _ = rotated_mask(angle=-20)
    masks = np.stack([mask, rectangle_mask(1, 2, 30, 40)])
    from_numpy = masks_to_polygons(masks)
    from_tensor = masks_to_polygons(torch.from_numpy(masks))
    assert len(from_tensor) == 2
    for a, b in zip(from_numpy, from_tensor):
        np.testing.assert_array_equal(a, b)
    assert masks_to_polygons(torch.zeros((0, H, W), dtype=torch.bool)) == []


def test_bad_arguments():
    with pytest.raises(ValueError, match='mode'):
        masks_to_polygons(np.zeros((1, 4, 4), bool), mode='hull')
    with pytest.raises(ValueError, match=r'\(N, H, W\)'):
        masks_to_polygons(np.zeros((4, 4), bool))
