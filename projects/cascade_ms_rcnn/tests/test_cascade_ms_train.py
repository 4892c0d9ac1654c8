"""A few training steps of the quick-start cascades on tiny generated data,
then prediction with mask scores."""
import math

import numpy as np
import pytest
import torch
from cascade_ms_testing import load_cfg, mmdet_twin
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed
from ms_rcnn_testing import losses

from ms_rcnn.registry import DATASETS, MODELS


# Losses of the first step below (seed 0, images 0-3 of tiny_shapes), on
# CPU: a regression guard. The same test checks each number independently
# on the same step: 's{s}.loss_cls' and 's{s}.loss_mask' equal those of
# mmdet's twin with the same weights; 'loss_mask_iou' equals 0.5 x the mean
# squared error of the MaskIoU head's predictions and the targets of mmdet's
# MaskIoUHead for the same masks on the last stage's sampled positives;
# 'loss' is the twin's total plus 'loss_mask_iou'.
FIRST_STEP_LOSSES = {
    'cascade-ms-rcnn_quickstart.py':
    dict(
        loss=4.963152,
        **{
            's0.loss_cls': 1.324276,
            's0.loss_mask': 0.698561,
            's1.loss_cls': 0.684882,
            's1.loss_mask': 0.349312,
            's2.loss_cls': 0.370397,
            's2.loss_mask': 0.173045,
            'loss_mask_iou': 0.060135
        }),
    'htc-ms_quickstart.py':
    dict(
        loss=5.090073,
        **{
            's0.loss_cls': 1.406287,
            's0.loss_mask': 0.699087,
            's1.loss_cls': 0.66848,
            's1.loss_mask': 0.345828,
            's2.loss_cls': 0.35586,
            's2.loss_mask': 0.172185,
            'loss_mask_iou': 0.129834
        }),
}


def _record_maskiou_loss_inputs(roi_head, monkeypatch):
    """Per call of the MaskIoU loss: the arguments of
    ``mask_iou_head.loss_and_target`` and the sampling results that
    ``roi_head.mask_iou_loss`` was given (the last stage's)."""
    calls = []
    head = roi_head.mask_iou_head
    loss_and_target, mask_iou_loss = head.loss_and_target, \
        roi_head.mask_iou_loss

    def recording_mask_iou_loss(x, sampling_results, *args, **kwargs):
        calls.append(dict(sampling_results=sampling_results))
        return mask_iou_loss(x, sampling_results, *args, **kwargs)

    def recording_loss_and_target(*args):
        calls[-1]['args'] = [
            a.detach() if torch.is_tensor(a) else a for a in args
        ]
        return loss_and_target(*args)

    monkeypatch.setattr(roi_head, 'mask_iou_loss', recording_mask_iou_loss)
    monkeypatch.setattr(head, 'loss_and_target', recording_loss_and_target)
    return calls


def _mmdet_maskiou_loss(mask_head, sampling_results, iou_pred, mask_logits,
                        _, __, gt_instances, train_cfg):
    """MS R-CNN's loss, 0.5 x the mean squared error over the targets above
    0, with mmdet's targets on the last stage's positives: its mask head's
    mask targets and its MaskIoUHead's IoU targets (given probabilities,
    so that it thresholds them as the configs' mask_thr_binary means)."""
    from mmdet.registry import MODELS as MMDET_MODELS
    head = MMDET_MODELS.build(dict(type='mmdet.MaskIoUHead', num_classes=3))
    mask_targets = mask_head.get_targets(sampling_results, gt_instances,
                                         train_cfg)
    targets = head.get_targets(sampling_results, gt_instances,
                               mask_logits.sigmoid(), mask_targets, train_cfg)
    pos = targets > 0
    assert pos.any()
    return 0.5 * float(((iou_pred[pos] - targets[pos])**2).mean())


@pytest.mark.slow
@pytest.mark.parametrize('name', list(FIRST_STEP_LOSSES))
def test_trains_and_predicts_mask_scores(name, tiny_shapes, monkeypatch):
    cfg = load_cfg(name)
    cfg.train_dataloader.dataset.data_root = tiny_shapes['data_root']
    cfg.val_dataloader.dataset.data_root = tiny_shapes['data_root']
    init_default_scope('ms_rcnn')
    train_set = DATASETS.build(cfg.train_dataloader.dataset)
    val_set = DATASETS.build(cfg.val_dataloader.dataset)
    assert (len(train_set), len(val_set)) == (8, 2)

    set_random_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    twin = mmdet_twin(model, name)
    init_default_scope('ms_rcnn')
    iou_head_before = [
        p.detach().clone() for p in model.roi_head.mask_iou_head.parameters()
    ]
    calls = _record_maskiou_loss_inputs(model.roi_head, monkeypatch)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    batches = [
        pseudo_collate([train_set[4 * step % 8 + i] for i in range(4)])
        for step in range(3)
    ]
    # The twin's losses on the first batch, drawing the same samples.
    _, ref = twin.parse_losses(losses(twin, batches[0], seed=0))
    ref = {k: float(v) for k, v in ref.items()}
    model.train()
    torch.manual_seed(0)
    np.random.seed(0)
    steps = [{
        k: float(v)
        for k, v in model.train_step(batch, optim_wrapper).items()
    } for batch in batches]

    first = steps[0]
    assert set(first) - set(ref) == {'loss_mask_iou'}
    mmdet_keys = [k for k in ref if k != 'loss']
    assert {k: first[k] for k in mmdet_keys} == {k: ref[k] for k in mmdet_keys}
    # rel: mmdet does not clamp a perfect mask's target (1 + 1e-7) to 1.
    assert first['loss_mask_iou'] == pytest.approx(
        _mmdet_maskiou_loss(model.roi_head.mask_head[-1],
                            calls[0]['sampling_results'], *calls[0]['args']),
        rel=1e-6)
    assert first['loss'] == pytest.approx(
        ref['loss'] + first['loss_mask_iou'], rel=1e-6)
    golden = FIRST_STEP_LOSSES[name]
    assert {k: first[k] for k in golden} == pytest.approx(
        golden, rel=1e-3, abs=1e-5)

    for log_vars in steps:
        # Three stages of box and mask losses, and the MaskIoU loss.
        assert {f's{s}.loss_mask' for s in range(3)} <= set(log_vars)
        assert 'loss_mask_iou' in log_vars
        assert all(math.isfinite(v) for v in log_vars.values()), log_vars
    assert any(log_vars['loss_mask_iou'] > 0 for log_vars in steps)
    # The MaskIoU head learned.
    assert any(not torch.equal(a, b) for a, b in zip(
        iou_head_before, model.roi_head.mask_iou_head.parameters()))

    model.eval()
    model.roi_head.test_cfg.score_thr = 0.0
    with torch.no_grad():
        samples = model.test_step(pseudo_collate([val_set[0], val_set[1]]))
    for sample in samples:
        pred = sample.pred_instances
        assert len(pred) > 0
        assert pred.masks.shape[1:] == (128, 128)
        assert torch.isfinite(pred.mask_scores).all()
        assert ((pred.mask_scores >= 0) &
                (pred.mask_scores <= pred.scores)).all()
