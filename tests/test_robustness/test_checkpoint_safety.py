"""SafeCheckpointHook: a failed save leaves the previous checkpoint valid;
a resumed run draws the same random numbers as an uninterrupted one."""
import os
import random

import mmengine.runner.runner as runner_module
import numpy as np
import pytest
import torch
from toy_runner import KillAt, Killed, RecordLosses, params, toy_runner

from ms_rcnn.engine.hooks import SafeCheckpointHook
from ms_rcnn.engine.hooks.safe_checkpoint_hook import (atomic_write_text,
                                                       rng_state)
from ms_rcnn.utils.checkpoint import load_trusted_local


def _fail_on_save(monkeypatch, number):
    """Make the ``number``-th checkpoint write die half-way, as a kill or a
    full disk would: a partial file, then an exception."""
    real_save, calls = runner_module.save_checkpoint, []

    def save(checkpoint, filename, *args, **kwargs):
        calls.append(filename)
        if len(calls) == number:
            with open(filename, 'wb') as f:
                f.write(b'PK\x03\x04 half a checkpoint')
            raise OSError('No space left on device')
        return real_save(checkpoint, filename, *args, **kwargs)

    monkeypatch.setattr(runner_module, 'save_checkpoint', save)
    return calls


def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    calls = _fail_on_save(monkeypatch, 2)
    runner = toy_runner(tmp_path, 6)
    with pytest.raises(OSError, match='No space left'):
        runner.train()
    # The failed write went to a temporary name; iter_2.pth is untouched
    # even with max_keep_ckpts=1, and last_checkpoint still points to it.
    assert calls == [
        str(tmp_path / 'iter_2.pth.tmp'),
        str(tmp_path / 'iter_4.pth.tmp')
    ]
    assert not (tmp_path / 'iter_4.pth').exists()
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path /
                                                             'iter_2.pth')
    assert load_trusted_local(str(tmp_path /
                                  'iter_2.pth'))['meta']['iter'] == 2
    monkeypatch.undo()
    resumed = toy_runner(tmp_path, 6, resume=True)
    resumed.train()
    assert resumed.iter == 6
    assert sorted(p.name
                  for p in tmp_path.glob('iter_*.pth')) == ['iter_6.pth']


def test_mmengine_hook_loses_the_checkpoint(tmp_path, monkeypatch):
    """Why the hook exists: mmengine deletes the old checkpoint first."""
    _fail_on_save(monkeypatch, 2)
    runner = toy_runner(
        tmp_path,
        6,
        checkpoint=dict(
            type='CheckpointHook',
            interval=2,
            by_epoch=False,
            max_keep_ckpts=1))
    with pytest.raises(OSError):
        runner.train()
    assert not (tmp_path / 'iter_2.pth').exists()
    with pytest.raises(Exception):
        load_trusted_local(str(tmp_path / 'iter_4.pth'))


def test_atomic_write_text_keeps_the_old_content_when_a_write_fails(
        tmp_path, monkeypatch):
    path = tmp_path / 'last_checkpoint'
    atomic_write_text(str(path), 'a.pth')
    assert path.read_text() == 'a.pth'

    def disk_full(fd):
        raise OSError('No space left on device')

    # The new text is written but never made durable: a kill or a full
    # disk at that moment must leave the old content in place.
    monkeypatch.setattr(os, 'fsync', disk_full)
    with pytest.raises(OSError, match='No space left'):
        atomic_write_text(str(path), 'b.pth')
    monkeypatch.undo()
    assert path.read_text() == 'a.pth'
    atomic_write_text(str(path), 'c.pth')
    assert path.read_text() == 'c.pth'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['last_checkpoint']


@pytest.mark.parametrize('by_epoch', [True, False],
                         ids=['epoch-based', 'iteration-based'])
@pytest.mark.parametrize('save_rng_state', [True, False])
def test_killed_and_resumed_run_draws_the_same_numbers(
        tmp_path, by_epoch, save_rng_state):
    """The toy loss draws from torch's, numpy's and Python's generators, and
    the run validates every 8 iterations, after each checkpoint. Killed
    during iteration 20, it resumes from its checkpoint of iteration 16
    (epoch 2) and must end as the uninterrupted run, loss for loss."""
    length = dict(max_epochs=4) if by_epoch else dict(max_iters=32)
    interval = 1 if by_epoch else 8
    ckpt = dict(
        type='SafeCheckpointHook',
        interval=interval,
        by_epoch=by_epoch,
        save_rng_state=save_rng_state)
    full_losses, resumed_losses = RecordLosses(), RecordLosses()
    full = toy_runner(
        tmp_path / 'full',
        **length,
        validate=True,
        checkpoint=ckpt,
        custom_hooks=[full_losses])
    full.train()
    killed = toy_runner(
        tmp_path / 'killed',
        **length,
        validate=True,
        checkpoint=ckpt,
        custom_hooks=[KillAt(20)])
    with pytest.raises(Killed):
        killed.train()
    last = tmp_path / 'killed' / ('epoch_2.pth' if by_epoch else
                                  'iter_16.pth')
    assert (tmp_path / 'killed' / 'last_checkpoint').read_text() == str(last)
    resumed = toy_runner(
        tmp_path / 'resumed',
        **length,
        validate=True,
        checkpoint=ckpt,
        resume=True,
        load_from=str(last),
        custom_hooks=[resumed_losses])
    resumed.train()
    assert sorted(full_losses.losses) == list(range(1, 33))
    assert sorted(resumed_losses.losses) == list(range(17, 33))
    same_losses = resumed_losses.losses == {
        i: loss
        for i, loss in full_losses.losses.items() if i > 16
    }
    same_weights = all(
        torch.equal(a, b)
        for a, b in zip(params(full).values(),
                        params(resumed).values()))
    # Without the saved states the resumed run draws other numbers.
    assert same_losses is save_rng_state
    assert same_weights is save_rng_state


def test_validation_leaves_the_generators_as_they_were():
    hook = SafeCheckpointHook()
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    before = rng_state()
    hook.before_val(runner=None)
    torch.rand(3), np.random.rand(), random.random()  # drawn in validation
    best = {}  # a best checkpoint is saved during validation
    hook.before_save_checkpoint(runner=None, checkpoint=best)
    hook.after_val(runner=None)
    for state in (rng_state(), best['rng_state']):
        assert torch.equal(state['torch'], before['torch'])
        assert np.array_equal(state['numpy'][1], before['numpy'][1])
        assert state['numpy'][2:] == before['numpy'][2:]
        assert state['python'] == before['python']
