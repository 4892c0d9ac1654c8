"""Binary instance masks to polygons, for text detection output.

Coordinates follow OpenCV's: a polygon vertex ``(x, y)`` is the centre of
boundary pixel ``mask[y, x]``. A rectangle drawn with ``cv2.rectangle`` or
``cv2.fillPoly`` from integer corners therefore comes back with exactly those
corners, and a polygon is at most half a pixel inside the pixel edges of its
mask.
"""
from typing import TYPE_CHECKING, List, Union

import cv2
import numpy as np

if TYPE_CHECKING:  # only for the annotation: no torch import at run time
    import torch

MODES = ('contour', 'quad')


def _largest_contour(mask: np.ndarray) -> np.ndarray:
    """Largest external contour (K, 2) int32 of a (H, W) uint8 mask, or an
    empty (0, 2) array when the mask has no pixel."""
    # Contour tracing costs time proportional to the image: trace only the
    # bounding box of the mask's pixels (detections are small in big images).
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0 or h == 0:
        return np.zeros((0, 2), np.int32)
    contours, _ = cv2.findContours(
        np.ascontiguousarray(mask[y:y + h, x:x + w]), cv2.RETR_EXTERNAL,
        cv2.CHAIN_APPROX_SIMPLE, offset=(x, y))
    # Ties in area (e.g. several single-pixel blobs) go to the longest one.
    best = max(contours, key=lambda c: (cv2.contourArea(c), len(c)))
    return best.reshape(-1, 2)


def _mask_to_polygon(mask: np.ndarray, mode: str, min_area: float,
                     epsilon: float) -> np.ndarray:
    """One (H, W) mask to a flat float32 polygon ``[x1, y1, x2, y2, ...]``.

    See :func:`masks_to_polygons` for the arguments.
    """
    contour = _largest_contour(mask.astype(np.uint8, copy=False))
    if len(contour) < 3 or cv2.contourArea(contour) < max(min_area, 1e-6):
        # No pixel, a line or a dot (zero area), or too small to be text.
        return np.zeros(0, np.float32)
    if mode == 'quad':
        # Smallest rotated rectangle around the region: 4 corners.
        points = cv2.boxPoints(cv2.minAreaRect(contour))
    elif epsilon > 0:
        points = cv2.approxPolyDP(contour, epsilon, closed=True).reshape(-1, 2)
        if len(points) < 3:  # over-simplified: keep the traced contour
            points = contour
    else:
        points = contour
    return np.asarray(points, np.float32).reshape(-1)


def masks_to_polygons(masks: Union[np.ndarray, 'torch.Tensor'],
                      mode: str = 'contour',
                      min_area: float = 1.0,
                      epsilon: float = 0.0) -> List[np.ndarray]:
    """Turn N binary masks into N polygons.

    Each polygon is the largest external contour of its mask
    (``cv2.findContours``; other blobs and holes are dropped), optionally
    simplified with ``cv2.approxPolyDP``, or in ``'quad'`` mode the 4 corners
    of the contour's minimum-area rotated rectangle (``cv2.minAreaRect``),
    the quadrilateral shape of ICDAR2015 ground truth.

    Args:
        masks (Tensor | np.ndarray): (N, H, W) bool or 0/1 masks, e.g.
            ``pred_instances.masks`` at the original image size. A tensor is
            moved to the host once for the whole batch.
        mode (str): ``'contour'`` (any number of vertices, for curved text
            such as CTW1500) or ``'quad'`` (4 vertices). Defaults to
            ``'contour'``.
        min_area (float): polygons whose contour encloses less area (pixels
            squared, measured on the contour, i.e. between pixel centres)
            come back empty. Zero-area contours (lines, single pixels) always
            come back empty. Defaults to 1.0.
        epsilon (float): ``'contour'`` mode only: maximum distance in pixels
            between the contour and its simplified polygon; 0 keeps the
            contour as traced (``CHAIN_APPROX_SIMPLE`` already drops the
            points in the middle of straight runs). Defaults to 0.

    Returns:
        list[np.ndarray]: N float32 arrays of shape (2K,) holding
        ``x1, y1, ..., xK, yK`` with K >= 3 in image pixels. An empty mask,
        or one whose largest contour is below ``min_area``, gives an empty
        array of shape (0,) at its position, so the list stays aligned with
        the masks.
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    if hasattr(masks, 'detach'):  # a torch tensor, possibly on GPU
        masks = masks.detach().cpu().numpy()
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f'masks must be (N, H, W), got shape {masks.shape}')
    # contour tracing is inherently per mask; everything else is batched.
    masks = masks.astype(np.uint8, copy=False)
    return [_mask_to_polygon(m, mode, min_area, epsilon) for m in masks]
