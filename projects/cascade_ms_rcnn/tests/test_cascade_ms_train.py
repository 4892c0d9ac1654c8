"""A few training steps of the quick-start cascades on tiny generated data,
then prediction with mask scores."""
import math

import pytest
import torch
from cascade_ms_testing import load_cfg
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed

from ms_rcnn.registry import DATASETS, MODELS


# Losses of the first step below (seed 0, images 0-3 of tiny_shapes), on
# CPU: the total, each stage's classification and mask loss, and the MaskIoU
# loss of the last stage.
FIRST_STEP_LOSSES = {
    'cascade-ms-rcnn_quickstart.py':
    dict(
        loss=5.520158,
        **{
            's0.loss_cls': 2.034789,
            's0.loss_mask': 0.727766,
            's1.loss_cls': 0.855465,
            's1.loss_mask': 0.344695,
            's2.loss_cls': 0.425558,
            's2.loss_mask': 0.171308,
            's2.loss_mask_iou': 0.020979
        }),
    'htc-ms_quickstart.py':
    dict(
        loss=5.343843,
        **{
            's0.loss_cls': 1.824469,
            's0.loss_mask': 0.712212,
            's1.loss_cls': 0.896543,
            's1.loss_mask': 0.347281,
            's2.loss_cls': 0.456846,
            's2.loss_mask': 0.177069,
            's2.loss_mask_iou': 0.010498
        }),
}


@pytest.mark.slow
@pytest.mark.parametrize('name', list(FIRST_STEP_LOSSES))
def test_trains_and_predicts_mask_scores(name, tiny_shapes):
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
    iou_head_before = [
        p.detach().clone() for p in model.roi_head.mask_iou_head.parameters()
    ]
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    steps = []
    for step in range(3):
        batch = pseudo_collate([train_set[4 * step % 8 + i] for i in range(4)])
        log_vars = model.train_step(batch, optim_wrapper)
        steps.append({k: float(v) for k, v in log_vars.items()})
    golden = FIRST_STEP_LOSSES[name]
    assert {k: steps[0][k] for k in golden} == pytest.approx(
        golden, rel=1e-3, abs=1e-5)
    for log_vars in steps:
        # Three stages of box and mask losses, the MaskIoU loss in the last.
        assert {f's{s}.loss_mask' for s in range(3)} <= set(log_vars)
        assert 's2.loss_mask_iou' in log_vars
        assert all(math.isfinite(v) for v in log_vars.values()), log_vars
    assert any(log_vars['s2.loss_mask_iou'] > 0 for log_vars in steps)
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
