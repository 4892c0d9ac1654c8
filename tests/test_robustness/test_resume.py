"""kill -9 during training, then --resume: the same losses as without it,
epoch- and iteration-based."""
import importlib.util
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from robustness_testing import ROOT, read_losses, tiny_cfg

# Runs in the killed process: SIGKILL right after iteration `at` has been
# logged (LoggerHook: BELOW_NORMAL) and before its checkpoint could be
# written (CheckpointHook: VERY_LOW). No cleanup code of Python runs.
KILL_HOOK = textwrap.dedent('''
    import os
    import signal

    from mmengine.hooks import Hook

    from ms_rcnn.registry import HOOKS


    @HOOKS.register_module()
    class KillAtIterHook(Hook):
        priority = 'LOW'

        def __init__(self, at):
            self.at = at

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            if runner.iter + 1 == self.at:
                os.kill(os.getpid(), signal.SIGKILL)
''')


def _train_tool():
    spec = importlib.util.spec_from_file_location('train_tool',
                                                  ROOT / 'tools' / 'train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize('by_epoch', [True, False],
                         ids=['epoch-based', 'iteration-based'])
def test_kill_then_resume_gives_the_same_losses(tiny_shapes, tmp_path,
                                                monkeypatch, by_epoch):
    """Epoch-based as the shipped configs train: 2 epochs of 2 iterations
    (batches of 4), validated after each epoch, killed after iteration 4
    before its checkpoint; iteration-based: 4 iterations of one image, a
    checkpoint every 2, no validation."""
    work_dir = tmp_path / 'work'
    (tmp_path / 'kill_hook.py').write_text(KILL_HOOK)
    if by_epoch:
        cfg = tiny_cfg(tiny_shapes, work_dir, batch_size=4, max_epochs=2)
        saved = 'epoch_1.pth'
    else:
        cfg = tiny_cfg(tiny_shapes, work_dir, max_iters=4, ckpt_interval=2)
        saved = 'iter_2.pth'
    cfg.custom_imports = dict(imports=['kill_hook'])
    cfg.custom_hooks = [dict(type='KillAtIterHook', at=4)]
    config = str(tmp_path / 'cfg.py')
    cfg.dump(config)
    env = dict(os.environ, PYTHONPATH=f'{tmp_path}{os.pathsep}{ROOT}')
    proc = subprocess.run(
        [sys.executable,
         str(ROOT / 'tools' / 'train.py'), config],
        env=env,
        cwd=str(tmp_path),
        capture_output=True,
        text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    # Iterations 1-4 ran uninterrupted; only the checkpoint of iteration 2
    # (epoch 1) was saved.
    uninterrupted = read_losses(work_dir)
    assert sorted(uninterrupted) == [1, 2, 3, 4]
    assert sorted(p.name for p in work_dir.glob('*.pth*')) == [saved]
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir /
                                                             saved)
    ckpt = torch.load(work_dir / saved, weights_only=False)
    assert ckpt['meta']['iter'] == 2 and 'rng_state' in ckpt
    if by_epoch:  # the validation after epoch 1 ran
        log = next(work_dir.glob('*/*.log')).read_text()
        assert 'Epoch(val) [1][1/1]' in log

    # Resume in this process, without the kill hook (Config.fromfile
    # imports custom_imports before --cfg-options apply).
    monkeypatch.syspath_prepend(str(tmp_path))
    for run in work_dir.glob('2*'):  # keep only the resumed run's logs
        run.rename(tmp_path / ('killed_' + run.name))
    _train_tool().main([
        config, '--resume', '--cfg-options', 'custom_hooks=[]',
        'custom_imports.imports=[]', 'experiment_name=resumed_after_kill'
    ])
    resumed = read_losses(work_dir)
    assert sorted(resumed) == [3, 4]
    assert resumed == {k: uninterrupted[k] for k in (3, 4)}
    assert sorted(p.name for p in work_dir.glob('*.pth*')) == [
        'epoch_2.pth' if by_epoch else 'iter_4.pth'
    ]
