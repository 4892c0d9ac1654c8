"""Mask Scoring R-CNN for MMDetection 3.x.

Importing the package only declares its name to mmengine, and is cheap (the
dataset converters use it without torch). :func:`register_all_modules`
registers the modules and makes the changes to mmengine that the package
needs, all in one place.
"""
import datetime
import warnings

from mmengine.config.utils import MODULE2PACKAGE

from .version import __version__

# mmengine resolves the scope of ``_base_ = 'ms_rcnn::...'`` config bases and
# of model names (``DetInferencer('ms-rcnn_r50-caffe_fpn_1x_coco',
# scope='ms_rcnn')``) to an installed package through this table. It must be
# filled before a config is read, so importing the package does it.
MODULE2PACKAGE.setdefault('ms_rcnn', 'ms_rcnn')


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register ms_rcnn's and mmdet's modules, and set up mmengine for them.

    - imports mmdet's and ms_rcnn's modules, so that they are registered;
    - makes mmengine load its own training checkpoints under torch >= 2.6
      (:func:`ms_rcnn.utils.checkpoint.allow_mmengine_checkpoints`).

    ``tools/train.py``, ``tools/test.py`` and the other tools call it first.

    Args:
        init_default_scope (bool): Also make ``ms_rcnn`` the current default
            scope, so that registries build from the ms_rcnn nodes and fall
            back to mmdet's for names ms_rcnn does not define.
            Defaults to True.
    """
    from mmdet.utils import register_all_modules as mmdet_register_all
    from mmengine.registry import DefaultScope

    from .utils.checkpoint import allow_mmengine_checkpoints

    # mmdet's modules first (without touching the scope): ours subclass them.
    mmdet_register_all(init_default_scope=False)
    # Not ms_rcnn.deploy: OnnxMaskScoringDetector is registered when
    # ms_rcnn's MODELS imports its locations (see ms_rcnn.registry).
    from . import data_checks, evaluation, models, visualization  # noqa
    from .engine import hooks  # noqa: F401
    allow_mmengine_checkpoints()

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is not None and current.scope_name == 'ms_rcnn':
        return
    if current is not None:
        warnings.warn(f'The current default scope "{current.scope_name}" is '
                      'not "ms_rcnn"; register_all_modules switches it to '
                      '"ms_rcnn". Pass init_default_scope=False to keep it.')
    # The newest instance is the current one, and instance names are unique
    # in mmengine: a timestamp tells a second one apart.
    name = 'ms_rcnn'
    if DefaultScope.check_instance_created(name):
        name = f'ms_rcnn-{datetime.datetime.now()}'
    DefaultScope.get_instance(name, scope_name='ms_rcnn')


__all__ = ['__version__', 'register_all_modules']
