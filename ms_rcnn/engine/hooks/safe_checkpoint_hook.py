"""A ``CheckpointHook`` whose checkpoints survive a kill and resume exactly.

mmengine's ``CheckpointHook`` writes ``iter_N.pth`` in place and deletes the
outdated checkpoint *before* writing the new one; with ``max_keep_ckpts=1``
a process killed during a save leaves no valid checkpoint at all. Here:

1. the checkpoint is written to ``<name>.tmp``, flushed to disk and renamed
   (``os.replace`` is atomic on POSIX and Windows), so ``iter_N.pth`` is
   either complete or absent;
2. ``last_checkpoint`` is rewritten the same way, after the rename;
3. only then are outdated checkpoints deleted.

It also stores the random number generators' states and restores them when
training resumes, so that a resumed deterministic run draws the same random
numbers (RPN / RoI sampling, data augmentation) as an uninterrupted one.
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
            checkpoint['rng_state'] = dict(
                torch=torch.get_rng_state(),
                numpy=np.random.get_state(),
                python=random.getstate())

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
        torch.set_rng_state(state['torch'])
        # IterBasedTrainLoop replays the already trained batches after this
        # hook (to skip them), and with num_workers=0 that replays numpy's
        # and Python's draws in the data pipeline from the seeded start.
        # Restoring their states here would make the replay consume them
        # twice; epoch-based loops do not replay, so they need them.
        if not isinstance(runner.train_loop, IterBasedTrainLoop):
            np.random.set_state(state['numpy'])
            random.setstate(state['python'])
