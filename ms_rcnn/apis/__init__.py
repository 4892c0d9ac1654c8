"""High-level helpers.

Kept free of heavy imports: ``tools/misc/download_checkpoint.py`` and
``import ms_rcnn.apis.download`` must work without torch. Helpers that need
torch or mmdet should be imported lazily or from their own module.
"""
from .download import (DownloadError, DownloadResult, apply_base_url,
                       download_checkpoint, expected_hash, resolve_url,
                       sha256sum)

__all__ = [
    'DownloadError', 'DownloadResult', 'apply_base_url', 'download_checkpoint',
    'expected_hash', 'resolve_url', 'sha256sum'
]
