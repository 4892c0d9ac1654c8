"""Polygon geometry on flat ``[x1, y1, x2, y2, ...]`` coordinates (shapely).
"""
from typing import Sequence, Tuple

import numpy as np
from shapely.geometry import Polygon
from shapely.ops import unary_union
from shapely.validation import make_valid


def to_shapely(coords) -> Tuple[object, bool]:
    """A flat ``[x1, y1, x2, y2, ...]`` polygon as a valid shapely geometry.

    Returns:
        tuple: ``(geometry, repaired)``. Fewer than 3 points give an empty
        polygon. An invalid (e.g. self-intersecting) polygon is made valid
        with ``make_valid``, keeping only its areal parts, and ``repaired``
        is True.
    """
    points = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    if len(points) < 3:
        return Polygon(), False
    poly = Polygon(points)
    if poly.is_valid:
        return poly, False
    fixed = make_valid(poly)
    # make_valid can return lines or points beside the polygons (a bow tie's
    # crossing); they have no area and would only trouble intersections.
    parts = getattr(fixed, 'geoms', [fixed])
    return unary_union([p for p in parts if p.area > 0]), True


def intersection_areas(polys_a: Sequence, polys_b: Sequence) -> np.ndarray:
    """Pairwise intersection areas (A, B) of two lists of geometries."""
    inter = np.zeros((len(polys_a), len(polys_b)))
    if not len(polys_a) or not len(polys_b):
        return inter
    # Only pairs whose bounding boxes overlap can intersect: most pairs in an
    # image do not, and the box test is cheap next to a polygon clip.
    bounds_a = np.array([p.bounds if not p.is_empty else [np.nan] * 4
                         for p in polys_a]).reshape(-1, 4)
    bounds_b = np.array([p.bounds if not p.is_empty else [np.nan] * 4
                         for p in polys_b]).reshape(-1, 4)
    overlap = ((bounds_a[:, None, 0] <= bounds_b[None, :, 2])
               & (bounds_b[None, :, 0] <= bounds_a[:, None, 2])
               & (bounds_a[:, None, 1] <= bounds_b[None, :, 3])
               & (bounds_b[None, :, 1] <= bounds_a[:, None, 3]))
    for i, j in zip(*np.nonzero(overlap)):
        inter[i, j] = polys_a[i].intersection(polys_b[j]).area
    return inter


def polygon_ious(polys_a: Sequence, polys_b: Sequence) -> np.ndarray:
    """Pairwise IoU (A, B) of two lists of geometries (0 for empty ones)."""
    inter = intersection_areas(polys_a, polys_b)
    area_a = np.array([p.area for p in polys_a]).reshape(-1, 1)
    area_b = np.array([p.area for p in polys_b]).reshape(1, -1)
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
