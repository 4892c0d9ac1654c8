"""The quick-start MS R-CNN with the study's detached MaskIoU head: its
losses and gradients against those of its Mask R-CNN twin (moved from the
core's test_mask_scoring_rcnn.py with ``detach_inputs``)."""
import copy

import pytest
import torch
from mmengine.config import Config
from ms_rcnn_testing import losses, make_batch
from study_testing import ROOT, build_study

from ms_rcnn.registry import MODELS

TWIN = ROOT / 'configs' / 'quickstart' / 'mask-rcnn_quickstart.py'
HEAD = 'roi_head.mask_iou_head.'


def _build(**mask_iou_head):
    return build_study(init=True, **mask_iou_head)


def _twin(model):
    """The Mask R-CNN twin (mmdet's MaskRCNN) with ``model``'s weights."""
    twin = MODELS.build(Config.fromfile(str(TWIN)).model)
    state = {
        k: v
        for k, v in model.state_dict().items() if not k.startswith(HEAD)
    }
    twin.load_state_dict(copy.deepcopy(state), strict=True)
    return twin


def _batch(seed=4):
    """One image of 3 instances of the quick start's 3 classes."""
    batch = make_batch(seed=seed)
    gt = batch['data_samples'][0].gt_instances
    gt.labels = gt.labels % 3
    return batch


def _grads(loss, named_params):
    """{name: gradient} of ``loss``, zeros where it does not reach."""
    names, params = zip(*named_params)
    grads = torch.autograd.grad(
        loss, params, retain_graph=True, allow_unused=True)
    return {
        name: torch.zeros_like(p) if g is None else g
        for name, p, g in zip(names, params, grads)
    }


@pytest.mark.parametrize('detach_inputs', [True, False])
def test_detached_maskiou_loss_trains_the_maskiou_head_alone(detach_inputs):
    model = _build(detach_inputs=detach_inputs)
    loss = losses(model, _batch())['loss_mask_iou']
    assert loss > 0
    grads = _grads(loss, model.named_parameters())
    reached = {name for name, g in grads.items() if g.abs().sum() > 0}
    head = {name for name in grads if name.startswith(HEAD)}
    # Each of the MaskIoU head's weights and biases, either way.
    assert head <= reached
    if detach_inputs:
        # Nothing else: backbone, neck, RPN, box head, mask head.
        assert reached == head
    else:
        # Through the predicted mask and the RoI features.
        for part in ('backbone.', 'neck.', 'roi_head.mask_head.'):
            assert any(name.startswith(part) for name in reached), part


@pytest.mark.parametrize('detach_inputs', [True, False])
def test_detached_maskiou_head_trains_the_rest_as_the_mask_rcnn_twin(
        detach_inputs):
    model = _build(detach_inputs=detach_inputs)
    twin = _twin(model)
    batch = _batch(seed=5)
    mine, theirs = losses(model, batch), losses(twin, batch)
    assert set(mine) - set(theirs) == {'loss_mask_iou'}
    for key, value in theirs.items():
        torch.testing.assert_close(mine[key], value, rtol=0, atol=0,
                                   msg=key)
    # The gradient of the whole loss, the MaskIoU loss included, on every
    # weight of the twin.
    mine = _grads(model.parse_losses(mine)[0], (
        (name, p) for name, p in model.named_parameters()
        if not name.startswith(HEAD)))
    theirs = _grads(twin.parse_losses(theirs)[0], twin.named_parameters())
    assert set(mine) == set(theirs)
    differ = [
        name for name in theirs if not torch.equal(mine[name], theirs[name])
    ]
    if detach_inputs:
        assert differ == []
    else:
        assert any(name.startswith('backbone.') for name in differ)
