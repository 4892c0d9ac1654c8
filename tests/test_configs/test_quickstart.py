"""The quick-start twins: same model but the MaskIoU head, and MS R-CNN
training under mmdet's RandAugment (mmdet issue #11527)."""
import copy
import math
from types import SimpleNamespace

import pytest
import torch
from mmdet.models import MaskRCNN as MMDetMaskRCNN
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed
from ms_rcnn_testing import make_batch, predict

from ms_rcnn.data_preparation.shapes import CLASSES, generate_shapes_dataset
from ms_rcnn.models.detectors.mask_scoring_rcnn import MaskScoringRCNN
from ms_rcnn.models.roi_heads import MasknessRoIHead, MaskScoringRoIHead
from ms_rcnn.models.roi_heads.mask_heads.maskiou_head import MaskIoUHead
from ms_rcnn.registry import DATASETS, HOOKS, MODELS, PARAM_SCHEDULERS

MS_CFG = 'configs/quickstart/ms-rcnn_quickstart.py'
MASK_CFG = 'configs/quickstart/mask-rcnn_quickstart.py'
FT_CFG = 'configs/quickstart/ms-rcnn_quickstart_maskiou-ft.py'

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
    # Documented choices: ms_rcnn's scope (no mmdet:: base, whose scope
    # would tag every model dict), the classes that
    # ms_rcnn.data_preparation.shapes writes, in label order, a backbone
    # from scratch (nothing to download) and seed 0 (README.md's rows are
    # the configs as they are, seed 0).
    assert ms.default_scope == mask.default_scope == 'ms_rcnn'
    assert tuple(mask.classes) == CLASSES
    assert mask.model.backbone.init_cfg is None
    assert mask.randomness == dict(seed=0)
    # Everything but the model is the same, data, schedule and seed included.
    outside = {k: v for k, v in ms.to_dict().items() if k != 'model'}
    assert outside == {k: v for k, v in mask.to_dict().items() if k != 'model'}

    # The models too, but for their types (see test_twins_build) and the
    # MaskIoU head with its training threshold.
    model, twin = ms.model.to_dict(), mask.model.to_dict()
    model['roi_head'].pop('mask_iou_head')
    # The MaskIoU targets binarise the masks as the test time does.
    assert model['train_cfg']['rcnn'].pop('mask_thr_binary') == \
        model['test_cfg']['rcnn']['mask_thr_binary']
    for cfg in (model, twin):
        cfg.pop('type')
        cfg['roi_head'].pop('type')
    assert model == twin


def test_maskiou_ft_is_the_ms_rcnn_config_but_the_schedule_and_freezing():
    ms = Config.fromfile(MS_CFG).to_dict()
    ft = Config.fromfile(FT_CFG).to_dict()
    # Freezing (norm_eval, TrainOnlyHook) and the learning rates: by
    # behaviour in the next two tests.
    for cfg in (ms, ft):
        cfg['model']['backbone'].pop('norm_eval')
        cfg['optim_wrapper']['optimizer'].pop('lr')
    changed = ('train_cfg', 'param_scheduler', 'default_hooks',
               'custom_hooks', 'max_epochs')
    assert {k: v for k, v in ft.items() if k not in changed} == \
        {k: v for k, v in ms.items() if k not in changed}
    # 4 more epochs (README.md), evaluated and saved once, at their end,
    # as the first stage is.
    epochs = ft['train_cfg'].pop('max_epochs')
    assert epochs == 4
    assert ft['train_cfg'].pop('val_interval') == epochs == ft[
        'default_hooks']['checkpoint'].pop('interval')
    for key in ('max_epochs', 'val_interval'):
        ms['train_cfg'].pop(key)
    ms['default_hooks']['checkpoint'].pop('interval')
    assert ft['train_cfg'] == ms['train_cfg']
    assert ft['default_hooks'] == ms['default_hooks']
    # The first stage's hooks, and one more.
    assert ft['custom_hooks'][:-1] == ms['custom_hooks']
    assert ft['load_from'] is None  # given with --cfg-options or the tool


def test_maskiou_ft_lr_falls_by_cosine_from_a_quarter_of_the_first():
    ms, ft = Config.fromfile(MS_CFG), Config.fromfile(FT_CFG)
    init_default_scope('ms_rcnn')
    optim_wrapper = build_optim_wrapper(
        torch.nn.Linear(1, 1), ft.optim_wrapper)
    schedulers = [
        PARAM_SCHEDULERS.build(dict(cfg, optimizer=optim_wrapper))
        for cfg in ft.param_scheduler
    ]
    # Stepped as ParamSchedulerHook steps them, over 125 iterations an
    # epoch (1000 images, batches of 8); the rate of each epoch's
    # iterations.
    lrs = []
    for _ in range(ft.train_cfg.max_epochs):
        lrs.append([])
        for _ in range(125):
            lrs[-1].append(optim_wrapper.get_lr()['lr'][0])
            optim_wrapper.step()  # no gradient: moves nothing
            for scheduler in schedulers:
                if not scheduler.by_epoch:
                    scheduler.step()
        for scheduler in schedulers:
            if scheduler.by_epoch:
                scheduler.step()
    # No warm-up: every epoch at one rate, the first at a quarter of the
    # first stage's; then a cosine whose minimum, 1 % of it, would come
    # at the end of the 4th epoch: by hand, 0.01 + 0.99 * (1 + cos(pi *
    # epoch / 4)) / 2 of it.
    start = ms.optim_wrapper.optimizer.lr / 4
    assert all(len(set(epoch)) == 1 for epoch in lrs)
    assert [epoch[0] / start for epoch in lrs] == pytest.approx(
        [1, 0.85501786, 0.505, 0.15498214], rel=1e-6)


