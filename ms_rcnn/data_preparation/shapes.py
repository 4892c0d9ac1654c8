"""A small synthetic instance-segmentation dataset in COCO format.

Each image (default 128x128) shows 1..4 shapes of three classes (ellipses,
triangles from equilateral to thin, and crosses of thin bars) on a textured
background. Shapes drawn later occlude earlier ones; an annotation is the
*visible* part, read from a rendered instance-id map. Occlusion, thin parts,
blurred edges and low-contrast shapes make mask quality vary, which is what a
mask-scoring model has to predict; every annotated shape stays visible (a
minimum contrast with the background and a minimum visible area). Each
image draws from its own random
generator seeded with ``(seed, split, index)``: the same seed gives
byte-identical PNGs and JSON.
"""
import json
import os
import os.path as osp

import cv2
import numpy as np

CLASSES = ('ellipse', 'triangle', 'cross')
SPLITS = ('train', 'val')
# Instances whose visible part has fewer pixels are erased from the image:
# a sliver of an occluded shape tells nothing of its class.
MIN_VISIBLE_AREA = 100
# Shape radius as a fraction of the image side.
RADIUS = (0.12, 0.35)
# Ranges of the texture contrast of the background and of the shapes.
BG_TEXTURE = (10, 60)
SHAPE_TEXTURE = (5, 30)
# This share of the shapes gets a colour at a distance in LOW_CONTRAST from
# the background's (RGB, 0..255); the others are farther from it.
LOW_CONTRAST_SHARE = 0.25
LOW_CONTRAST = (30, 60)


def _rotated_box(center, size, angle):
    """Corners (4, 2) int32 of a box of ``size`` (w, h) rotated by degrees."""
    return np.round(cv2.boxPoints((center, size, angle))).astype(np.int32)


def draw_shape(rng, label, img_size):
    """Draw one random shape of class ``label`` as a binary mask.

    Args:
        rng (np.random.Generator): the random source.
        label (int): index into :data:`CLASSES`.
        img_size (int): side of the square image.

    Returns:
        np.ndarray: (img_size, img_size) uint8 mask with values 0/1. The shape
        may be cut by the image border.
    """
    mask = np.zeros((img_size, img_size), np.uint8)
    # Radius between 12 % and 35 % of the image, centre anywhere inside it.
    r = rng.uniform(*RADIUS) * img_size
    cx, cy = rng.uniform(0, img_size, size=2)
    angle = rng.uniform(0, 360)
    name = CLASSES[label]
    if name == 'ellipse':
        axes = (round(r), round(r * rng.uniform(0.4, 1.0)))
        cv2.ellipse(mask, (round(cx), round(cy)), axes, angle, 0, 360, 1, -1)
    elif name == 'triangle':
        # Vertices near a circle, one random gap per vertex: from equilateral
        # to long, thin triangles.
        thetas = np.deg2rad(angle + np.array([0., 120., 240.]) +
                            rng.uniform(-40, 40, size=3))
        radii = r * rng.uniform(0.6, 1.0, size=3)
        pts = np.stack(
            [cx + radii * np.cos(thetas), cy + radii * np.sin(thetas)], axis=1)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    else:  # cross: two thin perpendicular bars; a cross, T or L
        width = rng.uniform(3, 8)
        length2 = 2 * r * rng.uniform(0.5, 1)
        u1 = np.array([np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))])
        u2 = np.array([-u1[1], u1[0]])
        # Where the bars cross, as a fraction along each bar's half-length.
        t1, t2 = rng.uniform(-0.9, 0.9, size=2)
        c2 = np.array([cx, cy]) + t1 * r * u1 - t2 * length2 / 2 * u2
        # One fillPoly call per bar: a single call with both polygons
        # would leave their overlap empty (even-odd filling).
        for box in (((cx, cy), (2 * r, width), angle),
                    (tuple(c2), (length2, width), angle + 90)):
            cv2.fillPoly(mask, [_rotated_box(*box)], 1)
    return mask


def _has_hole(mask):
    """Whether a binary mask (H, W) encloses background (a COCO polygon,
    unlike an RLE, cannot describe a hole)."""
    _, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP,
                                    cv2.CHAIN_APPROX_SIMPLE)
    return hierarchy is not None and bool((hierarchy[0, :, 3] >= 0).any())


