"""The cascade RoI heads with mask scoring against mmdet's cascade and HTC
heads on identical weights, and the mask scoring recomputed from the heads
(hand-computed cases are in test_mask_scoring_cascade.py)."""
import pytest
import torch
from cascade_ms_testing import build_ours, mmdet_twin, shapes_batch
from mmdet.models.roi_heads import HybridTaskCascadeRoIHead
from mmdet.structures.bbox import bbox2roi, bbox_overlaps
from ms_rcnn_testing import losses, predict

from projects.cascade_ms_rcnn.cascade_ms_rcnn import (
    CascadeMaskScoringRCNN, CascadeMaskScoringRoIHead,
    HybridTaskCascadeMaskScoring, HybridTaskCascadeMaskScoringRoIHead)
from projects.cascade_ms_rcnn.cascade_ms_rcnn.mask_scoring_cascade import \
    LOGIT_EPS
from ms_rcnn.models import MaskIoUHead

CASCADE, HTC = 'cascade-ms-rcnn_quickstart.py', 'htc-ms_quickstart.py'


@pytest.fixture(scope='module', params=[CASCADE, HTC])
def pair(request):
    """(config name, our model, mmdet's twin with the same weights)."""
    ours = build_ours(request.param)
    return request.param, ours, mmdet_twin(ours, request.param)


def test_builds_our_classes():
    cascade, htc = build_ours(CASCADE), build_ours(HTC)
    assert type(cascade) is CascadeMaskScoringRCNN
    assert type(cascade.roi_head) is CascadeMaskScoringRoIHead
    assert type(htc) is HybridTaskCascadeMaskScoring
    assert type(htc.roi_head) is HybridTaskCascadeMaskScoringRoIHead
    for model in (cascade, htc):
        assert type(model.roi_head.mask_iou_head) is MaskIoUHead
        assert model.roi_head.num_stages == 3
        assert len(model.roi_head.mask_head) == 3
        # 64 RoI feature channels + the pooled mask.
        conv0 = model.roi_head.mask_iou_head.convs[0]
        assert conv0.weight.shape == (64, 65, 3, 3)
    assert type(htc.roi_head.mask_head[1]).__name__ == 'HTCMaskHead'
    assert not htc.roi_head.with_semantic


def test_predict_parity_with_mmdet(pair):
    _, ours, theirs = pair
    batch = shapes_batch(seed=1)
    mine, ref = predict(ours, batch), predict(theirs, batch)
    assert len(mine) == len(ref) == 100
    assert torch.equal(mine.bboxes, ref.bboxes)
    assert torch.equal(mine.labels, ref.labels)
    assert torch.equal(mine.scores, ref.scores)
    assert torch.equal(mine.masks, ref.masks)
    assert 'mask_scores' not in ref
    assert mine.mask_scores.shape == mine.scores.shape
    assert ((mine.mask_scores >= 0) &
            (mine.mask_scores <= mine.scores)).all()
    # Random weights give IoUs strictly inside (0, 1) for some detections.
    assert (mine.mask_scores < mine.scores).any()


def test_loss_parity_with_mmdet(pair):
    _, ours, theirs = pair
    batch = shapes_batch(seed=2)
    mine, ref = losses(ours, batch), losses(theirs, batch)
    # The MaskIoU loss is reported apart from the stages' losses.
    assert set(mine) - set(ref) == {'loss_mask_iou'}
    for key, value in ref.items():
        torch.testing.assert_close(mine[key], value, rtol=0, atol=0)
    loss_iou = mine['loss_mask_iou']
    assert torch.isfinite(loss_iou) and loss_iou > 0


