"""Helpers of the project's tests: the quick-start cascades built by mmdet
and by this project on identical weights, and batches of their classes.
Losses, predictions and mmdet's MaskIoU targets: the core's
``ms_rcnn_testing``."""
import copy
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from ms_rcnn_testing import make_batch

import projects.cascade_ms_rcnn.cascade_ms_rcnn  # noqa: F401  (registers)
from ms_rcnn.registry import MODELS

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'
# Our quick-start config -> its twin without the MaskIoU head, which uses
# mmdet's classes only.
TWINS = {
    'cascade-ms-rcnn_quickstart.py': 'cascade-mask-rcnn_quickstart.py',
    'htc-ms_quickstart.py': 'htc_quickstart.py',
}
NUM_CLASSES = 3


def semantic_heads(num_classes: int) -> dict:
    """mmdet's COCO semantic branch of HTC (htc_r50_fpn_1x_coco) at the
    quick start's width: 64 channels, four FPN levels, fused at stride 8,
    ``num_classes`` stuff classes; the keys of ``roi_head`` to update."""
    return dict(
        semantic_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=64,
            featmap_strides=[8]),
        semantic_head=dict(
            type='FusedSemanticHead',
            num_ins=4,
            fusion_level=1,
            seg_scale_factor=1 / 8,
            num_convs=2,
            in_channels=64,
            conv_out_channels=64,
            num_classes=num_classes,
            loss_seg=dict(
                type='CrossEntropyLoss', ignore_index=255, loss_weight=0.2)))


def load_cfg(name: str) -> Config:
    return Config.fromfile(str(CONFIGS / name))


def _model_cfg(name, score_thr, roi_head):
    cfg = load_cfg(name).model
    # score_thr 0 keeps 100 detections from random weights.
    cfg.test_cfg.rcnn.score_thr = score_thr
    cfg.roi_head.update(roi_head)
    return cfg


def build_ours(name: str, score_thr: float = 0.0, seed: int = 0,
               **roi_head):
    """A model of one of this project's configs, randomly initialised;
    ``roi_head`` updates its RoI head's config."""
    init_default_scope('ms_rcnn')
    torch.manual_seed(seed)
    model = MODELS.build(_model_cfg(name, score_thr, roi_head))
    model.init_weights()
    return model


def build_mmdet(name: str, score_thr: float = 0.0, **roi_head):
    """The mmdet twin of ``name``, built by mmdet's registry."""
    from mmdet.registry import MODELS as MMDET_MODELS
    init_default_scope('mmdet')
    return MMDET_MODELS.build(_model_cfg(TWINS[name], score_thr, roi_head))


def mmdet_twin(ours, name: str, **roi_head):
    """mmdet's twin of config ``name`` (its RoI head updated with
    ``roi_head``) with ``ours``'s weights but the MaskIoU head."""
    theirs = build_mmdet(name, **roi_head)
    state = {
        k: v
        for k, v in ours.state_dict().items()
        if not k.startswith('roi_head.mask_iou_head.')
    }
    theirs.load_state_dict(copy.deepcopy(state), strict=True)
    return theirs


def shapes_batch(seed=0, size=(96, 128), num_gts=3):
    """ms_rcnn_testing's synthetic image, labels among the 5 shapes."""
    batch = make_batch(seed=seed, size=size, num_gts=num_gts)
    gt = batch['data_samples'][0].gt_instances
    gt.labels = gt.labels % NUM_CLASSES
    return batch
