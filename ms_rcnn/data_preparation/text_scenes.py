"""Synthetic scene-text images: words or lines drawn with a real font over
textured backgrounds with text-like clutter.

Two kinds of scene:

* ``'icdar2015'``: single words, most rotated within +-15 degrees and a
  fifth within +-60, with mild perspective; their polygons are the 4
  corners clockwise from the word's top-left;
* ``'ctw1500'``: lines of 2 to 4 words, a third bent along circular arcs
  (total bend 30 to 120 degrees), the others straight and rotated within
  +-30 degrees; their polygons are 7 points along the top edge and 7 back
  along the bottom.

Clutter (bars, barcodes, rows of dashes and dots, the shapes dataset's
figures, thin lines, on gradients and stripes) resembles text enough to
fool a weak detector. Some words sit on plates, as on signs. Each word is
do-not-care with probability ``dnc_share``; such a word is drawn tiny,
blurred, faint (low contrast) or cut off by the image border, which is why
an annotator could not read it. Word sizes are fractions of the image side.
"""
import string
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from .shapes import CLASSES, draw_shape
from .text_render import ArcWarp, QuadWarp, outline, render_flat, warp_alpha

KINDS = ('icdar2015', 'ctw1500')
DNC_STYLES = ('tiny', 'blurred', 'faint', 'cut')
# Font sizes (fraction of the image side) of the legible words and lines,
# and of the tiny do-not-care ones (never below MIN_FONT_PX).
FONT_SIZE = {'icdar2015': (0.06, 0.13), 'ctw1500': (0.055, 0.09)}
TINY_FONT_SIZE = (0.025, 0.035)
MIN_FONT_PX = 5
# Words per image, do-not-care ones included.
NUM_WORDS = {'icdar2015': (3, 8), 'ctw1500': (2, 5)}
NUM_CLUTTER = (4, 10)
# Empty space kept around every placed word, as a fraction of its height.
GAP = 0.3
# Lowest luminance difference between a legible word and the background
# under it; faint do-not-care words get FAINT_CONTRAST instead.
MIN_CONTRAST = 90
FAINT_CONTRAST = (8, 20)
PUNCTUATED = ('"{}"', '{},', "{}'s", '({})')


def random_text(rng: np.random.Generator) -> str:
    """A word: capitals, capitalised, lower case or a number; a tenth of
    them with quotes or commas, as ICDAR transcriptions have."""
    style = rng.integers(4)
    if style == 3:
        number = str(rng.integers(1, 100000))
        return f'{number[:-3]},{number[-3:]}' if len(number) > 3 else number
    letters = ''.join(
        rng.choice(list(string.ascii_lowercase), int(rng.integers(2, 9))))
    word = (letters.upper(), letters.capitalize(), letters)[style]
    if rng.uniform() < 0.1:
        word = PUNCTUATED[rng.integers(len(PUNCTUATED))].format(word)
    return word


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) float32 BGR: a colour with a gradient, sine stripes
    and noise."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    t, s = rng.uniform(0, 2 * np.pi, 2)
    ramp = np.cos(t) * xx + np.sin(t) * yy
    stripes = np.sin(2 * np.pi * rng.uniform(2, 16) *
                     (np.cos(s) * xx + np.sin(s) * yy))
    img = (rng.uniform(30, 225, 3) + ramp[..., None] * rng.uniform(-60, 60, 3)
           + stripes[..., None] * rng.uniform(-20, 20, 3))
    return img.astype(np.float32) + 4 * rng.standard_normal(
        img.shape, np.float32)


def _rotated_rect(center, length, width, angle) -> np.ndarray:
    """(4, 2) int32 corners of a rectangle rotated by ``angle`` degrees."""
    return np.round(cv2.boxPoints(
        (tuple(center), (length, width), angle))).astype(np.int32)


def draw_clutter(rng: np.random.Generator, img: np.ndarray) -> None:
    """Paint one random piece of clutter on ``img`` (H, W, 3) in place:
    a bar, a barcode, a row of dashes or dots, a figure of the shapes
    dataset, or thin lines."""
    size = img.shape[0]
    color = rng.uniform(0, 255, 3)
    center = rng.uniform(0, size, 2)
    angle = rng.uniform(-90, 90) if rng.uniform() < 0.3 else rng.uniform(
        -20, 20)
    mask = np.zeros(img.shape[:2], np.uint8)
    kind = rng.integers(5)
    if kind == 0:  # a bar or a plate without text
        cv2.fillPoly(mask, [_rotated_rect(center, rng.uniform(.1, .5) * size,
                                          rng.uniform(.02, .1) * size,
                                          angle)], 1)
    elif kind in (1, 2):  # a barcode, or a row of dashes or dots
        height = rng.uniform(.03, .1) * size
        pitch = rng.uniform(.15, .3) * height if kind == 1 else rng.uniform(
            .5, 1.2) * height
        count = int(rng.integers(4, 16))
        direction = np.array(
            [np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))])
        for i in range(count):
            c = center + (i - count / 2) * pitch * direction
            width = pitch * rng.uniform(.3, .7)
            tall = height * (rng.uniform(.2, 1) if kind == 2 else 1)
            cv2.fillPoly(mask, [_rotated_rect(c, width, tall, angle)], 1)
    elif kind == 3:
        mask = draw_shape(rng, int(rng.integers(len(CLASSES))), size)
    else:
        for _ in range(int(rng.integers(1, 4))):
            p, q = rng.uniform(0, size, (2, 2)).astype(int)
            cv2.line(mask, tuple(map(int, p)), tuple(map(int, q)), 1,
                     int(rng.integers(1, 3)))
    img[mask > 0] = color


