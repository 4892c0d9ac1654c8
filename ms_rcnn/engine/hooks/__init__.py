"""Hooks of ms_rcnn (registered in ms_rcnn's HOOKS)."""
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .skipped_sample_hook import SkippedSampleHook
from .train_only_hook import TrainOnlyHook

__all__ = [
    'NonFiniteLossError', 'NonFiniteLossHook', 'SafeCheckpointHook',
    'SkippedSampleHook', 'TrainOnlyHook'
]
