"""Helpers of the deploy tests: seeded random quick-start models and their
export (one per session: tracing takes about a minute on 2 cores)."""
import glob
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).parents[2]


def python_output(code):
    """What ``code`` prints, run by a fresh interpreter in the repository
    root (a fresh ``sys.modules`` and registries)."""
    return subprocess.run([sys.executable, '-c', code], cwd=ROOT,
                          capture_output=True, text=True,
                          check=True).stdout


QUICKSTART = ROOT / 'configs' / 'quickstart'


def random_model(name='ms-rcnn_quickstart.py'):
    """A quick-start model with seeded random weights whose detections
    differ clearly in score.

    The box head's classifier starts near zero (std 0.01), which gives
    every RoI nearly the same scores: neighbours in the ranking then differ
    by less than float rounding and PyTorch and onnxruntime may order them
    differently. Larger classifier weights spread the scores; a background
    bias of 3 puts all-zero features (e.g. an all-zero input) below
    ``score_thr`` (softmax 1 / (3 + e^3) = 0.043 < 0.05) while real images
    get detections. The MaskIoU head's output is centred on 0.5.
    """
    from ms_rcnn.deploy import build_model, load_config
    cfg = load_config(str(QUICKSTART / name))
    torch.manual_seed(0)
    model = build_model(cfg)  # init_weights
    torch.manual_seed(1)
    fc_cls = model.roi_head.bbox_head.fc_cls
    fc_cls.weight.data.normal_(0, 0.05)
    fc_cls.bias.data.copy_(torch.tensor([0., 0., 0., 3.]))
    iou_head = getattr(model.roi_head, 'mask_iou_head', None)
    if iou_head is not None:
        iou_head.fc_mask_iou.weight.data.normal_(0, 0.02)
        iou_head.fc_mask_iou.bias.data.fill_(0.5)
    return model


@pytest.fixture(scope='session')
def ms_export(tmp_path_factory):
    """(model, path of its export) of the MS R-CNN quick start."""
    from ms_rcnn.deploy import export_model
    model = random_model()
    path = str(tmp_path_factory.mktemp('deploy') / 'ms-rcnn.onnx')
    export_model(model, path, (128, 128))
    return model, path


@pytest.fixture(scope='session')
def shapes_images(tiny_shapes):
    """The 10 generated 128x128 images."""
    return sorted(glob.glob(tiny_shapes['img_dir'] + '/*.png'))