def test_loss_mask_iou_is_weighted_by_the_heads_loss_weight_only(
        pair, monkeypatch):
    _, ours, _ = pair
    head = ours.roi_head.mask_iou_head
    # 0.3: neither MS R-CNN's 0.5 nor any stage weight (1, 0.5, 0.25).
    monkeypatch.setattr(head.loss_iou, 'loss_weight', 0.3)
    preds, targets = [], []
    loss_and_target, get_targets = head.loss_and_target, head.get_targets
    monkeypatch.setattr(
        head, 'loss_and_target',
        lambda pred, *args: preds.append(pred) or loss_and_target(pred, *args))
    monkeypatch.setattr(
        head, 'get_targets',
        lambda *args: targets.append(get_targets(*args)) or targets[-1])
    reported = losses(ours, shapes_batch(seed=2))['loss_mask_iou']
    assert len(preds) == len(targets) == 1
    pred, target = preds[0].detach(), targets[0]
    pos = target > 0
    assert pos.sum() >= 2 and (target[pos] < 1).any()
    # MSE over the positives with a target above 0, times 0.3, and not
    # times the last stage's weight 0.25.
    expected = 0.3 * ((pred[pos] - target[pos])**2).mean()
    torch.testing.assert_close(reported, expected)


def test_maskiou_loss_reaches_maskiou_head_and_neck_not_mask_heads(pair):
    _, ours, _ = pair
    loss = losses(ours, shapes_batch(seed=2))['loss_mask_iou']
    heads = ours.roi_head
    groups = [
        list(heads.mask_head.parameters()),
        list(heads.mask_iou_head.parameters()),
        list(ours.neck.parameters())
    ]
    grads = torch.autograd.grad(loss, sum(groups, []), allow_unused=True)
    mask, iou, neck = (grads[:len(groups[0])],
                       grads[len(groups[0]):-len(groups[2])],
                       grads[-len(groups[2]):])
    # The merged mask is an input computed without gradient.
    assert all(g is None for g in mask)
    assert all(g is not None for g in iou)
    assert sum(g.abs().sum() for g in iou) > 0
    # Through the last stage's RoI features, as in the core MS R-CNN.
    assert any(g is not None and g.abs().sum() > 0 for g in neck)


def _final_mask_probs(name, ours, x, rois):
    """(n, C, 28, 28) final mask probabilities, computed from the heads."""
    roi_head = ours.roi_head
    if name == CASCADE:
        # Mean of the three stages' probabilities.
        return torch.stack([
            roi_head.mask_head[s](roi_head.mask_roi_extractor[s](x[:4],
                                                                 rois))
            for s in range(3)
        ]).sigmoid().mean(0)
    # HTC: the last stage's mask (as mmdet 3.3 outputs it), after the mask
    # information flow through the three stages on the last stage's RoI
    # features.
    feats = roi_head.mask_roi_extractor[-1](x[:4], rois)
    last_feat = None
    for head in roi_head.mask_head:
        mask_preds, last_feat = head(feats, last_feat)
    return mask_preds.sigmoid()


def test_mask_score_is_that_of_the_final_mask_recomputed_from_the_heads(
        pair, monkeypatch):
    name, ours, _ = pair
    head = ours.roi_head.mask_iou_head
    forward, calls = head.forward, []

    def recording_forward(mask_feats, mask_preds):
        calls.append((mask_feats, mask_preds))
        return forward(mask_feats, mask_preds)

    monkeypatch.setattr(head, 'forward', recording_forward)
    batch = shapes_batch(seed=3)
    pred = predict(ours, batch)
    assert len(calls) == 1
    feats, mask_logits = calls[0]

    with torch.no_grad():
        data = ours.data_preprocessor(batch, False)
        x = ours.extract_feat(data['inputs'])
        rois = bbox2roi([pred.bboxes])  # scale factor 1
        labels = torch.arange(len(pred))
        probs = _final_mask_probs(name, ours, x, rois)[labels, pred.labels]
        expected_feats = ours.roi_head.mask_roi_extractor[-1](x[:4], rois)
        ious = forward(expected_feats,
                       torch.logit(probs, eps=LOGIT_EPS))[labels,
                                                          pred.labels]
    torch.testing.assert_close(feats, expected_feats)
    torch.testing.assert_close(
        mask_logits.sigmoid(), probs.clamp(LOGIT_EPS, 1 - LOGIT_EPS))
    torch.testing.assert_close(pred.mask_scores,
                               pred.scores * ious.clamp(0, 1))


def _record_training(ours, monkeypatch):
    """Lists that collect the features of each training forward and the
    arguments of each MaskIoU loss call."""
    feats, calls = [], []
    head = ours.roi_head.mask_iou_head
    extract_feat, loss_and_target = ours.extract_feat, head.loss_and_target
    monkeypatch.setattr(ours, 'extract_feat',
                        lambda inputs: feats.append(extract_feat(inputs)) or
                        feats[-1])
    monkeypatch.setattr(head, 'loss_and_target',
                        lambda *args: calls.append(args) or
                        loss_and_target(*args))
    return feats, calls


