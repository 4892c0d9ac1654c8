"""tools/misc/check_ops.py: passes with real ops, names a broken one."""
import importlib.util
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
