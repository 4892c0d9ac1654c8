"""Stop (or skip) a training step whose loss is not finite.

By ``after_train_iter`` mmengine's optim wrapper has already back-propagated
the loss and stepped the optimizer, so a NaN loss has already reached the
weights (AdamW turns NaN gradients into NaN parameters). What must not
happen is that those weights are saved over a good checkpoint. Hooks run in
priority order, and this hook's ``ABOVE_NORMAL`` comes before
``CheckpointHook`` (``VERY_LOW``) and ``LoggerHook`` (``BELOW_NORMAL``):

- ``action='stop'`` raises :class:`NonFiniteLossError` in ``after_train_iter``
  before any checkpoint of this iteration is written, so the last checkpoint
  on disk holds the last good weights and ``--resume`` continues from it;
- ``action='skip'`` keeps a copy of the model's and the optimizer's state
  from ``before_train_iter`` and puts it back when the loss was not finite,
  which undoes the step (at the cost of one copy of both states per
  iteration). After ``max_skips`` consecutive skipped steps it stops.
"""
import copy
import math
import warnings
from typing import Optional

import torch
from mmengine.hooks import Hook

from ms_rcnn.registry import HOOKS


class NonFiniteLossError(FloatingPointError):
    """A training step produced a NaN or infinite loss."""


def non_finite_terms(outputs: Optional[dict]) -> dict:
    """The loss terms of ``outputs`` (a ``train_step`` result) that are NaN or
    infinite, as ``{name: value}``."""
    bad = {}
    for name, value in (outputs or {}).items():
        if isinstance(value, torch.Tensor):
            if value.numel() == 0:
                continue
            finite = bool(torch.isfinite(value).all())
            value = value.detach().float().mean().item()
        elif isinstance(value, (int, float)):
            finite = math.isfinite(value)
        else:
            continue
        if not finite:
            bad[name] = value
    return bad


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Check every training step's loss terms for NaN and infinity.

    Add it with ``custom_hooks = [dict(type='NonFiniteLossHook')]``.

    Args:
        action (str): ``'stop'`` raises :class:`NonFiniteLossError` before the
            step's weights can be saved; ``'skip'`` undoes the step and goes
            on. Defaults to ``'stop'``.
        max_skips (int): With ``'skip'``, stop after this many consecutive
            skipped steps. Defaults to 3.
    """

    # Before CheckpointHook (VERY_LOW) and LoggerHook (BELOW_NORMAL).
    priority = 'ABOVE_NORMAL'

    def __init__(self, action: str = 'stop', max_skips: int = 3) -> None:
        if action not in ('stop', 'skip'):
            raise ValueError(f"action must be 'stop' or 'skip', got {action}")
        self.action = action
        self.max_skips = max_skips
        self._skips = 0
        self._snapshot = None

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.action != 'skip':
            return
        # clone(): state_dict() returns the live parameter tensors.
        model = {
            k: v.detach().clone()
            for k, v in runner.model.state_dict().items()
        }
        self._snapshot = (model,
                          copy.deepcopy(runner.optim_wrapper.state_dict()))

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        bad = non_finite_terms(outputs)
        if not bad:
            self._skips = 0
            return
        # The loop increments runner.iter after this hook: +1 gives the
        # 1-based iteration that the logs show.
        where = f'iteration {runner.iter + 1} (epoch {runner.epoch + 1})'
        terms = ', '.join(f'{k}={v}' for k, v in bad.items())
        self._skips += 1
        if self.action == 'stop' or self._skips > self.max_skips:
            last = runner.message_hub.get_info('last_ckpt')
            raise NonFiniteLossError(
                f'non-finite loss at {where}: {terms}. Training stopped '
                'before these weights were saved; ' +
                (f'the last checkpoint {last} is intact and --resume '
                 'continues from it.'
                 if last else 'no checkpoint was saved yet.'))
        model, optim = self._snapshot
        runner.model.load_state_dict(model)
        runner.optim_wrapper.load_state_dict(optim)
        warnings.warn(
            f'non-finite loss at {where}: {terms}; the step was undone '
            f'({self._skips} in a row, at most {self.max_skips})',
            RuntimeWarning)
