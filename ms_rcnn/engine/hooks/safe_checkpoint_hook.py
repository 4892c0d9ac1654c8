"""A ``CheckpointHook`` whose checkpoints survive a kill and resume exactly.

mmengine's ``CheckpointHook`` writes ``iter_N.pth`` in place and deletes the
outdated checkpoint *before* writing the new one; with ``max_keep_ckpts=1``
a process killed during a save leaves no valid checkpoint at all. Here:

1. the checkpoint is written to ``<name>.tmp``, flushed to disk and renamed
   (``os.replace`` is atomic on POSIX and Windows), so ``iter_N.pth`` is
   either complete or absent;
2. ``last_checkpoint`` is rewritten the same way, after the rename;
3. only then are outdated checkpoints deleted.

It also stores the states of the random number generators (torch's CPU
generator, numpy's and Python's) and restores them when training resumes,
and validation leaves them as they were, so that a resumed deterministic run
draws the same random numbers (RPN / RoI sampling, data augmentation) as an
uninterrupted one, with epoch- and iteration-based loops alike.
Non-local backends (``backend_args`` for S3 etc.) fall back to mmengine's
behaviour.
"""
import os
import os.path as osp
import random

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.runner import IterBasedTrainLoop

from ms_rcnn.registry import HOOKS


def _fsync(path: str) -> None:
    # os.replace is atomic for the name; fsync makes the *content* durable
    # before the rename, so a power loss cannot leave a renamed empty file.
    with open(path, 'rb+') as f:
        os.fsync(f.fileno())


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def rng_state() -> dict:
    """The states of torch's (CPU), numpy's and Python's generators."""
    return dict(
        torch=torch.get_rng_state(),
        numpy=np.random.get_state(),
        python=random.getstate())


def set_rng_state(state: dict) -> None:
    """Set the states that :func:`rng_state` returned."""
    torch.set_rng_state(state['torch'])
    np.random.set_state(state['numpy'])
    random.setstate(state['python'])


class _SetStatesAfter:
    """An iterator that passes ``skip`` items of ``iterator`` through, then
    sets the generators' ``state`` before it fetches the next one."""

    def __init__(self, iterator, skip: int, state: dict) -> None:
        self.iterator, self.skip, self.state = iterator, skip, state

    def __iter__(self):
        return self

    def __next__(self):
        if self.skip == 0:
            set_rng_state(self.state)
        self.skip -= 1
        return next(self.iterator)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` with atomic saves and resumable random states.

    Use it in place of mmengine's: ``default_hooks.checkpoint.type =
    'SafeCheckpointHook'``; it takes the same arguments.

    Args:
        save_rng_state (bool): Save the states of torch's, numpy's and
            Python's random generators and restore them on resume.
            Defaults to True.
        **kwargs: The arguments of mmengine's ``CheckpointHook``.
    """

    def __init__(self, *args, save_rng_state: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.save_rng_state = save_rng_state
        self._resumed_rng = None
        self._rng_before_val = None

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not isinstance(self.file_backend, LocalBackend):
            return super()._save_checkpoint_with_step(runner, step, meta)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        # The same bookkeeping as mmengine (which ids are kept, in the
        # message hub so that a resumed run knows them), but the outdated
        # file is only deleted once the new one is complete.
        outdated = None
        if self.max_keep_ckpts > 0 and (not self.keep_ckpt_ids
                                        or self.keep_ckpt_ids[-1] != step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        runner.save_checkpoint(
            self.out_dir,
            filename + '.tmp',
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        _fsync(self.last_ckpt + '.tmp')
        os.replace(self.last_ckpt + '.tmp', self.last_ckpt)
        atomic_write_text(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if outdated is not None:
            old = osp.join(self.out_dir, self.filename_tmpl.format(outdated))
            if osp.isfile(old):
                os.remove(old)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.save_rng_state:
            # A best checkpoint is saved during validation: the states to
            # resume from are those training had before it.
            checkpoint['rng_state'] = self._rng_before_val or rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Also called for `load_from` (fine-tuning); the states are only
        # applied in before_train, once it is clear the run resumes.
        self._resumed_rng = (checkpoint.get('meta', {}).get('iter'),
                             checkpoint.get('rng_state'))

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self._resumed_rng is None:
            return
        ckpt_iter, state = self._resumed_rng
        self._resumed_rng = None
        if state is None or not self.save_rng_state or runner.iter == 0 \
                or runner.iter != ckpt_iter:
            return
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop):
            # After this hook the loop fetches the already trained batches
            # again to skip them; with num_workers=0 their transforms draw
            # from this process's generators. The states are set once that
            # replay is over, right before the next batch.
            loop.dataloader_iterator = _SetStatesAfter(
                loop.dataloader_iterator, runner.iter, state)
        else:
            set_rng_state(state)

    # The uninterrupted run validates after the checkpoint was saved, the
    # resumed one does not: validation must not move the generators
    # (creating its dataloader's iterator draws from torch's).
    def before_val(self, runner) -> None:
        if self.save_rng_state:
            self._rng_before_val = rng_state()

    def after_val(self, runner) -> None:
        if self._rng_before_val is not None:
            set_rng_state(self._rng_before_val)
            self._rng_before_val = None
