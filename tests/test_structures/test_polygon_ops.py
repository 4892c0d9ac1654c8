"""Polygon IoU, intersection and repair of invalid polygons."""
import numpy as np
import pytest

from ms_rcnn.structures import intersection_areas, polygon_ious, to_shapely


def square(x0, y0, side=10):
    return [x0, y0, x0 + side, y0, x0 + side, y0 + side, x0, y0 + side]


def test_valid_polygon_is_kept():
    geom, repaired = to_shapely(square(0, 0))
    assert not repaired and geom.area == 100


def test_bow_tie_is_repaired_with_its_true_area():
    # self-intersecting: two triangles of area 25 each (the shoelace formula
    # would give 0)
    geom, repaired = to_shapely([0, 0, 10, 10, 10, 0, 0, 10])
    assert repaired and geom.is_valid
    assert geom.area == pytest.approx(50)


@pytest.mark.parametrize('coords', [[], [1, 2, 3, 4], np.zeros(0)])
def test_fewer_than_three_points_is_empty(coords):
    geom, repaired = to_shapely(coords)
    assert geom.is_empty and not repaired


def test_ious_and_intersections_by_hand():
    gts = [to_shapely(square(0, 0))[0], to_shapely(square(20, 0))[0]]
    preds = [
        to_shapely([0, 0, 10, 0, 10, 6, 0, 6])[0],  # 60 inside gt 0
        to_shapely(square(5, 5))[0],  # 25 of 175 with gt 0
        to_shapely([])[0],  # empty
        to_shapely(square(100, 100))[0],  # far away
    ]
    np.testing.assert_allclose(
        intersection_areas(gts, preds), [[60, 25, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(
        polygon_ious(gts, preds), [[0.6, 25 / 175, 0, 0], [0, 0, 0, 0]])
    assert polygon_ious([], preds).shape == (0, 4)
    assert polygon_ious(gts, []).shape == (2, 0)
