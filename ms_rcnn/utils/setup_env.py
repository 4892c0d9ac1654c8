"""Registration of all ms_rcnn modules and the default scope."""
import datetime
import warnings

from mmengine.registry import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import ms_rcnn's and mmdet's modules so that they are registered.

    Args:
        init_default_scope (bool): Also make ``ms_rcnn`` the current default
            scope, so that registries build from the ms_rcnn nodes and fall
            back to mmdet's for names ms_rcnn does not define.
            Defaults to True.
    """
    from mmdet.utils import register_all_modules as mmdet_register_all

    # mmdet's modules first (without touching the scope): ours subclass them.
    mmdet_register_all(init_default_scope=False)
    import ms_rcnn.datasets.transforms  # noqa: F401
    import ms_rcnn.engine.hooks  # noqa: F401
    import ms_rcnn.evaluation  # noqa: F401
    import ms_rcnn.models  # noqa: F401
    import ms_rcnn.visualization  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('ms_rcnn'):
        DefaultScope.get_instance('ms_rcnn', scope_name='ms_rcnn')
    elif current.scope_name != 'ms_rcnn':
        warnings.warn(f'The current default scope "{current.scope_name}" is '
                      'not "ms_rcnn"; register_all_modules switches it to '
                      '"ms_rcnn". Pass init_default_scope=False to keep it.')
        # Instance names are unique in mmengine; the timestamp avoids a clash.
        DefaultScope.get_instance(
            f'ms_rcnn-{datetime.datetime.now()}', scope_name='ms_rcnn')
