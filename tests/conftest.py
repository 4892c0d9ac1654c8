"""Fixtures shared by the tests (helpers are in ms_rcnn_testing.py)."""
import copy

import pytest
import torch
from ms_rcnn_testing import (build_mmdet_model, build_our_model,  # noqa: F401
                             log_records, tiny_shapes)


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
