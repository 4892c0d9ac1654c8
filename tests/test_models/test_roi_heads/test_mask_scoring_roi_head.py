"""MaskScoringRoIHead against mmdet's MS R-CNN on identical weights; its
loss on the test-time detections (a frozen detector's) and their settings.

The options that train on other RoIs and classes, with their tests:
projects/mask_score_study."""
import copy

import numpy as np
import pytest
import torch
from mmdet.structures.bbox import bbox2roi
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope
from ms_rcnn_testing import (build_our_model, losses, make_batch,
                             mmdet_box_branch, mmdet_maskiou_targets, predict,
                             same_class_best_box)

import ms_rcnn.models as ours
from ms_rcnn.registry import MODELS
from ms_rcnn.structures import masks_to_polygons

QUICKSTART = 'configs/quickstart/ms-rcnn_quickstart.py'


def test_builds_our_classes(our_model, mmdet_model):
    assert type(our_model) is ours.MaskScoringRCNN
    assert type(our_model.roi_head) is ours.MaskScoringRoIHead
    assert type(our_model.roi_head.mask_iou_head) is ours.MaskIoUHead
    assert type(mmdet_model).__module__.startswith('mmdet.')


def test_state_dict_keys_and_shapes_identical(our_model, mmdet_model):
    mine = {k: v.shape for k, v in our_model.state_dict().items()}
    theirs = {k: v.shape for k, v in mmdet_model.state_dict().items()}
    assert mine == theirs
    assert 'roi_head.mask_iou_head.fc_mask_iou.weight' in mine
    assert mine['roi_head.mask_iou_head.convs.0.weight'] == (256, 257, 3, 3)


def test_predict_parity(our_model, mmdet_model):
    batch = make_batch(seed=1)
    mine, theirs = predict(our_model, batch), predict(mmdet_model, batch)
    assert len(mine) == len(theirs) == 100
    torch.testing.assert_close(mine.bboxes, theirs.bboxes)
    assert torch.equal(mine.labels, theirs.labels)
    assert torch.equal(mine.masks, theirs.masks)
    # mmdet overwrote its scores with score * IoU; ours keeps the class
    # score and puts score * clamp(IoU) in mask_scores.
    iou = theirs.scores / mine.scores
    torch.testing.assert_close(mine.mask_scores,
                               mine.scores * iou.clamp(0, 1))
    assert not torch.allclose(mine.scores, theirs.scores)
    assert ((mine.mask_scores >= 0) & (mine.mask_scores <= mine.scores)).all()


def test_predict_overwrite_scores_restores_mmdet(our_model, mmdet_model):
    model = build_our_model(
        copy.deepcopy(mmdet_model.state_dict()),
        test_cfg=dict(score_thr=0.0),
        overwrite_scores=True).eval()
    batch = make_batch(seed=2)
    mine, theirs = predict(model, batch), predict(mmdet_model, batch)
    cls_scores = predict(our_model, batch).scores
    # mmdet's score * IoU, with the IoU clamped to [0, 1].
    expected = torch.minimum(theirs.scores.clamp(min=0), cls_scores)
    torch.testing.assert_close(mine.scores, expected)
    assert torch.equal(mine.scores, mine.mask_scores)


def test_predicted_iou_is_clamped(our_model):
    # Push the IoU regressor's bias far outside [0, 1] in both directions.
    model = copy.deepcopy(our_model)
    fc = model.roi_head.mask_iou_head.fc_mask_iou
    batch = make_batch(seed=3)
    for bias, expected_ratio in ((5.0, 1.0), (-5.0, 0.0)):
        with torch.no_grad():
            fc.weight.zero_()
            fc.bias.fill_(bias)
        pred = predict(model, batch)
        torch.testing.assert_close(pred.mask_scores,
                                   pred.scores * expected_ratio)


def _shifted_mask_logits(mmdet_model, bias=0.5):
    """mmdet's model with mask logits around ``bias``.

    Random weights give logits near 0, which neither threshold keeps; around
    0.5 some pixels pass either threshold.
    """
    model = copy.deepcopy(mmdet_model).train()
    with torch.no_grad():
        model.roi_head.mask_head.conv_logits.bias.fill_(bias)
    return model


