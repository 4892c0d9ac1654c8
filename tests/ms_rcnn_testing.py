"""Helpers shared by the tests of the package and of its projects: MS R-CNN
models built by mmdet and by ms_rcnn, a synthetic batch, a model's losses
and predictions on it, mmdet's MaskIoU targets, a record of what a text
metric computes on, overrides that shrink the quick start, and the
fixtures that conftest files import (``tiny_shapes``, ``log_records``)."""
import copy
import logging
from types import SimpleNamespace

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


def losses(model, batch, seed=0):
    """The losses of one training forward of ``model`` on ``batch``.

    The RPN and RoI samplers draw random numbers: the same seed gives the
    same samples to two models."""
    model.train()
    torch.manual_seed(seed)
    np.random.seed(seed)
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    return model(**data, mode='loss')


def predict(model, batch):
    """The ``pred_instances`` of the first image of ``batch``, in eval
    mode."""
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(copy.deepcopy(batch), False)
        return model(**data, mode='predict')[0].pred_instances


def mmdet_maskiou_targets(boxes, gt_inds, labels, gt, mask_logits, train_cfg):
    """(n, ) MaskIoU targets of ``boxes``, each paired with instance
    ``gt_inds`` (-1: none) and scored on the class ``labels``, computed by
    mmdet: its mask targets, and its MaskIoUHead's targets (area ratios one
    RoI at a time) given probabilities, which it thresholds at
    ``mask_thr_binary`` as ours do; 0 without an instance or of a class
    other than the instance's.

    Args:
        boxes (Tensor): (n, 4) RoIs of one image.
        gt_inds (Tensor): (n, ) index into ``gt`` of each RoI's instance.
        labels (Tensor): (n, ) class each RoI is scored on.
        gt (InstanceData): The image's instances, with ``labels`` and
            ``masks``.
        mask_logits (Tensor): (n, M, M) logits of the scored masks.
        train_cfg (ConfigDict): The RCNN train config (``mask_size``,
            ``mask_thr_binary``).
    """
    from mmdet.models.roi_heads.mask_heads import MaskIoUHead as MMDetHead
    inds = gt_inds.clamp(min=0)
    mask_targets = torch.from_numpy(
        gt.masks.crop_and_resize(
            boxes.numpy(), (train_cfg.mask_size, ) * 2, inds.numpy(),
            binarize=True).to_ndarray()).float()
    # get_targets does not use the head's layers (nor its num_classes).
    targets = MMDetHead().get_targets(
        [SimpleNamespace(pos_priors=boxes, pos_assigned_gt_inds=inds)], [gt],
        mask_logits.sigmoid(), mask_targets, train_cfg)
    scored = (gt_inds >= 0) & (labels == gt.labels[inds])
    return torch.where(scored, targets, torch.zeros(()))


def spy_on_text_metric(metric):
    """Record what an ``HmeanIoUMetric`` computes on.

    Returns:
        SimpleNamespace: filled while the metric runs: ``results``, the
        per-image results given to ``compute_metrics``; ``predictions``,
        ``(pred, (polygons, scores))`` of each ``_predictions`` call;
        ``polygons``, every predicted polygon.
    """
    seen = SimpleNamespace(results=[], predictions=[], polygons=[])
    compute, predictions = metric.compute_metrics, metric._predictions

    def recording_predictions(pred):
        out = predictions(pred)
        seen.predictions.append((pred, out))
        seen.polygons.extend(out[0])
        return out

    metric.compute_metrics = lambda results: compute(
        seen.results.extend(results) or results)
    metric._predictions = recording_predictions
    return seen


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


def mmdet_box_branch(model, roi_cfg, test_cfg):
    """mmdet's ``StandardRoIHead`` with ``model``'s box branch (the RoI
    extractor and box head of ``roi_cfg``, their weights copied), in eval
    mode, for detections found apart from the code under test."""
    from mmdet.models.roi_heads import StandardRoIHead
    reference = StandardRoIHead(
        bbox_roi_extractor=roi_cfg.bbox_roi_extractor,
        bbox_head=roi_cfg.bbox_head,
        test_cfg=test_cfg)
    reference.load_state_dict({
        k[len('roi_head.'):]: v
        for k, v in model.state_dict().items()
        if k.startswith(('roi_head.bbox_roi_extractor.',
                         'roi_head.bbox_head.'))
    })
    return reference.eval()


def same_class_best_box(boxes, labels, gt):
    """(n, ) index of the instance of ``gt`` of each box's class that its
    box overlaps most, -1 where none of its class overlaps it."""
    from mmdet.structures.bbox import bbox_overlaps
    overlaps = bbox_overlaps(boxes, gt.bboxes)
    overlaps[labels[:, None] != gt.labels[None]] = 0
    best, best_inds = overlaps.max(dim=1)
    return torch.where(best > 0, best_inds, -1)
