"""Bad input named, not a traceback: checks of annotation files and of each
instance (:mod:`.annotations`), loading transforms that skip or reject a bad
sample by name (:mod:`.loading`, registered in ms_rcnn's TRANSFORMS), a
``CocoDataset`` that keeps each instance's annotation id for those names
(:mod:`.coco_dataset`, registered in ms_rcnn's DATASETS), and what the
tools apply to a config's dataloaders (:mod:`.dataloader_cfgs`).

In a config, use ``CocoDatasetWithAnnIds`` for ``CocoDataset`` and replace
``LoadImageFromFile`` with::

    train_pipeline = [
        dict(type='CheckedLoadImageFromFile'),  # skip_bad=True: warn, skip
        dict(type='SanitizeInstances'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        ...
    ]
    test_pipeline = [
        dict(type='CheckedLoadImageFromFile', skip_bad=False),  # raise
        dict(type='SanitizeInstances', skip_bad=False, allow_empty=True),
        ...
    ]
"""
from .annotations import (AnnotationError, DataWarning, check_coco_file,
                          instance_problem)
from .coco_dataset import CocoDatasetWithAnnIds
from .loading import (BadSampleError, CheckedLoadImageFromFile,
                      SanitizeInstances)

__all__ = [
    'AnnotationError', 'DataWarning', 'check_coco_file', 'instance_problem',
    'CocoDatasetWithAnnIds', 'BadSampleError', 'CheckedLoadImageFromFile',
    'SanitizeInstances'
]
