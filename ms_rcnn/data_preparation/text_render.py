"""Words drawn with a TrueType font, then warped into an image.

A word is rendered flat with Pillow into an alpha image (h, w) whose box is
its ink's extent plus a margin. A warp maps that flat image into the scene:
a homography (rotated, mildly perspective quadrilaterals, the words of
ICDAR 2015) or a bend along a circular arc (the curved lines of CTW1500).
The same warp moves the glyphs (:func:`warp_alpha`) and the flat box's
outline (:func:`outline`), so that the polygon follows the ink.

Coordinates are OpenCV's: pixel ``(i, j)`` of an image has its centre at
``x = j, y = i``; the flat box spans ``-0.5 .. w - 0.5`` in ``u`` (along
the text) and ``-0.5 .. h - 0.5`` in ``v`` (down across it).
"""
import functools
import os
from typing import List, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

# DejaVu faces that matplotlib installs with itself (fonts/ttf/).
DEFAULT_FONT_FILES = ('DejaVuSans.ttf', 'DejaVuSans-Bold.ttf',
                      'DejaVuSerif.ttf', 'DejaVuSansMono-Bold.ttf')


def default_fonts() -> List[str]:
    """Paths of :data:`DEFAULT_FONT_FILES` in matplotlib's font folder."""
    import matplotlib  # only its data folder: no pyplot, no backend
    font_dir = os.path.join(matplotlib.get_data_path(), 'fonts', 'ttf')
    return [os.path.join(font_dir, name) for name in DEFAULT_FONT_FILES]


def check_fonts(paths: Sequence[str]) -> List[str]:
    """The font paths, each checked to be a readable TrueType file.

    Raises:
        FileNotFoundError | ValueError: naming the file and the option
            that points to other fonts.
    """
    if not paths:
        raise ValueError('no font file given: --fonts (fonts= in Python) '
                         'needs at least one TrueType file')
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f'font file {path} not found: point --fonts (fonts= in '
                'Python) at TrueType files that exist')
        try:
            _font(path, 12)
        except OSError as e:
            raise ValueError(
                f'font file {path} is not a TrueType font ({e}): point '
                '--fonts (fonts= in Python) at other files') from None
    return list(paths)


@functools.lru_cache(maxsize=512)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def render_flat(text: str, font_path: str, size: int,
                margin: float) -> np.ndarray:
    """Alpha (h, w) float32 in [0, 1] of ``text`` drawn at ``size`` px.

    The image is the ink's bounding box grown by ``margin`` (a fraction of
    the ink's height, at least one pixel) on every side: the polygon of a
    word hugs its glyphs as the real annotations do, and no ink touches it.
    """
    font = _font(font_path, size)
    left, top, right, bottom = font.getbbox(text)
    pad = size  # room for glyphs that overhang their advance
    canvas = Image.new('L', (right - left + 2 * pad, bottom - top + 2 * pad))
    ImageDraw.Draw(canvas).text((pad - left, pad - top),
                                text,
                                font=font,
                                fill=255)
    alpha = np.asarray(canvas, np.float32) / 255
    ys, xs = np.nonzero(alpha > 0)
    m = max(1, round(margin * (ys.max() - ys.min() + 1)))
    alpha = np.pad(alpha, m)
    return alpha[ys.min():ys.max() + 2 * m + 1, xs.min():xs.max() + 2 * m + 1]


class QuadWarp:
    """The homography that takes the flat box (w, h) onto ``quad``.

    Args:
        quad (np.ndarray): (4, 2) image points of the box's top-left,
            top-right, bottom-right and bottom-left corners.
        size (tuple[int, int]): (w, h) of the flat image.
    """

    def __init__(self, quad: np.ndarray, size: Tuple[int, int]) -> None:
        w, h = size
        corners = np.array([[-.5, -.5], [w - .5, -.5], [w - .5, h - .5],
                            [-.5, h - .5]], np.float32)
        self.matrix = cv2.getPerspectiveTransform(corners,
                                                  np.float32(quad))
        self.inverse_matrix = cv2.getPerspectiveTransform(
            np.float32(quad), corners)

    @staticmethod
    def _apply(matrix, x, y):
        p = matrix @ np.stack([x, y, np.ones_like(x)]).reshape(3, -1)
        return (p[0] / p[2]).reshape(np.shape(x)), (p[1] / p[2]).reshape(
            np.shape(x))

    def forward(self, u, v):
        return self._apply(self.matrix, np.asarray(u, float),
                           np.asarray(v, float))

    def inverse(self, x, y):
        return self._apply(self.inverse_matrix, np.asarray(x, float),
                           np.asarray(y, float))