def test_training_scores_the_merged_mask_of_the_last_stage(
        pair, monkeypatch):
    name, ours, _ = pair
    feats, calls = _record_training(ours, monkeypatch)
    batch = shapes_batch(seed=7)
    losses(ours, batch)
    assert len(feats) == len(calls) == 1
    _, mask_logits, mask_targets, scored, _, train_cfg = calls[0]
    assert train_cfg is ours.roi_head.train_cfg[-1]
    assert train_cfg.mask_thr_binary == 0.5

    # The positives are the last stage's: IoU >= 0.7 with their instance.
    scored = scored[0]
    gt = batch['data_samples'][0].gt_instances
    ious = bbox_overlaps(
        scored.boxes, gt.bboxes[scored.gt_inds], is_aligned=True)
    assert len(ious) > 0 and (ious >= 0.7 - 1e-6).all()
    assert mask_targets.shape == (len(ious), 28, 28)

    # The MaskIoU head saw the final (merged) mask of the GT class.
    x = [f.detach() for f in feats[0]]
    rois = bbox2roi([scored.boxes])
    with torch.no_grad():
        probs = _final_mask_probs(name, ours, x, rois)
    probs = probs[torch.arange(len(rois)), gt.labels[scored.gt_inds]]
    torch.testing.assert_close(
        mask_logits.sigmoid(), probs.clamp(LOGIT_EPS, 1 - LOGIT_EPS))


def _mmdet_test_loop_returning_all_stages(roi_head):
    """``roi_head._mask_forward`` as if mmdet's HTC test-time loop appended
    every stage's mask (the other place for its ``aug_masks.append``)."""
    forward = roi_head._mask_forward

    def mask_forward(stage, x, rois, semantic_feat=None, training=True):
        if training:
            return forward(stage, x, rois, semantic_feat, training)
        return dict(mask_preds=[
            forward(s, x, rois, semantic_feat, True)['mask_preds']
            for s in range(roi_head.num_stages)
        ])

    return mask_forward


@pytest.mark.parametrize('mmdet_loop', ['installed', 'all stages'])
def test_htc_scores_the_mask_it_trains_on_whatever_mmdets_test_loop_returns(
        mmdet_loop, monkeypatch):
    ours = build_ours(HTC)
    theirs = mmdet_twin(ours, HTC)  # mmdet's HTC as installed
    roi_head, head = ours.roi_head, ours.roi_head.mask_iou_head
    if mmdet_loop == 'all stages':
        monkeypatch.setattr(roi_head, '_mask_forward',
                            _mmdet_test_loop_returning_all_stages(roi_head))
    forward, seen = head.forward, []
    monkeypatch.setattr(head, 'forward',
                        lambda f, m: seen.append(m) or forward(f, m))
    batch = shapes_batch(seed=3)
    pred, ref = predict(ours, batch), predict(theirs, batch)
    assert torch.equal(pred.masks, ref.masks)

    # What training gives the MaskIoU head for these RoIs: the merged mask
    # built from the last stage's logits as mmdet's mask loss computes them.
    with torch.no_grad():
        x = ours.extract_feat(ours.data_preprocessor(batch, False)['inputs'])
        rois = bbox2roi([pred.bboxes])  # scale factor 1
        last = HybridTaskCascadeRoIHead._mask_forward(
            roi_head, stage=2, x=x, rois=rois, training=True)['mask_preds']
        trained = roi_head._merged_mask_logits(x, rois, pred.labels, last)
    assert len(seen) == 1
    torch.testing.assert_close(seen[0], trained, rtol=0, atol=0)


def test_no_detections_give_empty_mask_scores(pair):
    _, ours, _ = pair
    ours.roi_head.test_cfg.score_thr = 1.1  # nothing passes
    try:
        pred = predict(ours, shapes_batch(seed=4))
    finally:
        ours.roi_head.test_cfg.score_thr = 0.0
    assert len(pred) == 0
    assert pred.mask_scores.shape == (0, )
    assert pred.masks.shape[0] == 0
