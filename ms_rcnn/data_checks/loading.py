"""Loading transforms that name the file they fail on.

A missing or broken image makes mmcv's ``LoadImageFromFile`` raise from
inside the backend (or, with ``ignore_empty``, skip it without a word), and
mmdet's ``LoadAnnotations`` quietly turns unusable polygons into ignored
instances. These transforms either skip the sample with a
:class:`~ms_rcnn.data_checks.DataWarning` that names the file and the
problem (``skip_bad=True``: the pipeline returns ``None`` and mmengine's
``BaseDataset`` fetches another index, up to ``max_refetch`` times), or raise
:class:`BadSampleError` with the same text (``skip_bad=False``).

Use ``skip_bad=True`` in training pipelines and ``skip_bad=False`` in test
pipelines: a test-mode dataset must not drop images (mmengine raises on
``None``), and an evaluation must not leave images out silently.

A skipped sample (and a dropped instance) is also logged as a warning
through mmengine's current logger, so that it reaches the run's log file in
``work_dir`` even when Python's warnings are ignored. mmengine's logger
prints a repeated warning once;
:class:`~ms_rcnn.engine.hooks.SkippedSampleHook` logs how many samples were
skipped and how many instances dropped in each epoch::

    custom_hooks = [dict(type='SkippedSampleHook')]

Dataloader workers forked from the Runner's process (mmengine's default
``mp_start_method='fork'``) log into the same file. Workers started with
``'spawn'`` have no run logger: their lines go to the console only, while
the count, kept in shared memory, is still right.
"""
import logging
import multiprocessing
import os.path as osp
import warnings
from typing import List, Optional

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmengine import fileio
from mmengine.logging import print_log

from ms_rcnn.registry import TRANSFORMS
from .annotations import DataWarning, instance_problem

# The last bytes of a complete file: JPEG's end-of-image marker and PNG's
# IEND chunk. A decoder shows a truncated JPEG as a partly grey image with
# no error, so the end of the file is checked explicitly.
_TRAILERS = {
    ('.jpg', '.jpeg'): b'\xff\xd9',
    ('.png', ): b'IEND\xaeB`\x82',
}


class BadSampleError(ValueError):
    """A sample that cannot be used, with the file and the problem."""


class SkipCounter:
    """A count shared by the process that builds a dataset and the dataloader
    workers started from it (``multiprocessing.Value``).

    The value is made for the start method in force when the counter is
    built, which the workers use too: mmengine's Runner sets
    ``env_cfg.mp_cfg.mp_start_method`` before it builds the datasets.
    """

    def __init__(self) -> None:
        self._value = multiprocessing.Value('q', 0)

    def add(self) -> None:
        with self._value.get_lock():  # += is a read and a write
            self._value.value += 1

    def pop(self) -> int:
        """The count so far; counting starts again from 0."""
        with self._value.get_lock():
            count, self._value.value = self._value.value, 0
        return count

    def __deepcopy__(self, memo) -> 'SkipCounter':
        # A copied dataset (mmengine's get_subset) counts on its own;
        # multiprocessing refuses to copy the shared value itself.
        return SkipCounter()


def _report(message: str) -> None:
    """A :class:`DataWarning` and a warning in the run's log."""
    warnings.warn(message, DataWarning)
    print_log(message, logger='current', level=logging.WARNING)


