"""Helpers shared by the tests: MS R-CNN models built by mmdet and by
ms_rcnn, a synthetic batch, overrides that shrink the quick start, and the
fixtures that conftest files import (``tiny_shapes``, ``log_records``)."""
import logging

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from ms_rcnn.data_preparation.shapes import generate_shapes_dataset
from ms_rcnn.registry import MODELS

MMDET_CFG = 'mmdet::ms_rcnn/ms-rcnn_r50_fpn_1x_coco.py'
OUR_CFG = 'configs/ms_rcnn/ms-rcnn_r50_fpn_1x_coco.py'


def build_mmdet_model(**test_cfg):
    """mmdet's own MS R-CNN, randomly initialised (no download)."""
    cfg = get_config(MMDET_CFG).model
    cfg.backbone.init_cfg = None
    cfg.test_cfg.rcnn.update(test_cfg)
    init_default_scope('mmdet')
    from mmdet.registry import MODELS as MMDET_MODELS
    return MMDET_MODELS.build(cfg)


def build_our_model(state_dict=None,
                    cfg_path=OUR_CFG,
                    test_cfg=None,
                    **mask_iou_head):
    cfg = Config.fromfile(cfg_path).model
    cfg.backbone.init_cfg = None
    cfg.test_cfg.rcnn.update(test_cfg or {})
    cfg.roi_head.mask_iou_head.update(mask_iou_head)
    init_default_scope('ms_rcnn')
    model = MODELS.build(cfg)
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=True)
    return model


def make_batch(seed=0, size=(96, 128), num_gts=3, with_gt=True):
    """One image with rectangle and disc instances, as a data_preprocessor
    input dict."""
    rng = np.random.RandomState(seed)
    height, width = size
    img = torch.from_numpy(rng.randint(0, 255, (3, height, width))).float()
    sample = DetDataSample()
    sample.set_metainfo(
        dict(
            img_id=seed,
            img_shape=size,
            ori_shape=size,
            scale_factor=(1., 1.),
            pad_shape=size,
            batch_input_shape=size))
    masks = np.zeros((num_gts if with_gt else 0, height, width), np.uint8)
    boxes = []
    yy, xx = np.mgrid[:height, :width]
    for i in range(len(masks)):
        x1, y1 = rng.randint(0, width // 2), rng.randint(0, height // 2)
        w, h = rng.randint(16, width // 2), rng.randint(16, height // 2)
        if i % 2:
            masks[i, y1:y1 + h, x1:x1 + w] = 1
        else:
            cx, cy, r = x1 + w / 2, y1 + h / 2, min(w, h) / 2
            masks[i] = (xx - cx)**2 + (yy - cy)**2 <= r * r
        ys, xs = np.nonzero(masks[i])
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    gt = InstanceData()
    gt.bboxes = torch.tensor(boxes, dtype=torch.float32).view(-1, 4)
    gt.labels = torch.from_numpy(rng.randint(0, 80, len(masks))).long()
    gt.masks = BitmapMasks(masks, height, width)
    sample.gt_instances = gt
    return dict(inputs=[img], data_samples=[sample])


def tiny_cfg_options(data, work_dir):
    """--cfg-options that point the quick-start config at ``data`` and train
    one epoch with batches of 2 (4 iterations on one process)."""
    root = data['data_root'] + '/'
    val_ann = data['val_ann']
    return [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        'train_dataloader.batch_size=2',
        f'val_evaluator.0.ann_file={val_ann}',
        f'val_evaluator.1.ann_file={val_ann}',
        f'test_evaluator.0.ann_file={val_ann}',
        f'test_evaluator.1.ann_file={val_ann}',
        'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1',
        'param_scheduler=[]',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1',
        f'work_dir={work_dir}',
    ]


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
