"""Fixtures shared by the tests (helpers are in ms_rcnn_testing.py)."""
import copy

import pytest
import torch
from ms_rcnn_testing import build_mmdet_model, build_our_model

from ms_rcnn.datasets.shapes import generate_shapes_dataset


@pytest.fixture(scope='module')
def mmdet_model():
    torch.manual_seed(0)
    # score_thr 0 keeps 100 detections from random weights.
    return build_mmdet_model(score_thr=0.0).eval()


@pytest.fixture(scope='module')
def our_model(mmdet_model):
    return build_our_model(
        copy.deepcopy(mmdet_model.state_dict()),
        test_cfg=dict(score_thr=0.0)).eval()


@pytest.fixture(scope='session')
def tiny_shapes(tmp_path_factory):
    """8 training and 2 validation images of 128x128."""
    root = tmp_path_factory.mktemp('shapes')
    return generate_shapes_dataset(str(root), seed=3, num_train=8, num_val=2)
