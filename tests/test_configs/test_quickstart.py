"""The quick-start twins: same model but the MaskIoU head, and MS R-CNN
training under mmdet's RandAugment (mmdet issue #11527)."""
import copy
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed

from ms_rcnn.data_preparation.shapes import CLASSES, generate_shapes_dataset
from ms_rcnn.models.detectors.mask_scoring_rcnn import MaskScoringRCNN
from ms_rcnn.models.roi_heads.mask_heads.maskiou_head import MaskIoUHead
from ms_rcnn.registry import DATASETS, MODELS

MS_CFG = 'configs/quickstart/ms-rcnn_quickstart.py'
MASK_CFG = 'configs/quickstart/mask-rcnn_quickstart.py'

# Losses of the first step below (seed 0, 8 images, RandAugment), on CPU.
FIRST_STEP_LOSSES = dict(
    loss_rpn_cls=0.694194,
    loss_rpn_bbox=0.012483,
    loss_cls=1.425858,
    loss_bbox=0.256003,
    loss_mask=0.980545,
    loss_mask_iou=0.032691)


def build_model(cfg):
    init_default_scope('ms_rcnn')
    return MODELS.build(cfg.model)


def test_twins_differ_only_in_the_maskiou_head():
    ms, mask = Config.fromfile(MS_CFG), Config.fromfile(MASK_CFG)
    assert ms.default_scope == mask.default_scope == 'ms_rcnn'
    assert tuple(mask.classes) == CLASSES
    assert mask.model.roi_head.bbox_head.num_classes == len(CLASSES)
    assert mask.model.backbone.init_cfg is None  # trained from scratch
    assert mask.randomness == dict(seed=0)
    # Everything but the model is the same, data, schedule and seed included.
    outside = {k: v for k, v in ms.to_dict().items() if k != 'model'}
    assert outside == {k: v for k, v in mask.to_dict().items() if k != 'model'}

    model = copy.deepcopy(ms.model.to_dict())
    iou_head = model['roi_head'].pop('mask_iou_head')
    assert model['train_cfg']['rcnn'].pop('mask_thr_binary') == 0.5
    assert (model.pop('type'),
            model['roi_head'].pop('type')) == ('MaskScoringRCNN',
                                               'MaskScoringRoIHead')
    twin = mask.model.to_dict()
    assert (twin.pop('type'),
            twin['roi_head'].pop('type')) == ('MaskRCNN', 'StandardRoIHead')
    assert model == twin
    # The MaskIoU head reads the mask branch's RoI features.
    roi = mask.model.roi_head.mask_roi_extractor
    assert iou_head['roi_feat_size'] == roi.roi_layer.output_size == 14
    assert iou_head['in_channels'] == roi.out_channels == 64
    assert iou_head['num_classes'] == len(CLASSES)


def test_maskiou_ft_is_the_ms_rcnn_config_but_the_schedule_and_freezing():
    ms = Config.fromfile(MS_CFG).to_dict()
    ft = Config.fromfile(
        'configs/quickstart/ms-rcnn_quickstart_maskiou-ft.py').to_dict()
    assert ft['model']['backbone'].pop('norm_eval') is True
    assert ms['model']['backbone'].pop('norm_eval') is False
    changed = ('train_cfg', 'param_scheduler', 'optim_wrapper',
               'default_hooks', 'custom_hooks', 'max_epochs')
    assert {k: v for k, v in ft.items() if k not in changed} == \
        {k: v for k, v in ms.items() if k not in changed}
    assert ft['train_cfg'] == dict(ms['train_cfg'], max_epochs=4,
                                   val_interval=4)
    assert ft['optim_wrapper'] == dict(
        ms['optim_wrapper'],
        optimizer=dict(ms['optim_wrapper']['optimizer'], lr=1e-3))
    # No warm-up; the first stage's cosine to 1 %, over the 4 epochs.
    warmup, cosine = ms['param_scheduler']
    assert warmup['type'] == 'LinearLR'
    assert ft['param_scheduler'] == [dict(cosine, end=4, T_max=4)]
    assert cosine['eta_min_ratio'] == 0.01 and cosine['begin'] == 0
    assert ft['default_hooks'] == dict(
        ms['default_hooks'],
        checkpoint=dict(ms['default_hooks']['checkpoint'], interval=4))
    assert ft['custom_hooks'] == ms['custom_hooks'] + [
        dict(type='TrainOnlyHook', prefixes=['roi_head.mask_iou_head'])
    ]
    assert ft['load_from'] is None  # given with --cfg-options or the tool


