"""Conversions between data structures (masks, polygons) and polygon
geometry."""
from .mask2polygon import masks_to_polygons
from .polygon_ops import intersection_areas, polygon_ious, to_shapely

__all__ = [
    'masks_to_polygons', 'intersection_areas', 'polygon_ious', 'to_shapely'
]