def test_maskiou_ft_step_changes_the_maskiou_head_alone():
    torch.manual_seed(0)
    first = build_model(Config.fromfile(MS_CFG))
    first.init_weights()
    ft_cfg = Config.fromfile(FT_CFG)
    model = build_model(ft_cfg)
    # The first stage's weights loaded, and the config's hooks told so,
    # as the Runner does before training.
    checkpoint = dict(state_dict=copy.deepcopy(first.state_dict()))
    model.load_state_dict(checkpoint['state_dict'])
    runner = SimpleNamespace(
        model=model, iter=0, logger=MMLogger.get_current_instance())
    for hook_cfg in ft_cfg.custom_hooks:
        hook = HOOKS.build(hook_cfg)
        hook.after_load_checkpoint(runner, checkpoint)
        hook.before_train(runner)
    optim_wrapper = build_optim_wrapper(model, ft_cfg.optim_wrapper)
    batch = make_batch(seed=4)
    batch['data_samples'][0].gt_instances.labels %= len(CLASSES)
    model.train()
    torch.manual_seed(0)
    log_vars = model.train_step(batch, optim_wrapper)
    assert log_vars['loss_mask_iou'] > 0
    # The MaskIoU head moved; every other parameter and the backbone's
    # BatchNorm statistics (norm_eval) are the first stage's, hence its
    # boxes and masks too.
    loaded, after = checkpoint['state_dict'], model.state_dict()
    assert any('running_mean' in k for k in loaded)
    changed = {k for k in loaded if not torch.equal(loaded[k], after[k])}
    head = {k for k in loaded if k.startswith('roi_head.mask_iou_head.')}
    assert changed == head


def test_twins_build_our_classes_and_differ_by_the_maskiou_parameters():
    ms = build_model(Config.fromfile(MS_CFG))
    mask = build_model(Config.fromfile(MASK_CFG))
    # ms_rcnn's classes, not mmdet's namesakes; the twin is mmdet's Mask
    # R-CNN with ms_rcnn's RoI head, whose predictions add maskness.
    assert type(ms) is MaskScoringRCNN
    assert type(ms.roi_head) is MaskScoringRoIHead
    assert type(ms.roi_head.mask_iou_head) is MaskIoUHead
    assert type(mask) is MMDetMaskRCNN
    assert type(mask.roi_head) is MasknessRoIHead
    # The shapes dataset's classes (and the background).
    assert mask.roi_head.bbox_head.fc_cls.out_features == len(CLASSES) + 1
    assert mask.roi_head.mask_head.conv_logits.out_channels == len(CLASSES)

    def num_params(m):
        return sum(p.numel() for p in m.parameters())

    # The only extra parameters: 2 convs (65 or 64 -> 64 channels, 3x3),
    # fcs 64*7*7 -> 256 -> 256 and the regressor 256 -> 3.
    convs = (65 * 64 * 9 + 64) + (64 * 64 * 9 + 64)
    fcs = (64 * 7 * 7 * 256 + 256) + (256 * 256 + 256) + (256 * 3 + 3)
    assert num_params(ms.roi_head.mask_iou_head) == convs + fcs
    assert num_params(ms) - num_params(mask) == convs + fcs


def test_twins_with_the_same_weights_detect_the_same_instances():
    torch.manual_seed(0)
    ms = build_model(Config.fromfile(MS_CFG))
    mask = build_model(Config.fromfile(MASK_CFG))
    # The twin's weights are MS R-CNN's without its MaskIoU head, key for
    # key (strict loading).
    mask.load_state_dict({
        k: v
        for k, v in ms.state_dict().items()
        if not k.startswith('roi_head.mask_iou_head.')
    })
    batch = make_batch(seed=1)
    mine, theirs = predict(ms, batch), predict(mask, batch)
    assert len(mine) == len(theirs) == 100
    for key in ('bboxes', 'labels', 'scores', 'masks', 'maskness'):
        assert torch.equal(mine.get(key), theirs.get(key)), key
    # MS R-CNN adds the MaskIoU head's score, read from the mask branch's
    # RoI features and masks.
    assert 'mask_scores' not in theirs
    assert ((mine.mask_scores >= 0) & (mine.mask_scores <= mine.scores)).all()
    assert not torch.equal(mine.mask_scores, mine.scores)


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
    # Regression guard of the same numbers (the MaskIoU loss's targets are
    # computed by hand in test_scored_rois.py).
    first = {k: steps[0][k] for k in FIRST_STEP_LOSSES}
    assert first == pytest.approx(FIRST_STEP_LOSSES, rel=1e-3, abs=1e-5)
    assert torch.isfinite(
        torch.cat([p.flatten() for p in model.parameters()])).all()
