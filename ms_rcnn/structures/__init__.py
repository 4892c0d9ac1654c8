"""Conversions between data structures (masks, polygons) and polygon
geometry."""
from .mask2polygon import mask_to_polygon, masks_to_polygons
from .polygon_ops import intersection_areas, polygon_ious, to_shapely

__all__ = [
    'mask_to_polygon', 'masks_to_polygons', 'intersection_areas',
    'polygon_ious', 'to_shapely'
]
