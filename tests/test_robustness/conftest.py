"""Fixtures: tiny shapes data and a log capture."""
import logging

import pytest
from mmengine.logging import MMLogger

from ms_rcnn.datasets.shapes import generate_shapes_dataset


@pytest.fixture(scope='session')
def tiny_shapes(tmp_path_factory):
    """8 training and 2 validation images of 128x128."""
    root = tmp_path_factory.mktemp('shapes')
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
