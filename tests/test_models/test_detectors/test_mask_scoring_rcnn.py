"""MaskScoringRCNN on the quick-start model: its losses against those of
its Mask R-CNN twin (0/255 masks, the MaskIoU loss's gradient; a detached
head: projects/mask_score_study), and checkpoint loading: a strict load
fails on a missing MaskIoU head; old RPN checkpoints load and are reported
as mmengine does.

Lenient loads of Mask R-CNN checkpoints: tests/test_robustness/
test_checkpoint_mismatch.py."""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_state_dict
from ms_rcnn_testing import losses, make_batch

from ms_rcnn.registry import MODELS

QUICKSTART = Path(__file__).parents[3] / 'configs' / 'quickstart'
HEAD = 'roi_head.mask_iou_head.'


def _build(name):
    cfg = Config.fromfile(str(QUICKSTART / name)).model
    init_default_scope('ms_rcnn')
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def _twin(model):
    """The Mask R-CNN twin (mmdet's MaskRCNN) with ``model``'s weights."""
    twin = _build('mask-rcnn_quickstart.py')
    state = {
        k: v
        for k, v in model.state_dict().items() if not k.startswith(HEAD)
    }
    twin.load_state_dict(copy.deepcopy(state), strict=True)
    return twin


def _batch(seed=4, scale=1):
    """One image of 3 instances of the quick start's 3 classes, masks of
    0 and ``scale``."""
    batch = make_batch(seed=seed)
    gt = batch['data_samples'][0].gt_instances
    gt.labels = gt.labels % 3
    gt.masks.masks *= scale
    return batch


def test_0_255_masks_give_the_losses_of_0_1_masks():
    model = _build('ms-rcnn_quickstart.py')
    batch, batch_255 = _batch(), _batch(scale=255)
    assert batch_255['data_samples'][0].gt_instances.masks.masks.max() == 255
    ones, scaled = losses(model, batch), losses(model, batch_255)
    assert ones['loss_mask_iou'] > 0
    assert set(ones) == set(scaled)
    for key, value in ones.items():
        torch.testing.assert_close(scaled[key], value, rtol=0, atol=0,
                                   msg=key)
    # mmdet's Mask R-CNN, which the twin config builds, keeps dilating
    # 0/255 masks: its mask loss differs.
    twin = _twin(model)
    assert losses(twin, batch_255)['loss_mask'] != losses(
        twin, batch)['loss_mask']


def _grads(loss, named_params):
    """{name: gradient} of ``loss``, zeros where it does not reach."""
    names, params = zip(*named_params)
    grads = torch.autograd.grad(
        loss, params, retain_graph=True, allow_unused=True)
    return {
        name: torch.zeros_like(p) if g is None else g
        for name, p, g in zip(names, params, grads)
    }


def test_maskiou_loss_reaches_the_head_and_the_shared_features():
    model = _build('ms-rcnn_quickstart.py')
    loss = losses(model, _batch())['loss_mask_iou']
    assert loss > 0
    grads = _grads(loss, model.named_parameters())
    reached = {name for name, g in grads.items() if g.abs().sum() > 0}
    # Each of the MaskIoU head's weights and biases, and, as in the paper,
    # through the predicted mask and the RoI features, the mask head, the
    # neck and the backbone.
    assert {name for name in grads if name.startswith(HEAD)} <= reached
    for part in ('backbone.', 'neck.', 'roi_head.mask_head.'):
        assert any(name.startswith(part) for name in reached), part


def test_ms_rcnn_has_the_losses_of_the_mask_rcnn_twin_and_its_own():
    model = _build('ms-rcnn_quickstart.py')
    twin = _twin(model)
    batch = _batch(seed=5)
    mine, theirs = losses(model, batch), losses(twin, batch)
    assert set(mine) - set(theirs) == {'loss_mask_iou'}
    for key, value in theirs.items():
        torch.testing.assert_close(mine[key], value, rtol=0, atol=0,
                                   msg=key)
    # The gradient of the whole loss on every weight of the twin: the
    # MaskIoU loss changes the backbone's.
    mine = _grads(model.parse_losses(mine)[0], (
        (name, p) for name, p in model.named_parameters()
        if not name.startswith(HEAD)))
    theirs = _grads(twin.parse_losses(theirs)[0], twin.named_parameters())
    assert set(mine) == set(theirs)
    differ = [
        name for name in theirs if not torch.equal(mine[name], theirs[name])
    ]
    assert any(name.startswith('backbone.') for name in differ)


@pytest.fixture
def model():
    return _build('ms-rcnn_quickstart.py')


def test_strict_load_of_mask_rcnn_weights_names_the_missing_head(model):
    mask_rcnn_state = _build('mask-rcnn_quickstart.py').state_dict()
    head_keys = [k for k in model.state_dict() if k.startswith(HEAD)]
    with pytest.raises(RuntimeError, match='Missing key') as torch_error:
        model.load_state_dict(mask_rcnn_state, strict=True)
    with pytest.raises(RuntimeError, match='missing keys') as mmengine_error:
        load_state_dict(model, mask_rcnn_state, strict=True)
    for error in (torch_error, mmengine_error):
        assert all(k in str(error.value) for k in head_keys)
    # Nothing else is missing.
    missing = model.load_state_dict(mask_rcnn_state, strict=False)
    assert sorted(missing.missing_keys) == sorted(head_keys)
    assert missing.unexpected_keys == []


def test_rpn_checkpoint_bbox_head_keys_load_into_rpn_head(model, log_records):
    # mmdet's single-stage RPN detector stores its head as bbox_head;
    # mmdet's TwoStageDetector renames those keys to rpn_head.
    rpn = {
        k.replace('rpn_head.', 'bbox_head.', 1): v.clone() + 1
        for k, v in model.state_dict().items()
        if k.split('.')[0] in ('backbone', 'neck', 'rpn_head')
    }
    log_records.clear()
    load_state_dict(model, rpn, strict=False, logger='current')
    after = model.state_dict()
    assert all(
        torch.equal(after[k.replace('bbox_head.', 'rpn_head.', 1)], v)
        for k, v in rpn.items())
    # Said once, by mmengine: the roi_head is missing, nothing is
    # unexpected, and this is no Mask R-CNN checkpoint.
    said = [r for r in log_records if 'head' in r]
    assert len(said) == 1 and 'unexpected' not in said[0]
    missing = said[0].split('missing keys in source state_dict: ')[1]
    assert sorted(missing.strip().split(', ')) == sorted(
        k for k in after if k.startswith('roi_head.'))
