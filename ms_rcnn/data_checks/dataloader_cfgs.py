"""What ``tools/train.py`` and ``tools/test.py`` do to a config's data before
they build the Runner: :func:`check_dataloader_cfgs` checks every COCO
annotation file the config reads (:func:`~.annotations.check_coco_file`), and
:func:`use_checked_loader` makes evaluations load images with
:class:`~ms_rcnn.data_checks.CheckedLoadImageFromFile`.
"""
import os.path as osp

from mmdet.datasets import CocoDataset

from ms_rcnn.registry import DATASETS
from .annotations import check_coco_file


def _is_coco(dataset_cfg) -> bool:
    """Whether a dataset config builds mmdet's ``CocoDataset`` or a subclass
    (other datasets may read other formats from a ``.json``)."""
    cls = dataset_cfg.get('type')
    if isinstance(cls, str):
        cls = DATASETS.get(cls)
    return isinstance(cls, type) and issubclass(cls, CocoDataset)


def _dataset_cfgs(dataset_cfg):
    """Every dataset config in ``dataset_cfg``: wrappers (such as
    ``RepeatDataset`` and ``ConcatDataset``) and the datasets inside."""
    if isinstance(dataset_cfg, (list, tuple)):
        for cfg in dataset_cfg:
            yield from _dataset_cfgs(cfg)
    elif dataset_cfg:
        yield dataset_cfg
        yield from _dataset_cfgs(
            dataset_cfg.get('dataset', dataset_cfg.get('datasets')))


def _datasets(dataset_cfg):
    """The leaf COCO dataset configs with an ``ann_file``."""
    for cfg in _dataset_cfgs(dataset_cfg):
        if ('dataset' not in cfg and 'datasets' not in cfg
                and cfg.get('ann_file') and _is_coco(cfg)):
            yield cfg


LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def check_dataloader_cfgs(cfg, keys=LOADERS) -> None:
    """:func:`check_coco_file` on the local JSON ``ann_file`` of every
    ``CocoDataset`` (or subclass) in ``cfg``.

    Args:
        cfg (Config): A full config.
        keys (tuple[str]): The dataloaders to check.
    """
    seen = set()
    for key in keys:
        loader = cfg.get(key)
        if not loader:
            continue
        for dataset in _datasets(loader.get('dataset')):
            ann_file = osp.join(
                dataset.get('data_root') or '', dataset['ann_file'])
            # Remote files (s3://, http://) are left to the dataset.
            if ann_file in seen or '://' in ann_file or not ann_file.endswith(
                    '.json'):
                continue
            seen.add(ann_file)
            check_coco_file(ann_file)


# mmdet's image loader under the names a config may give it.
_PLAIN_LOADERS = ('LoadImageFromFile', 'mmdet.LoadImageFromFile',
                  'mmcv.LoadImageFromFile')


def use_checked_loader(cfg, keys=('val_dataloader', 'test_dataloader')):
    """Load evaluation images with a ``CheckedLoadImageFromFile`` that raises.

    Shipped test pipelines keep mmdet's ``LoadImageFromFile`` because
    mmdet's ``DetInferencer`` finds the loader it replaces by that name. An
    evaluation run has no such constraint, so ``tools/train.py`` and
    ``tools/test.py`` swap it here (same arguments): a missing, corrupt or
    truncated image then stops the evaluation with an error naming the file
    instead of a traceback from inside mmcv, and no image is left out
    silently.

    Args:
        cfg (Config): A full config, modified in place.
        keys (tuple[str]): The dataloaders whose pipelines are changed.

    Returns:
        int: How many loaders were replaced.
    """
    replaced = 0
    for key in keys:
        loader = cfg.get(key)
        if not loader:
            continue
        for dataset in _dataset_cfgs(loader.get('dataset')):
            pipeline = dataset.get('pipeline') or []
            for i, transform in enumerate(pipeline):
                if transform.get('type') not in _PLAIN_LOADERS:
                    continue
                args = {
                    k: v
                    for k, v in transform.items()
                    if k not in ('type', 'ignore_empty')
                }
                # The full name: the dataset may be built in mmdet's scope.
                pipeline[i] = dict(
                    type='ms_rcnn.CheckedLoadImageFromFile',
                    skip_bad=False,
                    **args)
                replaced += 1
    return replaced