def _skip_or_raise(transform, path: str, problem: str) -> None:
    """Raise :class:`BadSampleError`, or report and count the skip (the
    transform then returns None)."""
    message = f'{path}: {problem}'
    if not transform.skip_bad:
        raise BadSampleError(message)
    _report(f'skipping sample {message}')
    transform.skipped.add()


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
        self.skipped = SkipCounter()

    def transform(self, results: dict) -> Optional[dict]:
        path = results['img_path']
        try:
            img_bytes = fileio.get(path, backend_args=self.backend_args)
        except (OSError, ValueError) as e:  # missing file, no permission
            problem = ('image file does not exist' if isinstance(
                e, FileNotFoundError) else f'cannot read image file ({e})')
            return _skip_or_raise(self, path, problem)
        if not img_bytes:
            return _skip_or_raise(self, path, 'image file is empty')
        if _truncated(img_bytes, path):
            return _skip_or_raise(self, path, 'image file is truncated')
        try:
            img = mmcv.imfrombytes(
                img_bytes, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as e:  # each backend raises its own errors
            img, why = None, f' ({e})'
        else:
            why = ''
        if img is None:
            return _skip_or_raise(self, path, f'image file is corrupt{why}')
        expected = (results.get('height'), results.get('width'))
        if (self.check_size and None not in expected
                and tuple(img.shape[:2]) != expected):
            return _skip_or_raise(
                self, path,
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
    instance is dropped, with a :class:`DataWarning` naming the image file,
    the image id, the annotation id (``ann_id``, which
    :class:`~ms_rcnn.data_checks.CocoDatasetWithAnnIds` adds) and the box,
    for the reasons of
    :func:`~ms_rcnn.data_checks.annotations.instance_problem`, and, when
    masks are loaded, for having none: ``CocoDataset`` leaves ``mask`` out
    for an empty ``segmentation``, and mmdet's
    ``LoadAnnotations(with_mask=True)`` then fails with a ``KeyError``. A
    sample left without instances is skipped (``skip_bad=True``) or
    rejected. :attr:`skipped` counts the skipped samples, :attr:`dropped`
    the dropped instances.

    Args:
        skip_bad (bool): Skip an image without usable instances (return
            ``None``) instead of raising :class:`BadSampleError`.
            Defaults to True.
        allow_empty (bool): Keep images without instances (e.g. in a test
            pipeline, where an image without objects is a valid sample).
            Defaults to False.
        with_mask (bool): The pipeline loads masks: an instance needs one.
            Defaults to True.
    """

    def __init__(self,
                 skip_bad: bool = True,
                 allow_empty: bool = False,
                 with_mask: bool = True) -> None:
        self.skip_bad = skip_bad
        self.allow_empty = allow_empty
        self.with_mask = with_mask
        self.skipped = SkipCounter()
        self.dropped = SkipCounter()

    def transform(self, results: dict) -> Optional[dict]:
        path = results.get('img_path', '<unknown image>')
        where = path if results.get('img_id') is None else (
            f'{path} (image id {results["img_id"]})')
        # The annotation's size: the image may not be loaded yet.
        height = results.get('height', results.get('ori_shape', (1e9, ))[0])
        width = results.get('width', results.get('ori_shape', (0, 1e9))[1])
        kept = []
        for instance in results.get('instances', []):
            if self.with_mask and 'mask' not in instance:
                problem = 'no segmentation'
            else:
                problem = instance_problem(instance['bbox'],
                                           instance.get('mask'), width,
                                           height)
            if problem is None:
                kept.append(instance)
            else:
                # Without ann_id (another dataset class) nothing in the
                # instance leads back to its annotation but its box.
                ann_id = instance.get('ann_id')
                what = ('an instance' if ann_id is None else
                        f'annotation id {ann_id}')
                _report(f'{where}: dropped {what} (box '
                        f'{instance["bbox"]}): {problem}')
                self.dropped.add()
        results['instances'] = kept
        if not kept and not self.allow_empty:
            return _skip_or_raise(self, path, 'no usable annotations')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(skip_bad={self.skip_bad}, '
                f'allow_empty={self.allow_empty}, '
                f'with_mask={self.with_mask})')


def skip_counters(obj, kind: str = 'skipped') -> List[SkipCounter]:
    """The counters of the checked transforms in ``obj``: a dataset, a dataset
    wrapper (``dataset`` / ``datasets``) or a pipeline (``pipeline`` /
    ``transforms``), searched through all of them.

    Args:
        obj: Where to look.
        kind (str): ``'skipped'`` (samples) or ``'dropped'`` (instances).
    """
    if isinstance(obj, (CheckedLoadImageFromFile, SanitizeInstances)):
        counter = getattr(obj, kind, None)
        return [] if counter is None else [counter]
    counters = []
    for name in ('dataset', 'datasets', 'pipeline', 'transforms'):
        child = getattr(obj, name, None)
        for item in child if isinstance(child, (list, tuple)) else [child]:
            if item is not None:
                counters += skip_counters(item, kind)
    return counters
