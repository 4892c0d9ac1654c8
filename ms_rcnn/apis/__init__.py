"""High-level helpers.

Kept free of heavy imports: ``tools/misc/download_checkpoint.py`` and
``import ms_rcnn.apis.download`` must work without torch, so the inferencer
is imported from its module: ``from ms_rcnn.apis.inferencer import
MaskScoringInferencer``.
"""
from .download import (DownloadError, DownloadResult, apply_base_url,
                       download_checkpoint, expected_hash, resolve_url,
                       sha256sum)

__all__ = [
    'DownloadError', 'DownloadResult', 'apply_base_url', 'download_checkpoint',
    'expected_hash', 'resolve_url', 'sha256sum'
]
