"""Mask Scoring R-CNN for MMDetection 3.x.

Importing the package is cheap (dataset converters use it without torch);
``register_all_modules`` and the registries pull in mmdet.
"""
from mmengine.config.utils import MODULE2PACKAGE

from .version import __version__

# Lets mmengine's inferencers find models of our metafiles by name, e.g.
# DetInferencer('ms-rcnn_r50-caffe_fpn_1x_coco', scope='ms_rcnn').
MODULE2PACKAGE.setdefault('ms_rcnn', 'ms_rcnn')


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register ms_rcnn's and mmdet's modules; see
    :func:`ms_rcnn.utils.setup_env.register_all_modules`."""
    from .utils.setup_env import register_all_modules as register
    register(init_default_scope)


__all__ = ['__version__', 'register_all_modules']
