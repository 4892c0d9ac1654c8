"""Models of ms_rcnn; importing this registers them in the ms_rcnn scope."""
import mmdet.models  # noqa: F401  (ours subclass mmdet's; register it first)

from .detectors import *  # noqa: F401,F403
from .roi_heads import *  # noqa: F401,F403
from .task_modules import *  # noqa: F401,F403
