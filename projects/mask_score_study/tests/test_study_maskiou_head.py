"""StudyMaskIoUHead: detached inputs and the mask score's exponents (moved
from the core's test_maskiou_head.py with the options); the defaults are
the core head's."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from ms_rcnn.models import MaskIoUHead
from projects.mask_score_study.mask_score_study import StudyMaskIoUHead


@pytest.fixture(autouse=True)
def ms_rcnn_scope():
    """The head builds its loss through the registry of the current scope
    (other tests may leave another one)."""
    init_default_scope('ms_rcnn')


def small(cls, **kwargs):
    return cls(
        num_convs=1,
        num_fcs=1,
        in_channels=4,
        conv_out_channels=4,
        fc_out_channels=8,
        num_classes=2,
        **kwargs)


def test_defaults_predict_as_the_core_head():
    torch.manual_seed(0)
    core = small(MaskIoUHead)
    study = small(StudyMaskIoUHead)
    study.load_state_dict(core.state_dict())
    feats, masks = torch.rand(3, 4, 14, 14), torch.randn(3, 28, 28)
    torch.testing.assert_close(study(feats, masks), core(feats, masks),
                               rtol=0, atol=0)
    scores, ious = torch.tensor([0.8, 0.5]), torch.tensor([0.5, 1.7])
    torch.testing.assert_close(
        study.mask_scores(scores, ious), core.mask_scores(scores, ious),
        rtol=0, atol=0)


@pytest.mark.parametrize('detach_inputs', [False, True])
def test_detach_inputs_stops_the_gradient_at_the_inputs(detach_inputs):
    torch.manual_seed(0)
    head = small(StudyMaskIoUHead, detach_inputs=detach_inputs)
    feats = torch.rand(3, 4, 14, 14, requires_grad=True)
    masks = torch.randn(3, 28, 28, requires_grad=True)
    out = head(feats, masks)
    out.sum().backward()
    assert all(p.grad.abs().sum() > 0 for p in head.parameters())
    if detach_inputs:
        assert feats.grad is None and masks.grad is None
    else:
        assert feats.grad.abs().sum() > 0 and masks.grad.abs().sum() > 0
    # The same predictions either way.
    head.detach_inputs = not detach_inputs
    torch.testing.assert_close(head(feats, masks), out, rtol=0, atol=0)


def test_score_exponents_give_score_a_times_iou_b():
    # Class scores (0.8, 0.5), predicted IoUs of their class 0.5 and 1.7
    # (clamped to 1): 0.8 ** 2 * 0.5 ** 3 = 0.08 and 0.5 ** 2 * 1 = 0.25.
    head = StudyMaskIoUHead(num_classes=2, score_exponents=(2, 3))
    results = InstanceData(
        scores=torch.tensor([0.8, 0.5]), labels=torch.tensor([0, 1]))
    ious = torch.tensor([[0.5, 9.], [9., 1.7]])
    out = head.predict_by_feat([ious], [results])[0]
    torch.testing.assert_close(out.mask_scores, torch.tensor([0.08, 0.25]))
    # b = 0: the class score alone, whatever the IoU (0 included).
    head = StudyMaskIoUHead(num_classes=2, score_exponents=(1, 0))
    results = InstanceData(
        scores=torch.tensor([0.8]), labels=torch.tensor([0]))
    out = head.predict_by_feat([torch.tensor([[-0.2, 1.]])], [results])[0]
    torch.testing.assert_close(out.mask_scores, torch.tensor([0.8]))


@pytest.mark.parametrize('exponents',
                         [(1, -1), (1, ), (1, 2, 3), 0.5, (1, 'a')])
def test_bad_score_exponents_are_named(exponents):
    with pytest.raises(ValueError, match='score_exponents'):
        StudyMaskIoUHead(num_classes=2, score_exponents=exponents)


@pytest.mark.parametrize('option', [
    'train_rois', 'train_class', 'max_neg_ratio', 'target_bins',
    'detach_inputs', 'add_detections', 'score_exponents'
])
def test_the_core_head_takes_none_of_the_options(option):
    with pytest.raises(TypeError, match=option):
        MaskIoUHead(num_classes=2, **{option: None})
