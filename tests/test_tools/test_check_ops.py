"""tools/misc/check_ops.py: passes with real ops, names a broken one; and
tools/setup_env.sh stops at a failed check."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import mmcv.ops
import pytest
import torch

SCRIPT = Path(__file__).parents[2] / 'tools' / 'misc' / 'check_ops.py'
spec = importlib.util.spec_from_file_location('check_ops', SCRIPT)
check_ops = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_ops)


def test_real_ops_pass():
    assert check_ops.check_ops('cpu') == ['roi_align (cpu)', 'nms (cpu)']
    result = subprocess.run([sys.executable, str(SCRIPT)],
                            capture_output=True,
                            text=True)
    assert result.returncode == 0
    assert 'mmcv ops OK: roi_align (cpu), nms (cpu)' in result.stdout


def test_wrong_roi_align_is_reported(monkeypatch):
    monkeypatch.setattr(mmcv.ops, 'roi_align',
                        lambda feat, rois, *args: torch.zeros(1, 1, 2, 2))
    with pytest.raises(RuntimeError, match='roi_align gave'):
        check_ops.check_ops('cpu')


def test_wrong_nms_is_reported(monkeypatch):
    monkeypatch.setattr(
        mmcv.ops, 'nms', lambda boxes, scores, iou_threshold:
        (boxes, torch.arange(len(boxes))))
    with pytest.raises(RuntimeError, match=r'nms kept \[0, 1, 2\]'):
        check_ops.check_ops('cpu')


FAKE_PYTHON = '''#!/usr/bin/env bash
# Stands for an environment's python in tools/setup_env.sh: everything
# succeeds and installs nothing, except the ops check.
case "$*" in
    *check_ops.py*) echo 'mmcv ops check failed: RuntimeError: no ops' >&2
                    exit 1 ;;
    *purelib*) echo "$(dirname "$0")/../site" ;;
esac
'''


def test_setup_env_stops_at_broken_ops_and_installs_again(tmp_path):
    env_dir = tmp_path / 'env'
    (env_dir / 'bin').mkdir(parents=True)
    (env_dir / 'site' / 'ms_rcnn-0.dist-info').mkdir(parents=True)
    (env_dir / 'site' / 'ms_rcnn-0.dist-info' / 'RECORD').write_text('')
    python = env_dir / 'bin' / 'python'
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    setup = str(SCRIPT.parents[1] / 'setup_env.sh')
    for _ in range(2):
        result = subprocess.run(['bash', setup],
                                env=dict(os.environ, VENV=str(env_dir)),
                                capture_output=True, text=True)
        assert result.returncode == 1
        # It names the package to remove, in that environment (not the
        # environment itself, which may be the user's own)...
        assert result.stderr.splitlines()[-1] == (
            f"[setup_env] ERROR: mmcv is installed without working ops "
            f"(above); remove it with '{python} -m pip uninstall -y mmcv' "
            'and run again (with nvcc on the PATH for CUDA ops)')
        # ...and the next run installs again: no stamp says it is done.
        assert '[setup_env] keeping torch' in result.stdout
        assert 'up to date' not in result.stdout
        assert not (env_dir / '.ms_rcnn-setup').exists()
