"""Mask Scoring R-CNN for MMDetection 3.x.

Importing the package is cheap (dataset converters use it without torch);
``register_all_modules`` and the registries pull in mmdet.
"""
from .version import __version__


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register ms_rcnn's and mmdet's modules; see
    :func:`ms_rcnn.utils.setup_env.register_all_modules`."""
    from .utils.setup_env import register_all_modules as register
    register(init_default_scope)


__all__ = ['__version__', 'register_all_modules']
