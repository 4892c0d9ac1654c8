"""Fixtures of the project's tests (helpers are in cascade_ms_testing.py).

The repository root goes on ``sys.path`` (configs import
``projects.cascade_ms_rcnn.cascade_ms_rcnn``), and so does the core's
``tests/`` directory, for ``ms_rcnn_testing``.
"""
import logging
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
for path in (ROOT, ROOT / 'tests'):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from mmengine.logging import MMLogger  # noqa: E402

from ms_rcnn.datasets.shapes import generate_shapes_dataset  # noqa: E402


@pytest.fixture(scope='session')
def tiny_shapes(tmp_path_factory):
    """8 training and 2 validation images of 128x128."""
    root = tmp_path_factory.mktemp('cascade_shapes')
    return generate_shapes_dataset(str(root), seed=3, num_train=8, num_val=2)


@pytest.fixture
def log_records():
    """Messages logged through mmengine's current logger during a test."""
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