def test_twins_build():
    ms = build_model(Config.fromfile(MS_CFG))
    mask = build_model(Config.fromfile(MASK_CFG))
    # ms_rcnn's classes, not mmdet's namesakes.
    assert isinstance(ms, MaskScoringRCNN)
    assert isinstance(ms.roi_head.mask_iou_head, MaskIoUHead)
    assert type(mask).__name__ == 'MaskRCNN'

    def num_params(m):
        return sum(p.numel() for p in m.parameters())

    # The only extra parameters: 2 convs (65 or 64 -> 64 channels, 3x3),
    # fcs 64*7*7 -> 256 -> 256 and the regressor 256 -> 3.
    convs = (65 * 64 * 9 + 64) + (64 * 64 * 9 + 64)
    fcs = (64 * 7 * 7 * 256 + 256) + (256 * 256 + 256) + (256 * 3 + 3)
    assert num_params(ms.roi_head.mask_iou_head) == convs + fcs
    assert num_params(ms) - num_params(mask) == convs + fcs


@pytest.mark.slow
def test_ms_rcnn_trains_with_randaugment(tmp_path):
    generate_shapes_dataset(str(tmp_path), seed=0, num_train=8, num_val=1)
    cfg = Config.fromfile(MS_CFG)
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.data_root = str(tmp_path)
    # The pipeline of the issue: RandAugment's default space, two random
    # ops per image. With seed 0, 9 of the 24 ops drawn below are
    # rotations, shears or translations, which move and cut the masks.
    dataset_cfg.pipeline.insert(-1, dict(type='RandAugment'))
    init_default_scope('ms_rcnn')
    dataset = DATASETS.build(dataset_cfg)
    assert len(dataset) == 8

    set_random_seed(0)
    # Three steps of 4 images (each image drawn 1.5 times, augmented anew).
    batches = [
        pseudo_collate([dataset[(4 * step + i) % 8] for i in range(4)])
        for step in range(3)
    ]
    set_random_seed(0)
    model = build_model(cfg)
    model.init_weights()
    # The Mask R-CNN twin with the same weights: every loss but the MaskIoU
    # head's must be mmdet's, on the same batch and random samples.
    twin_cfg = Config.fromfile(MASK_CFG)
    twin = build_model(twin_cfg)
    twin.load_state_dict({
        k: v
        for k, v in model.state_dict().items()
        if not k.startswith('roi_head.mask_iou_head.')
    })
    twin.train()
    torch.manual_seed(0)
    twin_losses = twin.parse_losses(
        twin(**twin.data_preprocessor(copy.deepcopy(batches[0]), True),
             mode='loss'))[1]
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    torch.manual_seed(0)
    steps = []
    for batch in batches:
        log_vars = model.train_step(batch, optim_wrapper)
        steps.append({k: float(v) for k, v in log_vars.items()})
    for log_vars in steps:
        assert 'loss_mask_iou' in log_vars
        assert all(math.isfinite(v) for v in log_vars.values()), log_vars
    shared = [k for k in twin_losses if k != 'loss']
    assert {k: steps[0][k] for k in shared} == pytest.approx(
        {k: float(twin_losses[k]) for k in shared}, rel=1e-6)
    # Regression guard of the same numbers (the MaskIoU loss's targets and
    # weighting are computed by hand in test_scored_rois.py).
    first = {k: steps[0][k] for k in FIRST_STEP_LOSSES}
    assert first == pytest.approx(FIRST_STEP_LOSSES, rel=1e-3, abs=1e-5)
    assert torch.isfinite(
        torch.cat([p.flatten() for p in model.parameters()])).all()
