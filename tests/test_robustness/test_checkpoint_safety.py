"""SafeCheckpointHook: a failed save leaves the previous checkpoint valid;
a resumed run draws the same random numbers as an uninterrupted one."""
import json

import mmengine.runner.runner as runner_module
import pytest
import torch
from toy_runner import params, toy_runner

from ms_rcnn.engine.hooks.safe_checkpoint_hook import atomic_write_text
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


def test_atomic_write_text(tmp_path):
    path = tmp_path / 'last_checkpoint'
    atomic_write_text(str(path), 'a.pth')
    atomic_write_text(str(path), 'b.pth')
    assert path.read_text() == 'b.pth'
    assert [p.name for p in tmp_path.iterdir()] == ['last_checkpoint']


def _losses(work_dir):
    losses = {}
    for path in work_dir.glob('*/vis_data/scalars.json'):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            losses[entry['step']] = entry['loss']
    return losses


@pytest.mark.parametrize('save_rng_state', [True, False])
def test_resume_restores_random_state(tmp_path, save_rng_state):
    ckpt = dict(
        type='SafeCheckpointHook',
        interval=2,
        by_epoch=False,
        save_rng_state=save_rng_state)
    full = toy_runner(tmp_path / 'full', 4, checkpoint=ckpt)
    full.train()
    toy_runner(tmp_path / 'cut', 2, checkpoint=ckpt).train()
    resumed = toy_runner(tmp_path / 'cut', 4, resume=True, checkpoint=ckpt)
    resumed.train()
    same = all(
        torch.equal(a, b)
        for a, b in zip(params(full).values(),
                        params(resumed).values()))
    # The toy loss draws torch.rand: without the saved state the resumed
    # run draws other numbers and ends with other weights.
    assert same is save_rng_state
    full_losses, cut_losses = _losses(tmp_path / 'full'), _losses(tmp_path /
                                                                  'cut')
    assert (cut_losses[4] == full_losses[4]) is save_rng_state