class ArcWarp:
    """The flat text bent along a circular arc, scaled, rotated and moved.

    The middle line of the flat image (``v = (h - 1) / 2``) becomes an arc
    of length ``scale * w`` and total bend ``bend`` radians through
    ``center``, tangent to direction ``angle`` (radians) there; ``v`` runs
    along the normals. ``bend > 0`` curves the ends upwards (towards the
    text's top), ``bend < 0`` downwards, ``bend = 0`` is a straight
    rotated line. ``abs(bend)`` must stay below ``2 * w / h`` (the arc's
    radius above half the text's height).
    """

    def __init__(self, center: Sequence[float], angle: float, bend: float,
                 size: Tuple[int, int], scale: float = 1.0) -> None:
        w, h = size
        self.mid = ((w - 1) / 2, (h - 1) / 2)
        self.scale = scale
        self.center = np.asarray(center, float)
        self.e1 = np.array([np.cos(angle), np.sin(angle)])  # along the text
        self.e2 = np.array([-self.e1[1], self.e1[0]])  # down across it
        # Signed curvature: bend over the arc's length.
        self.k = bend / (scale * w)

    def forward(self, u, v):
        t = (np.asarray(u, float) - self.mid[0]) * self.scale
        d = (np.asarray(v, float) - self.mid[1]) * self.scale
        if self.k == 0:
            along, across = t, d
        else:
            # The circle's centre is 1 / k above the middle line's centre.
            r = 1 / self.k + d
            along = r * np.sin(t * self.k)
            across = r * np.cos(t * self.k) - 1 / self.k
        return (self.center[0] + along * self.e1[0] + across * self.e2[0],
                self.center[1] + along * self.e1[1] + across * self.e2[1])

    def inverse(self, x, y):
        q = np.stack([np.asarray(x, float) - self.center[0],
                      np.asarray(y, float) - self.center[1]], -1)
        along, across = q @ self.e1, q @ self.e2
        if self.k == 0:
            t, d = along, across
        else:
            a, b = along, across + 1 / self.k
            sign = np.sign(self.k)
            t = np.arctan2(sign * a, sign * b) / self.k
            d = sign * np.hypot(a, b) - 1 / self.k
        return (t / self.scale + self.mid[0], d / self.scale + self.mid[1])


def outline(warp, size: Tuple[int, int], points_per_side: int) -> np.ndarray:
    """(2 * points_per_side, 2) image points of the flat box's outline:
    ``points_per_side`` evenly along the top edge from left to right, then
    as many back along the bottom edge from right to left (for 2 points a
    side: the 4 corners clockwise from the top-left)."""
    w, h = size
    u = np.linspace(-.5, w - .5, points_per_side)
    top = warp.forward(u, np.full_like(u, -.5))
    bottom = warp.forward(u[::-1], np.full_like(u, h - .5))
    return np.concatenate([np.stack(top, 1), np.stack(bottom, 1)])


def warp_alpha(alpha: np.ndarray, warp, img_shape: Tuple[int, int]
               ) -> Tuple[np.ndarray, Tuple[int, int]]:
    """The flat alpha (h, w) warped into an image of ``img_shape`` (H, W).

    Returns:
        tuple[np.ndarray, tuple[int, int]]: the warped alpha inside the
        image, cropped to the word's extent, and the crop's ``(x0, y0)``
        in the image. The crop is empty (0 x 0) when the word lies outside
        the image.
    """
    h, w = alpha.shape
    pts = outline(warp, (w, h), 64)
    x0, y0 = np.maximum(np.floor(pts.min(0)).astype(int), 0)
    x1 = min(int(np.ceil(pts[:, 0].max())), img_shape[1] - 1)
    y1 = min(int(np.ceil(pts[:, 1].max())), img_shape[0] - 1)
    if x1 < x0 or y1 < y0:
        return np.zeros((0, 0), np.float32), (0, 0)
    xs, ys = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
    u, v = warp.inverse(xs, ys)
    layer = cv2.remap(alpha, u.astype(np.float32), v.astype(np.float32),
                      cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                      borderValue=0)
    return layer, (int(x0), int(y0))