def layout_instances(rng, img_size, max_instances=4, max_tries=20):
    """Place 1..``max_instances`` shapes, later ones on top.

    A candidate shape is rejected when it is too small inside the image or
    when it would punch a hole into the visible part of an earlier one.

    Returns:
        tuple[np.ndarray, list[int], list[int]]: the instance-id map (H, W)
        int32, where 0 is background and ``k + 1`` marks the visible pixels
        of instance k; the class label of each instance; and the area of
        each instance's whole shape inside the image (its visible area where
        nothing occludes it). Instances whose visible area ended below
        :data:`MIN_VISIBLE_AREA` are erased (set to 0) and dropped, so every
        id in the map has a label.
    """
    id_map = np.zeros((img_size, img_size), np.int32)
    labels, full_areas = [], []
    for _ in range(int(rng.integers(1, max_instances + 1))):
        for _ in range(max_tries):
            label = int(rng.integers(len(CLASSES)))
            shape = draw_shape(rng, label, img_size).astype(bool)
            if shape.sum() < 2 * MIN_VISIBLE_AREA:
                continue
            candidate = id_map.copy()
            candidate[shape] = len(labels) + 1
            if not any(
                    _has_hole((candidate == k + 1).astype(np.uint8))
                    for k in range(len(labels))):
                id_map = candidate
                labels.append(label)
                full_areas.append(int(shape.sum()))
                break
    kept, kept_areas = [], []
    for k, (label, area) in enumerate(zip(labels, full_areas)):
        visible = id_map == k + 1
        if visible.sum() < MIN_VISIBLE_AREA:
            id_map[visible] = 0
        else:
            id_map[visible] = len(kept) + 1
            kept.append(label)
            kept_areas.append(area)
    return id_map, kept, kept_areas


def _texture(rng, img_size, base, contrast):
    """A (H, W, 3) float32 image: ``base`` colour plus a linear gradient,
    sine stripes and noise, each scaled by ``contrast``."""
    yy, xx = np.mgrid[0:img_size, 0:img_size].astype(np.float32) / img_size
    t = rng.uniform(0, 2 * np.pi)
    gradient = (np.cos(t) * xx + np.sin(t) * yy)[..., None] * rng.uniform(
        -1, 1, size=3)
    s = rng.uniform(0, np.pi)
    stripes = np.sin(2 * np.pi * rng.uniform(2, 12) *
                     (np.cos(s) * xx + np.sin(s) * yy) + rng.uniform(0, 6.3))
    stripes = stripes[..., None] * rng.uniform(-0.5, 0.5, size=3)
    noise = rng.normal(0, 0.3, size=(img_size, img_size, 3))
    img = base + contrast * (gradient + stripes + noise)
    return img.astype(np.float32)


def _shape_color(rng, background, min_dist, max_dist):
    """A colour whose distance to ``background`` (both (3, ) in 0..255) lies
    in [min_dist, max_dist]: a random direction from the background, pulled
    back inside the 0..255 cube."""
    for _ in range(50):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        color = background + rng.uniform(min_dist, max_dist) * direction
        if ((color >= 0) & (color <= 255)).all():
            return color
    # Rare: a background near a corner of the cube; the opposite corner is
    # far enough from it.
    return np.where(background > 127.5, 0., 255.)


