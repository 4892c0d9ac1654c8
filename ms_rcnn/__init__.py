"""Mask Scoring R-CNN for MMDetection 3.x."""
from .utils import allow_mmengine_checkpoints, register_all_modules
from .version import __version__

# mmengine's own training checkpoints must load under torch >= 2.6, whose
# torch.load defaults to weights_only=True (see utils/checkpoint.py).
allow_mmengine_checkpoints()

__all__ = ['__version__', 'register_all_modules']