def test_loss_parity_with_legacy_options(mmdet_model):
    mmdet_train = _shifted_mask_logits(mmdet_model)
    model = build_our_model(
        copy.deepcopy(mmdet_train.state_dict()), thr_on_logits=True)
    batch = make_batch(seed=4, num_gts=4)
    mine, theirs = losses(model, batch), losses(mmdet_train, batch)
    assert set(mine) == set(theirs)
    assert mine['loss_mask_iou'].item() > 0
    for key in theirs:
        torch.testing.assert_close(
            torch.stack(mine[key]) if isinstance(mine[key], list) else
            mine[key],
            torch.stack(theirs[key])
            if isinstance(theirs[key], list) else theirs[key],
            rtol=1e-6,
            atol=1e-6,
            msg=key)


def test_default_targets_differ_from_mmdet(mmdet_model):
    # Same batch and weights: the probability threshold changes the targets
    # (random weights give logits near 0, between 0 and 0.5 for many pixels).
    mmdet_train = _shifted_mask_logits(mmdet_model)
    model = build_our_model(copy.deepcopy(mmdet_train.state_dict()))
    batch = make_batch(seed=4, num_gts=4)
    mine = losses(model, batch)['loss_mask_iou']
    theirs = losses(mmdet_train, batch)['loss_mask_iou']
    assert mine.item() > 0 and theirs.item() > 0
    assert abs(mine.item() - theirs.item()) > 1e-4