def text_color(rng: np.random.Generator, under: np.ndarray,
               faint: bool) -> np.ndarray:
    """A BGR colour (3, ) for text over pixels of mean colour ``under``:
    dark on light or light on dark, at least :data:`MIN_CONTRAST` apart in
    luminance, or only :data:`FAINT_CONTRAST` apart when ``faint``."""
    lum = under.mean()
    if faint:
        step = rng.uniform(*FAINT_CONTRAST) * rng.choice([-1, 1])
        return np.clip(under + step, 0, 255)
    target = (rng.uniform(0, lum - MIN_CONTRAST) if lum > 127.5 else
              rng.uniform(lum + MIN_CONTRAST, 255))
    return np.clip(target + rng.uniform(-25, 25, 3), 0, 255)


def sample_text(rng: np.random.Generator, kind: str, size: int,
                fonts: Sequence[str], style: str) -> Tuple[str, np.ndarray]:
    """Text and flat alpha (h, w) of one word (``'icdar2015'``) or line of
    2 to 4 words (``'ctw1500'``) of ``style`` (``'care'`` or one of
    :data:`DNC_STYLES`) for a square image of side ``size``."""
    font = fonts[rng.integers(len(fonts))]
    font_px = rng.uniform(*(TINY_FONT_SIZE if style == 'tiny' else
                            FONT_SIZE[kind])) * size
    font_px = max(MIN_FONT_PX, int(round(font_px)))
    if kind == 'icdar2015':
        text = random_text(rng)
    else:
        text = ' '.join(random_text(rng) for _ in range(rng.integers(2, 5)))
    alpha = render_flat(text, font, font_px, margin=0.12)
    # A line longer than the image is shortened by a smaller font.
    if alpha.shape[1] > 0.85 * size and font_px > MIN_FONT_PX:
        font_px = max(MIN_FONT_PX,
                      int(font_px * 0.85 * size / alpha.shape[1]))
        alpha = render_flat(text, font, font_px, margin=0.12)
    if style == 'blurred':
        # Room for the blur inside the box, so the polygon still holds
        # the ink.
        sigma = rng.uniform(.12, .25) * alpha.shape[0]
        alpha = cv2.GaussianBlur(np.pad(alpha, int(np.ceil(2.5 * sigma))),
                                 (0, 0), sigma)
    return text, alpha


def sample_warp(rng: np.random.Generator, kind: str, size: int,
                flat_size: Tuple[int, int], cut: bool):
    """A random warp of a flat word (w, h) into a square image of side
    ``size``, and its polygon (2K, ) float. The word's centre lies anywhere
    in the image, or near its left or right border when ``cut``."""
    w, h = flat_size
    center = rng.uniform(0, size, 2)
    if cut:
        center[0] = rng.choice([0, size]) + rng.uniform(-0.2, 0.2) * w
    if kind == 'icdar2015':
        angle = np.deg2rad(rng.uniform(-15, 15) if rng.uniform() < 0.8 else
                           rng.uniform(-60, 60))
        e1 = np.array([np.cos(angle), np.sin(angle)])
        e2 = np.array([-e1[1], e1[0]])
        # Mild perspective: one end up to 15 % taller than the other, and
        # each corner moved by a few percent of the height.
        right = rng.uniform(0.85, 1.15)
        quad = np.array([
            center - w / 2 * e1 - h / 2 * e2,
            center + w / 2 * e1 - right * h / 2 * e2,
            center + w / 2 * e1 + right * h / 2 * e2,
            center - w / 2 * e1 + h / 2 * e2
        ]) + rng.normal(0, 0.04 * h, (4, 2))
        warp, points_per_side = QuadWarp(quad, (w, h)), 2
    else:
        bend = 0.0
        if rng.uniform() < 1 / 3:
            # Up to 120 degrees, and a radius above the text's height.
            bend = np.deg2rad(rng.uniform(30, 120)) * rng.choice([-1, 1])
            bend = float(np.clip(bend, -w / h, w / h))
            angle = np.deg2rad(rng.uniform(-15, 15))
        else:
            angle = np.deg2rad(rng.uniform(-30, 30))
        warp, points_per_side = ArcWarp(center, angle, bend, (w, h)), 7
    return warp, outline(warp, (w, h), points_per_side).reshape(-1)


