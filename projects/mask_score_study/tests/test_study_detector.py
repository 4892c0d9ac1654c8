"""The quick-start MS R-CNN with the study's detached MaskIoU head: its
losses and gradients against those of its Mask R-CNN twin (moved from the
core's test_mask_scoring_rcnn.py with ``detach_inputs``); the study's
detector on a frozen detector, learning from the paper's positive RoIs."""
import copy
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from ms_rcnn_testing import losses, make_batch
from study_testing import CORE_QUICKSTART, ROOT, build_study, study_model_cfg

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


def _frozen_study(frozen_rois):
    cfg = study_model_cfg()
    cfg.update(
        type='StudyMaskScoringRCNN',
        frozen_detector=True,
        frozen_rois=frozen_rois)
    init_default_scope('ms_rcnn')
    torch.manual_seed(0)
    return MODELS.build(cfg)


def test_frozen_proposals_give_the_joint_models_maskiou_loss():
    # Everything in eval mode but the MaskIoU head (normalisation as
    # loaded) in both. The joint model draws the RPN's samples first, so
    # the random numbers differ; the RoI sampler still keeps the same
    # positives because all of them fit under its quota (checked below).
    frozen = _frozen_study(['proposals'])
    sampler = frozen.train_cfg.rcnn.sampler
    positives = []
    sample = frozen.roi_head.bbox_sampler.sample
    frozen.roi_head.bbox_sampler.sample = lambda *a, **k: positives.append(
        sample(*a, **k)) or positives[-1]
    joint = build_study()
    joint.load_state_dict(frozen.state_dict())
    batch = _batch()
    out = losses(frozen, batch)
    assert set(out) == {'loss_mask_iou'} and out['loss_mask_iou'] > 0
    assert 0 < len(positives[0].pos_inds) < sampler.num * sampler.pos_fraction
    joint.train()
    joint.eval()  # what frozen.train() leaves (the head's mode is unused)
    torch.manual_seed(0)
    data = joint.data_preprocessor(copy.deepcopy(batch), True)
    expected = joint(**data, mode='loss')['loss_mask_iou']
    torch.testing.assert_close(out['loss_mask_iou'], expected)
    # Only the MaskIoU head gets gradients.
    out['loss_mask_iou'].backward()
    for name, param in frozen.named_parameters():
        trained = param.grad is not None and param.grad.abs().sum() > 0
        assert trained == name.startswith(HEAD), name


def test_frozen_rois_both_give_both_losses():
    both = _frozen_study(['proposals', 'detections'])
    proposals = _frozen_study(['proposals'])
    detections = _frozen_study(['detections'])
    batch = _batch()
    out = losses(both, batch)
    assert set(out) == {'loss_mask_iou', 'loss_mask_iou_det'}
    torch.testing.assert_close(out['loss_mask_iou'],
                               losses(proposals, batch)['loss_mask_iou'])
    # The detections' loss is the core detector's (frozen_detector=True).
    torch.testing.assert_close(out['loss_mask_iou_det'],
                               losses(detections, batch)['loss_mask_iou_det'])
    core_cfg = Config.fromfile(CORE_QUICKSTART).model
    core_cfg.update(frozen_detector=True)
    core = MODELS.build(core_cfg)
    core.load_state_dict(both.state_dict())
    torch.testing.assert_close(out['loss_mask_iou_det'],
                               losses(core, batch)['loss_mask_iou'])


@pytest.mark.parametrize('frozen_rois', [['boxes'], [], 'proposals'])
def test_frozen_rois_other_than_a_list_of_the_two_names_are_refused(
        frozen_rois):
    with pytest.raises(ValueError, match="frozen_rois must be a list or "
                       "tuple naming 'proposals', 'detections' or both, got " +
                       re.escape(repr(frozen_rois)) + '$'):
        _frozen_study(frozen_rois)


def test_frozen_rois_without_a_frozen_detector_are_refused():
    cfg = study_model_cfg()
    cfg.update(type='StudyMaskScoringRCNN', frozen_rois=['proposals'])
    init_default_scope('ms_rcnn')
    with pytest.raises(ValueError, match='frozen_rois applies to '
                       'frozen_detector=True only'):
        MODELS.build(cfg)


def test_frozen_study_detector_needs_the_study_roi_head():
    cfg = Config.fromfile(CORE_QUICKSTART).model
    cfg.update(type='StudyMaskScoringRCNN', frozen_detector=True)
    init_default_scope('ms_rcnn')
    with pytest.raises(TypeError, match='StudyMaskScoringRCNN needs a '
                       'StudyMaskScoringRoIHead, got a MaskScoringRoIHead'):
        MODELS.build(cfg)