@pytest.mark.parametrize('with_gt', [True, False])
def test_finite_losses_without_positives(our_model, with_gt):
    model = copy.deepcopy(our_model).train()
    # Zero-area instance (its box has no mask pixels) or no instance at all.
    batch = make_batch(seed=5, num_gts=1, with_gt=with_gt)
    if with_gt:
        batch['data_samples'][0].gt_instances.masks.masks[:] = 0
    out = losses(model, batch)
    total = sum(v.sum() if not isinstance(v, list) else sum(v)
                for k, v in out.items() if 'loss' in k)
    assert torch.isfinite(total)
    assert torch.isfinite(out['loss_mask_iou'])
    total.backward()
    grads = [p.grad for p in model.roi_head.mask_iou_head.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_empty_detections_have_empty_mask_scores(our_model):
    model = copy.deepcopy(our_model)
    model.roi_head.test_cfg.score_thr = 1.1  # nothing survives
    pred = predict(model, make_batch(seed=6))
    assert len(pred) == 0
    assert pred.mask_scores.shape == (0, )
    assert pred.masks.shape == (0, 96, 128)


def test_polygons_from_masks_when_asked(our_model):
    model = copy.deepcopy(our_model)
    batch = make_batch(seed=7)
    assert 'polygons' not in predict(model, batch)
    model.roi_head.test_cfg.mask2polygon = dict(mode='quad')
    pred = predict(model, batch)
    assert len(pred.polygons) == len(pred) == 100
    expected = masks_to_polygons(pred.masks, mode='quad')
    assert sum(len(p) == 8 for p in pred.polygons) > 50
    for polygon, other in zip(pred.polygons, expected):
        # 4 corners (8 values), or none for an empty or zero-area mask.
        assert len(polygon) in (0, 8)
        np.testing.assert_array_equal(polygon, other)


def test_shared_roi_extractor_scores_the_features_of_the_positives(
        monkeypatch):
    # The quick-start model with the mask head on the box head's RoI
    # features (no mask RoI extractor; 8x8, which the MaskIoU head's
    # strided conv halves, and 16x16 masks).
    cfg = Config.fromfile(QUICKSTART).model
    cfg.roi_head.mask_roi_extractor = None
    cfg.roi_head.bbox_roi_extractor.roi_layer.output_size = 8
    cfg.roi_head.bbox_head.roi_feat_size = 8
    cfg.roi_head.mask_iou_head.roi_feat_size = 8
    cfg.train_cfg.rcnn.mask_size = 16
    init_default_scope('ms_rcnn')
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    head = model.roi_head
    assert head.share_roi_extractor
    seen, extracted, sampled = [], [], []
    forward = head.mask_iou_head.forward
    monkeypatch.setattr(head.mask_iou_head, 'forward',
                        lambda f, m: seen.append(f) or forward(f, m))
    extract_feat = model.extract_feat
    monkeypatch.setattr(
        model, 'extract_feat',
        lambda inputs: extracted.append(extract_feat(inputs)) or extracted[-1])
    mask_loss = head.mask_loss
    monkeypatch.setattr(
        head, 'mask_loss',
        lambda x, results, *a: sampled.append(results[0]) or mask_loss(
            x, results, *a))
    batch = make_batch(seed=4)
    batch['data_samples'][0].gt_instances.labels %= 3
    out = losses(model, batch)
    assert out['loss_mask_iou'] > 0
    # The box head's features of the positives, which its sampling puts
    # before the negatives.
    res = sampled[0]
    assert 0 < len(res.pos_priors) < len(res.priors)
    x = [f.detach() for f in extracted[0]]
    with torch.no_grad():
        expected = head.bbox_roi_extractor(x[:4], bbox2roi([res.pos_priors]))
    torch.testing.assert_close(seen[0], expected)


def _frozen_on_detections(**mask_iou_detections):
    """The quick-start model trained on its test-time detections alone
    (``MaskScoringRCNN(frozen_detector=True)``), with
    ``train_cfg.rcnn.mask_iou_detections`` if given."""
    cfg = Config.fromfile(QUICKSTART).model
    cfg.update(frozen_detector=True)
    if mask_iou_detections:
        cfg.train_cfg.rcnn.mask_iou_detections = mask_iou_detections
    init_default_scope('ms_rcnn')
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _three_class_batch():
    batch = make_batch(seed=4)
    batch['data_samples'][0].gt_instances.labels %= 3
    return batch


def test_detection_settings_missing_keys_come_from_the_test_cfg(monkeypatch):
    # Only max_per_img given: score_thr and NMS are test_cfg.rcnn's.
    model = _frozen_on_detections(max_per_img=5)
    head = model.roi_head
    seen = []
    iou_loss = head.mask_iou_head.loss_and_target
    monkeypatch.setattr(
        head.mask_iou_head, 'loss_and_target',
        lambda *a, **k: (k.get('keep_all') and seen.append(a[3])) or
        iou_loss(*a, **k))
    batch = _three_class_batch()
    out = losses(model, batch)
    assert set(out) == {'loss_mask_iou'}
    assert torch.isfinite(out['loss_mask_iou'])
    assert len(seen[0][0].boxes) == 5
    # score_thr is test_cfg.rcnn's too: above every score, no detection
    # reaches the head and the loss is a zero that reaches each of its
    # parameters (DDP waits for their gradients).
    seen.clear()
    model.roi_head.test_cfg.score_thr = 1.1
    out = losses(model, batch)
    assert seen == [] and out['loss_mask_iou'].item() == 0
    out['loss_mask_iou'].backward()
    assert all(p.grad is not None and not p.grad.any()
               for p in head.mask_iou_head.parameters())


def test_detections_without_any_settings_are_refused():
    # No test_cfg (a model built for training only) and no
    # mask_iou_detections: nothing says which detections to score.
    model = _frozen_on_detections()
    model.roi_head.test_cfg = None
    with pytest.raises(ValueError, match=r'train_cfg\.rcnn\.mask_iou_'
                       r'detections and.*test_cfg\.rcnn; the model has '
                       r'neither'):
        losses(model, _three_class_batch())


def test_half_given_detection_settings_name_the_missing_keys():
    # max_per_img alone and no test_cfg: score_thr and nms are named
    # (mmdet's box head would fail on the first it reads).
    model = _frozen_on_detections(max_per_img=5)
    model.roi_head.test_cfg = None
    with pytest.raises(ValueError, match=r'test_cfg\.rcnn; neither gives '
                       r'score_thr, nms$'):
        losses(model, _three_class_batch())


def test_frozen_detections_are_the_detectors_test_time_ones(monkeypatch):
    # The quick-start model on a frozen detector, trained on its detections
    # under its test_cfg alone, as tools/add_mask_score.py writes it (at
    # most 20 an image); the input is the original image at twice its
    # size, so boxes in the input's frame differ from the original's.
    model = _frozen_on_detections()
    model.roi_head.test_cfg.max_per_img = 20
    # Fewer test-time proposals than training ones (300): which the
    # detections come from shows.
    model.test_cfg.rpn.max_per_img = 150
    batch = _three_class_batch()
    batch['data_samples'][0].set_metainfo(
        dict(ori_shape=(48, 64), scale_factor=(2., 2.)))
    gt = batch['data_samples'][0].gt_instances
    head = model.roi_head
    calls = {}
    detection_loss = head.detection_mask_iou_loss
    monkeypatch.setattr(
        head, 'detection_mask_iou_loss', lambda *a: calls.setdefault(
            'det', (a, detection_loss(*a)))[1])
    iou_loss = head.mask_iou_head.loss_and_target
    monkeypatch.setattr(
        head.mask_iou_head, 'loss_and_target',
        lambda *a, **k: calls.setdefault('iou', (a, iou_loss(*a, **k)))[1])
    out = losses(model, batch)
    assert set(out) == {'loss_mask_iou'}
    (_, seen_proposals, _), _ = calls['det']
    (pred, mask_preds, _, scored, _, _), _ = calls['iou']
    rois = scored[0]
    # Found again apart from the code under test: the test-time proposals
    # (test_cfg.rpn) and their detections by mmdet's StandardRoIHead with
    # the box branch's weights under test_cfg.rcnn, in the input's frame.
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    metas = [s.metainfo for s in data['data_samples']]
    roi_cfg = Config.fromfile(QUICKSTART).model.roi_head
    det_cfg = ConfigDict(model.roi_head.test_cfg)
    assert 'mask_iou_detections' not in model.train_cfg.rcnn
    reference = mmdet_box_branch(model, roi_cfg, det_cfg)
    with torch.no_grad():
        x = model.extract_feat(data['inputs'])
        proposals = model.rpn_head.predict_by_feat(
            *model.rpn_head(x), batch_img_metas=metas,
            cfg=model.test_cfg.rpn)
        training_proposals = model.rpn_head.predict_by_feat(
            *model.rpn_head(x), batch_img_metas=metas,
            cfg=model.train_cfg.rpn_proposal)
        dets = reference.predict_bbox(
            x, metas, proposals, det_cfg, rescale=False)[0]
        expected_masks = head._mask_forward(
            x, bbox2roi([dets.bboxes]))['mask_preds']
    assert len(proposals[0]) == 150 and len(training_proposals[0]) == 300
    torch.testing.assert_close(seen_proposals[0].bboxes,
                               proposals[0].bboxes)
    assert len(dets) == 20
    assert dets.bboxes[:, 2].max() > 64
    torch.testing.assert_close(rois.boxes, dets.bboxes)
    assert torch.equal(rois.labels, dets.labels)
    # Each is paired with the instance of its class of largest box IoU.
    gt_inds = same_class_best_box(dets.bboxes, dets.labels, gt)
    assert torch.equal(rois.gt_inds, gt_inds)
    assert (gt_inds >= 0).any() and (gt_inds < 0).any()
    # 0.5 x the mean squared error over every detection, against mmdet's
    # targets of the masks of their predicted class.
    expected_masks = expected_masks[torch.arange(20), dets.labels]
    torch.testing.assert_close(mask_preds, expected_masks)
    targets = mmdet_maskiou_targets(dets.bboxes, gt_inds, dets.labels, gt,
                                    expected_masks, model.train_cfg.rcnn)
    assert ((targets > 0) & (targets < 1)).any() and (targets == 0).any()
    torch.testing.assert_close(out['loss_mask_iou'],
                               0.5 * ((pred.detach() - targets)**2).mean())
    # Found and masked without gradient: the loss trains the head alone.
    model.zero_grad()
    out['loss_mask_iou'].backward()
    for name, param in model.named_parameters():
        trained = param.grad is not None and param.grad.abs().sum() > 0
        assert trained == name.startswith('roi_head.mask_iou_head.'), name


def test_detection_proposals_take_the_rpn_keys_given_for_the_search(
        monkeypatch):
    # mask_iou_detections.rpn replaces test_cfg.rpn's max_per_img (300)
    # with 40; the keys it does not give stay test_cfg.rpn's, which is not
    # changed.
    model = _frozen_on_detections(
        max_per_img=10, rpn=dict(max_per_img=40))
    head = model.roi_head
    seen = []
    detection_loss = head.detection_mask_iou_loss
    monkeypatch.setattr(
        head, 'detection_mask_iou_loss',
        lambda x, proposals, samples: seen.append(proposals) or
        detection_loss(x, proposals, samples))
    batch = _three_class_batch()
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    metas = [s.metainfo for s in data['data_samples']]

    def proposals(**cfg):
        with torch.no_grad():
            x = model.extract_feat(data['inputs'])
            return model.rpn_head.predict_by_feat(
                *model.rpn_head(x), batch_img_metas=metas,
                cfg=ConfigDict(model.test_cfg.rpn, **cfg))[0].bboxes

    assert torch.isfinite(losses(model, batch)['loss_mask_iou'])
    assert model.test_cfg.rpn.max_per_img == 300
    test_time = proposals()
    assert len(seen[0][0]) == 40 and len(test_time) == 300
    # The 40 of highest objectness of the 300.
    torch.testing.assert_close(seen[0][0].bboxes, test_time[:40])
    # test_cfg.rpn's nms_pre, lowered to 5 boxes a level (of 4 levels),
    # leaves fewer than 40.
    model.test_cfg.rpn.nms_pre = 5
    seen.clear()
    losses(model, batch)
    assert len(seen[0][0]) <= 20
    torch.testing.assert_close(seen[0][0].bboxes,
                               proposals(max_per_img=40))
