"""Loading transforms that name the file they fail on.

A missing or broken image makes mmcv's ``LoadImageFromFile`` raise from
inside the backend (or, with ``ignore_empty``, skip it without a word), and
mmdet's ``LoadAnnotations`` quietly turns unusable polygons into ignored
instances. These transforms either skip the sample with a
:class:`~ms_rcnn.utils.data_check.DataWarning` that names the file and the
problem (``skip_bad=True``: the pipeline returns ``None`` and mmengine's
``BaseDataset`` fetches another index, up to ``max_refetch`` times), or raise
:class:`BadSampleError` with the same text (``skip_bad=False``).

Use ``skip_bad=True`` in training pipelines and ``skip_bad=False`` in test
pipelines: a test-mode dataset must not drop images (mmengine raises on
``None``), and an evaluation must not leave images out silently.
"""
import os.path as osp
import warnings
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmengine import fileio

from ms_rcnn.registry import TRANSFORMS
from ms_rcnn.utils.data_check import DataWarning

# The last bytes of a complete file: JPEG's end-of-image marker and PNG's
# IEND chunk. A decoder shows a truncated JPEG as a partly grey image with
# no error, so the end of the file is checked explicitly.
_TRAILERS = {
    ('.jpg', '.jpeg'): b'\xff\xd9',
    ('.png', ): b'IEND\xaeB`\x82',
}


class BadSampleError(ValueError):
    """A sample that cannot be used, with the file and the problem."""


def _skip_or_raise(skip_bad: bool, path: str, problem: str) -> None:
    message = f'{path}: {problem}'
    if not skip_bad:
        raise BadSampleError(message)
    warnings.warn(f'skipping sample {message}', DataWarning)


def _truncated(img_bytes: bytes, path: str) -> bool:
    ext = osp.splitext(path)[1].lower()
    for exts, trailer in _TRAILERS.items():
        if ext in exts:
            # JPEG writers may pad after the marker; look at the last bytes.
            return trailer not in img_bytes[-32:]
    return False


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(MMCVLoadImageFromFile):
    """``LoadImageFromFile`` that skips or rejects bad images by name.

    Detects a missing or unreadable file, a file the decoder cannot read, a
    truncated JPEG / PNG, and an image whose size differs from the
    ``height`` / ``width`` of its annotation (when the dataset gives them),
    which would put every box and mask in the wrong place.

    Args:
        skip_bad (bool): Warn and return ``None`` (the dataset then fetches
            another sample) instead of raising :class:`BadSampleError`.
            Defaults to True.
        check_size (bool): Compare the decoded size with the annotation's.
            Defaults to True.
        **kwargs: The arguments of mmcv's ``LoadImageFromFile`` (files are
            read with ``backend_args``; ``ignore_empty`` is replaced by
            ``skip_bad``).
    """

    def __init__(self,
                 skip_bad: bool = True,
                 check_size: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.skip_bad = skip_bad
        self.check_size = check_size

    def transform(self, results: dict) -> Optional[dict]:
        path = results['img_path']
        try:
            img_bytes = fileio.get(path, backend_args=self.backend_args)
        except (OSError, ValueError) as e:  # missing file, no permission
            problem = ('image file does not exist' if isinstance(
                e, FileNotFoundError) else f'cannot read image file ({e})')
            return _skip_or_raise(self.skip_bad, path, problem)
        if not img_bytes:
            return _skip_or_raise(self.skip_bad, path, 'image file is empty')
        if _truncated(img_bytes, path):
            return _skip_or_raise(self.skip_bad, path,
                                  'image file is truncated')
        try:
            img = mmcv.imfrombytes(
                img_bytes, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as e:  # each backend raises its own errors
            img, why = None, f' ({e})'
        else:
            why = ''
        if img is None:
            return _skip_or_raise(self.skip_bad, path,
                                  f'image file is corrupt{why}')
        expected = (results.get('height'), results.get('width'))
        if (self.check_size and None not in expected
                and tuple(img.shape[:2]) != expected):
            return _skip_or_raise(
                self.skip_bad, path,
                f'image is {img.shape[1]}x{img.shape[0]} but its annotation '
                f'says {expected[1]}x{expected[0]}')
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] + f', skip_bad={self.skip_bad}, '
                f'check_size={self.check_size})')


@TRANSFORMS.register_module()
class SanitizeInstances(BaseTransform):
    """Drop unusable instances before ``LoadAnnotations``; skip empty samples.

    Works on ``results['instances']`` as mmdet's ``CocoDataset`` gives them
    (``bbox`` as x1, y1, x2, y2; ``mask`` as COCO polygons or RLE). An
    instance is dropped, with a :class:`DataWarning` naming the image and
    the instance, when its box has no area, when its polygon has fewer than
    3 points, or when its box or polygon lies outside the image. A sample
    left without instances is skipped (``skip_bad=True``) or rejected.

    Args:
        skip_bad (bool): Skip an image without usable instances (return
            ``None``) instead of raising :class:`BadSampleError`.
            Defaults to True.
        allow_empty (bool): Keep images without instances (e.g. in a test
            pipeline, where an image without objects is a valid sample).
            Defaults to False.
    """

    def __init__(self, skip_bad: bool = True, allow_empty: bool = False):
        self.skip_bad = skip_bad
        self.allow_empty = allow_empty

    @staticmethod
    def _problem(instance: dict, width: float, height: float):
        """Why an instance is unusable, or None."""
        x1, y1, x2, y2 = instance['bbox']
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            return 'zero-area box'
        if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
            return 'box outside the image'
        mask = instance.get('mask')
        if isinstance(mask, list):
            polygons = [p for p in mask if len(p) >= 6 and len(p) % 2 == 0]
            if not polygons:
                return 'polygon with fewer than 3 points'
            xs = np.concatenate([np.asarray(p[0::2]) for p in polygons])
            ys = np.concatenate([np.asarray(p[1::2]) for p in polygons])
            if (xs.max() <= 0 or ys.max() <= 0 or xs.min() >= width
                    or ys.min() >= height):
                return 'mask outside the image'
        return None

    def transform(self, results: dict) -> Optional[dict]:
        path = results.get('img_path', '<unknown image>')
        # The annotation's size: the image may not be loaded yet.
        height = results.get('height', results.get('ori_shape', (1e9, ))[0])
        width = results.get('width', results.get('ori_shape', (0, 1e9))[1])
        kept = []
        for i, instance in enumerate(results.get('instances', [])):
            problem = self._problem(instance, width, height)
            if problem is None:
                kept.append(instance)
            else:
                warnings.warn(f'{path}: dropped instance {i}: {problem}',
                              DataWarning)
        results['instances'] = kept
        if not kept and not self.allow_empty:
            return _skip_or_raise(self.skip_bad, path, 'no usable annotations')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(skip_bad={self.skip_bad}, '
                f'allow_empty={self.allow_empty})')