def render_image(rng, id_map):
    """Paint the instances of an id map over a textured background.

    Args:
        rng (np.random.Generator): the random source.
        id_map (np.ndarray): (H, W) int32 from :func:`layout_instances`.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR image.
    """
    size = id_map.shape[0]
    background = rng.uniform(40, 215, size=3)
    img = _texture(rng, size, background, rng.uniform(*BG_TEXTURE))
    for k in range(1, id_map.max() + 1):
        # Some shapes get a colour close to the background: low contrast
        # makes their edges harder to find and their masks' quality more
        # variable. Never closer than LOW_CONTRAST[0]: a shape that cannot
        # be seen teaches nothing and caps every model's AP.
        if rng.uniform() < LOW_CONTRAST_SHARE:
            color = _shape_color(rng, background, *LOW_CONTRAST)
        else:
            color = _shape_color(rng, background, LOW_CONTRAST[1], 300)
        shape_tex = _texture(rng, size, color, rng.uniform(*SHAPE_TEXTURE))
        img[id_map == k] = shape_tex[id_map == k]
    # Soft edges, then sensor-like noise on top.
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.2))
    img += rng.normal(0, rng.uniform(2, 8), size=img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def coco_segmentation(mask):
    """The COCO polygon segmentation ``[[x0, y0, x1, y1, ...], ...]`` of a
    binary mask (H, W): one polygon per connected part, which pycocotools
    rasterises to the same pixels. (Predicted masks become one polygon each
    with :func:`ms_rcnn.structures.masks_to_polygons`, another operation.)

    findContours' contour through the boundary pixels' centres loses those
    pixels when rasterised (14 % of the area here, a third on thin parts).
    Traced at twice the resolution, the polygon lies a quarter pixel inside
    the pixel edges and every boundary pixel's centre is inside it.
    """
    big = mask.astype(np.uint8).repeat(2, axis=0).repeat(2, axis=1)
    contours, _ = cv2.findContours(big, cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    # Pixel index j of the 2x image has its centre at (j + 0.5) / 2.
    return [((c.reshape(-1, 2) + 0.5) / 2).flatten().tolist() for c in contours
            if len(c) >= 3]


def make_split(out_dir, split, params):
    """Write the PNGs of one split to ``out_dir/images/{split}_*.png`` and
    return its COCO dict. ``params`` are the keyword arguments of
    :func:`generate_shapes_dataset` and go into the file's ``info``."""
    size = params['img_size']
    images, annotations = [], []
    for index in range(params[f'num_{split}']):
        rng = np.random.default_rng(
            [params['seed'], SPLITS.index(split), index])
        id_map, labels, _ = layout_instances(rng, size,
                                             params['max_instances'])
        name = f'{split}_{index:06d}.png'
        ok, png = cv2.imencode('.png', render_image(rng, id_map))
        assert ok, f'cv2 failed to encode {name}'
        with open(osp.join(out_dir, 'images', name), 'wb') as f:
            f.write(png.tobytes())
        images.append(
            dict(id=index + 1, file_name=name, height=size, width=size))
        for k, label in enumerate(labels):
            visible = (id_map == k + 1).astype(np.uint8)
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=index + 1,
                    category_id=label + 1,
                    iscrowd=0,
                    area=int(visible.sum()),
                    bbox=list(cv2.boundingRect(visible)),
                    segmentation=coco_segmentation(visible)))
    categories = [dict(id=i + 1, name=n) for i, n in enumerate(CLASSES)]
    info = dict(description='ms_rcnn synthetic shapes', split=split, **params)
    return dict(
        info=info,
        images=images,
        annotations=annotations,
        categories=categories)


def _is_complete(paths, params):
    """Whether both annotation files were made with ``params`` and all their
    images exist."""
    for split in SPLITS:
        try:
            with open(paths[f'{split}_ann']) as f:
                coco = json.load(f)
        except (OSError, ValueError):
            return False
        info = coco.get('info', {})
        if any(info.get(k) != v for k, v in params.items()) or not all(
                osp.isfile(osp.join(paths['img_dir'], img['file_name']))
                for img in coco['images']):
            return False
    return True


def generate_shapes_dataset(out_dir,
                            seed=0,
                            num_train=1000,
                            num_val=200,
                            img_size=128,
                            max_instances=4,
                            skip_existing=False):
    """Write ``out_dir/images/*.png`` and
    ``out_dir/annotations/{train,val}.json``.

    With ``skip_existing``, a complete dataset made with the same arguments
    is kept as it is.

    Returns:
        dict: paths ``data_root``, ``img_dir``, ``train_ann``, ``val_ann``.
    """
    params = dict(
        seed=seed,
        num_train=num_train,
        num_val=num_val,
        img_size=img_size,
        max_instances=max_instances)
    ann_dir = osp.join(out_dir, 'annotations')
    paths = dict(
        data_root=out_dir,
        img_dir=osp.join(out_dir, 'images'),
        train_ann=osp.join(ann_dir, 'train.json'),
        val_ann=osp.join(ann_dir, 'val.json'))
    if skip_existing and _is_complete(paths, params):
        return paths
    os.makedirs(ann_dir, exist_ok=True)
    os.makedirs(paths['img_dir'], exist_ok=True)
    for split in SPLITS:
        coco = make_split(out_dir, split, params)
        # Annotations are written after their images, so an interrupted run
        # never leaves a complete-looking dataset.
        with open(paths[f'{split}_ann'], 'w') as f:
            json.dump(coco, f, separators=(',', ':'))
    return paths


def ensure_shapes_dataset(out_dir, seed=0, **kwargs):
    """:func:`generate_shapes_dataset` unless ``out_dir`` already holds the
    same dataset; returns its paths."""
    return generate_shapes_dataset(out_dir, seed, skip_existing=True, **kwargs)
