"""Data transforms of ms_rcnn (registered in ms_rcnn's TRANSFORMS).

In a config, replace ``LoadImageFromFile`` with::

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
from .checked_loading import (BadSampleError, CheckedLoadImageFromFile,
                              SanitizeInstances)

__all__ = ['BadSampleError', 'CheckedLoadImageFromFile', 'SanitizeInstances']
