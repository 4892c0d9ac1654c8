"""tools/dist_train.sh: two processes (gloo on CPU) train the quick start."""
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

from ms_rcnn_testing import tiny_cfg_options

ROOT = Path(__file__).parents[2]


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


def test_two_process_training(tiny_shapes, tmp_path):
    work_dir = tmp_path / 'work'
    env = dict(os.environ, PYTHON=sys.executable, PORT=_free_port(),
               OMP_NUM_THREADS='1')
    result = subprocess.run(
        ['bash', str(ROOT / 'tools' / 'dist_train.sh'),
         str(ROOT / 'configs' / 'quickstart' / 'ms-rcnn_quickstart.py'), '2',
         '--cfg-options'] + tiny_cfg_options(tiny_shapes, work_dir),
        capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, (result.stdout[-3000:],
                                    result.stderr[-6000:])
    assert (work_dir / 'epoch_1.pth').is_file()
    # Both ranks trained: 8 images / (2 processes x batch 2) = 2 iterations
    # in the epoch (a single process would take 4).
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'Distributed training: True' in log
    scalars = [
        json.loads(line) for line in next(
            work_dir.glob('*/vis_data/scalars.json')).read_text().splitlines()
    ]
    train = [s for s in scalars if 'loss_mask_iou' in s]
    assert [s['step'] for s in train] == [1, 2]
    assert all(math.isfinite(s['loss']) for s in train)