def _fill(polygon: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 0/1 raster of a flat polygon (pixel centres inside)."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(polygon.reshape(-1, 2)).astype(np.int32)],
                 1)
    return mask


def _place(rng: np.random.Generator, kind: str, alpha: np.ndarray,
           style: str, occupied: np.ndarray, max_tries: int):
    """``(warp, polygon (2K, ) int64, region (H, W) uint8)`` of the first of
    ``max_tries`` random placements of a flat word that fits and touches
    no ``occupied`` pixel; None if none does."""
    size = occupied.shape[0]
    for _ in range(max_tries):
        warp, polygon = sample_warp(rng, kind, size, alpha.shape[::-1],
                                    style == 'cut')
        polygon = np.round(polygon).astype(np.int64)
        if style != 'cut' and (polygon.min() < 1
                               or polygon.max() > size - 2):
            continue  # legible words lie whole inside the image
        region = _fill(polygon, occupied.shape)
        if style == 'cut':
            # Cut-off words show 30 to 70 % of themselves.
            area = cv2.contourArea(polygon.reshape(-1, 2).astype(np.float32))
            if not 0.3 * area <= region.sum() <= 0.7 * area:
                continue
        if not (region & occupied).any():
            return warp, polygon, region
    return None


def render_scene(rng: np.random.Generator, kind: str, size: int,
                 fonts: Sequence[str], dnc_share: float,
                 max_tries: int = 30) -> Tuple[np.ndarray, List[Dict]]:
    """One image and its words.

    Returns:
        tuple[np.ndarray, list[dict]]: the (size, size, 3) uint8 BGR image
        and, per word in drawing order, ``polygon`` (2K, ) int64 as written
        to the annotation files (K = 4 or 14), ``text``, ``ignore``
        (do-not-care), ``style`` (``'care'`` or a :data:`DNC_STYLES` entry)
        and ``ink``: its alpha (h, w) float32 in the image, placed at
        ``ink_xy`` = (x0, y0). At least one word is legible.
    """
    img = background(rng, size)
    for _ in range(rng.integers(*NUM_CLUTTER)):
        draw_clutter(rng, img)
    occupied = np.zeros((size, size), np.uint8)
    words = []
    num_words = int(rng.integers(NUM_WORDS[kind][0], NUM_WORDS[kind][1] + 1))
    for i in range(num_words):
        dnc = i > 0 and rng.uniform() < dnc_share
        style = DNC_STYLES[rng.integers(len(DNC_STYLES))] if dnc else 'care'
        # The first word is legible and must be placed: if it does not
        # fit, another text.
        for _ in range(max_tries if i == 0 else 1):
            text, alpha = sample_text(rng, kind, size, fonts, style)
            placed = _place(rng, kind, alpha, style, occupied, max_tries)
            if placed is not None:
                break
        else:
            if i == 0:
                raise RuntimeError(f'no room for a word in a {size} px '
                                   'image: use a larger image size')
            continue
        warp, polygon, region = placed
        # Each placed word occupies its polygon grown by a gap; a new one
        # may not touch that.
        gap = max(2, round(GAP * alpha.shape[0]))
        occupied |= cv2.dilate(region, np.ones((3, 3), np.uint8),
                               iterations=gap)
        if style == 'care' and rng.uniform() < 0.25:
            # A plate under the word, as on a sign.
            plate = cv2.dilate(region, np.ones((3, 3), np.uint8),
                               iterations=gap // 2)
            img[plate > 0] = rng.uniform(0, 255, 3)
        ink, (x0, y0) = warp_alpha(alpha, warp, occupied.shape)
        if ink.size:
            patch = img[y0:y0 + ink.shape[0], x0:x0 + ink.shape[1]]
            under = patch[ink > 0.5].mean(0) if (ink > 0.5).any() else (
                patch.reshape(-1, 3).mean(0))
            color = text_color(rng, under, faint=style == 'faint')
            patch += ink[..., None] * (color - patch)
        words.append(
            dict(polygon=polygon, text=text,
                 ignore=style != 'care', style=style, ink=ink,
                 ink_xy=(x0, y0)))
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.8))
    img += rng.uniform(2, 6) * rng.standard_normal(img.shape, np.float32)
    return np.clip(np.round(img), 0, 255).astype(np.uint8), words
