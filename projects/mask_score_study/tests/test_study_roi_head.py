"""StudyMaskScoringRoIHead: the RoIs, classes and detections that its
MaskIoU head's options name, against mmdet's targets and heads (moved from
the core's test_mask_scoring_roi_head.py with the options)."""
import copy

import pytest
import torch
from mmdet.structures.bbox import bbox2roi, bbox_overlaps
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope
from ms_rcnn_testing import (build_our_model, losses, make_batch,
                             mmdet_box_branch, mmdet_maskiou_targets,
                             same_class_best_box)
from study_testing import CORE_QUICKSTART, build_study, study_model_cfg

from ms_rcnn.registry import MODELS


def test_needs_a_study_maskiou_head():
    cfg = study_model_cfg()
    cfg.roi_head.mask_iou_head.type = 'MaskIoUHead'
    init_default_scope('ms_rcnn')
    with pytest.raises(TypeError, match='StudyMaskIoUHead, got a '
                       'MaskIoUHead'):
        MODELS.build(cfg)


def test_defaults_train_as_the_core_head():
    torch.manual_seed(0)
    core = build_our_model(cfg_path=CORE_QUICKSTART)
    study = build_study()
    study.load_state_dict(core.state_dict())
    batch = make_batch(seed=4)
    batch['data_samples'][0].gt_instances.labels %= 3
    mine, theirs = losses(study, batch), losses(core, batch)
    assert set(mine) == set(theirs)
    for key, value in theirs.items():
        torch.testing.assert_close(mine[key], value, rtol=0, atol=0,
                                   msg=key)


@pytest.mark.parametrize('train_rois, train_class', [('all', 'pred'),
                                                     ('all', 'gt'),
                                                     ('pos', 'pred')])
def test_training_options_score_the_rois_and_classes_they_name(
        train_rois, train_class, monkeypatch):
    # The quick-start model (3 classes, 32 sampled RoIs an image).
    model = build_study(
        train_rois=train_rois, train_class=train_class, max_neg_ratio=None)
    batch = make_batch(seed=4)
    gt = batch['data_samples'][0].gt_instances
    gt.labels = gt.labels % 3
    head = model.roi_head
    calls = {}
    for name in ('bbox_loss', 'mask_loss'):
        method = getattr(head, name)
        monkeypatch.setattr(
            head, name, lambda *a, _m=method, _n=name: calls.setdefault(
                _n, (a, _m(*a)))[1])
    iou_loss = head.mask_iou_head.loss_and_target
    monkeypatch.setattr(
        head.mask_iou_head, 'loss_and_target', lambda *a: calls.setdefault(
            'iou', (a, iou_loss(*a)))[1])
    reported = losses(model, batch)['loss_mask_iou']

    (_, sampling_results), bbox_results = calls['bbox_loss']
    res = sampling_results[0]
    mask_results = calls['mask_loss'][1]
    (pred, mask_preds, _, scored, _, _), _ = calls['iou']
    rois = scored[0]
    # The RoIs: every sampled one, or the positives, in sampling order.
    boxes = res.priors if train_rois == 'all' else res.pos_priors
    assert torch.equal(rois.boxes, boxes)
    num_pos = len(res.pos_priors)
    assert rois.is_pos.tolist() == [True] * num_pos + [False] * (
        len(boxes) - num_pos)
    # Their instances: the assigned one, or for negatives the one of
    # largest box IoU (-1 where none overlaps).
    best, best_inds = bbox_overlaps(boxes[num_pos:], gt.bboxes).max(dim=1)
    gt_inds = torch.cat(
        [res.pos_assigned_gt_inds,
         torch.where(best > 0, best_inds, -1)])
    assert torch.equal(rois.gt_inds, gt_inds)
    if train_rois == 'all':
        assert (gt_inds[num_pos:] >= 0).any() and (gt_inds[num_pos:] < 0).any()
    # The class: the box head's argmax over the foreground classes, or
    # the instance's (the predicted one for RoIs without an instance).
    pred_labels = bbox_results['cls_score'][:len(boxes), :3].argmax(1)
    labels = pred_labels if train_class == 'pred' else torch.where(
        gt_inds >= 0, gt.labels[gt_inds.clamp(min=0)], pred_labels)
    assert torch.equal(rois.labels, labels)
    wrong = labels != gt.labels[gt_inds.clamp(min=0)]
    assert wrong.any() and not wrong.all()
    # The MaskIoU head saw the mask head's mask of that class.
    assert torch.equal(mask_preds,
                       mask_results['mask_preds'][torch.arange(len(labels)),
                                                  labels])
    assert len(pred) == len(boxes)
    # The loss: 0.5 x the mean squared error over all scored RoIs ('all'),
    # or over those with a target above 0 and those of a wrong class (the
    # paper's 'pos'), with mmdet's targets.
    targets = mmdet_maskiou_targets(boxes, gt_inds, labels, gt,
                                    mask_preds.detach(), model.train_cfg.rcnn)
    assert (targets > 0).any()
    keep = torch.ones_like(wrong) if train_rois == 'all' else (
        (targets > 0) | wrong)
    expected_loss = 0.5 * ((pred.detach() - targets)[keep]**2).mean()
    torch.testing.assert_close(reported, expected_loss)


def test_shared_roi_extractor_scores_the_features_of_the_drawn_rois(
        monkeypatch):
    # The quick-start model with the mask head on the box head's RoI
    # features (no mask RoI extractor; 8x8, which the MaskIoU head's
    # strided conv halves, and 16x16 masks), the MaskIoU head on every
    # positive and a random half as many negatives.
    cfg = study_model_cfg()
    cfg.roi_head.mask_roi_extractor = None
    cfg.roi_head.bbox_roi_extractor.roi_layer.output_size = 8
    cfg.roi_head.bbox_head.roi_feat_size = 8
    cfg.roi_head.mask_iou_head.update(
        roi_feat_size=8, train_rois='all', max_neg_ratio=0.5)
    cfg.train_cfg.rcnn.mask_size = 16
    init_default_scope('ms_rcnn')
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    head = model.roi_head
    assert head.share_roi_extractor
    seen, extracted = [], []
    forward = head.mask_iou_head.forward
    monkeypatch.setattr(head.mask_iou_head, 'forward',
                        lambda f, m: seen.append(f) or forward(f, m))
    extract_feat = model.extract_feat
    monkeypatch.setattr(
        model, 'extract_feat',
        lambda inputs: extracted.append(extract_feat(inputs)) or extracted[-1])
    scored_calls = []
    loss_and_target = head.mask_iou_head.loss_and_target
    monkeypatch.setattr(
        head.mask_iou_head, 'loss_and_target',
        lambda *a: scored_calls.append(a[3]) or loss_and_target(*a))
    batch = make_batch(seed=4)
    batch['data_samples'][0].gt_instances.labels %= 3
    losses(model, batch)
    rois = scored_calls[0][0]
    num_pos = int(rois.is_pos.sum())
    # Not the first negatives: the drawn ones.
    assert len(rois.inds) == num_pos + num_pos // 2
    assert not torch.equal(rois.inds, torch.arange(len(rois.inds)))
    x = [f.detach() for f in extracted[0]]
    with torch.no_grad():
        expected = head.bbox_roi_extractor(x[:4], bbox2roi([rois.boxes]))
    torch.testing.assert_close(seen[0], expected)


def test_added_detections_train_on_the_test_time_detections(monkeypatch):
    # The quick-start model (3 classes) with the MaskIoU head also trained
    # on the detections of the proposals, at most 20 an image.
    model = build_study(add_detections=True)
    det_cfg = dict(
        score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=20)
    model.train_cfg.rcnn.mask_iou_detections = copy.deepcopy(det_cfg)
    batch = make_batch(seed=4)
    # The input is the original image at twice its size: boxes in the
    # input's frame are not those rescaled to the original's.
    batch['data_samples'][0].set_metainfo(
        dict(ori_shape=(48, 64), scale_factor=(2., 2.)))
    gt = batch['data_samples'][0].gt_instances
    gt.labels = gt.labels % 3
    head = model.roi_head
    calls = {}
    detection_loss = head.detection_mask_iou_loss
    monkeypatch.setattr(
        head, 'detection_mask_iou_loss', lambda *a: calls.setdefault(
            'det', (a, detection_loss(*a)))[1])
    iou_loss = head.mask_iou_head.loss_and_target
    monkeypatch.setattr(
        head.mask_iou_head, 'loss_and_target',
        lambda *a, **k: calls.setdefault('iou_det' if k.get('keep_all') else
                                         'iou', (a, iou_loss(*a, **k)))[1])
    out = losses(model, batch)

    (_, proposals, _), _ = calls['det']
    (pred, mask_preds, _, scored, _, _), _ = calls['iou_det']
    # The paper's loss of the positives is unchanged beside it: the same
    # weights without the detections give the same loss_mask_iou.
    paper = build_our_model(cfg_path=CORE_QUICKSTART)
    paper.load_state_dict(model.state_dict())
    torch.testing.assert_close(out['loss_mask_iou'],
                               losses(paper, batch)['loss_mask_iou'])
    rois = scored[0]
    # Found again apart from the code under test: the features, the RPN's
    # proposals under train_cfg.rpn_proposal (300 after NMS), and their
    # detections by mmdet's StandardRoIHead with the box branch's weights
    # and the settings above, in the input's frame (rescale=False).
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    metas = [s.metainfo for s in data['data_samples']]
    roi_cfg = Config.fromfile(CORE_QUICKSTART).model.roi_head
    reference = mmdet_box_branch(model, roi_cfg, ConfigDict(det_cfg))
    with torch.no_grad():
        x = model.extract_feat(data['inputs'])
        expected_proposals = model.rpn_head.predict_by_feat(
            *model.rpn_head(x),
            batch_img_metas=metas,
            cfg=model.train_cfg.rpn_proposal)
        dets = reference.predict_bbox(
            x, metas, expected_proposals, reference.test_cfg,
            rescale=False)[0]
    assert len(proposals[0]) == len(expected_proposals[0]) == 300
    torch.testing.assert_close(proposals[0].bboxes,
                               expected_proposals[0].bboxes)
    assert len(dets) == 20
    # Beyond the original image's 64 px width: the input's frame.
    assert dets.bboxes[:, 2].max() > 64
    torch.testing.assert_close(rois.boxes, dets.bboxes)
    assert torch.equal(rois.labels, dets.labels)
    # Each is paired with the instance of its class of largest box IoU.
    gt_inds = same_class_best_box(dets.bboxes, dets.labels, gt)
    assert torch.equal(rois.gt_inds, gt_inds)
    assert (gt_inds >= 0).any() and (gt_inds < 0).any()
    # The loss: 0.5 x the mean squared error over every detection, with
    # mmdet's targets of the masks of their predicted class.
    with torch.no_grad():
        expected_masks = head._mask_forward(x, bbox2roi([dets.bboxes]))
    expected_masks = expected_masks['mask_preds'][torch.arange(20),
                                                  dets.labels]
    torch.testing.assert_close(mask_preds, expected_masks)
    targets = mmdet_maskiou_targets(dets.bboxes, gt_inds, dets.labels, gt,
                                    expected_masks, model.train_cfg.rcnn)
    assert ((targets > 0) & (targets < 1)).any() and (targets == 0).any()
    expected_loss = 0.5 * ((pred.detach() - targets)**2).mean()
    torch.testing.assert_close(out['loss_mask_iou_det'], expected_loss)
    # Found and masked without gradient: the loss trains the head alone.
    model.zero_grad()
    out['loss_mask_iou_det'].backward()
    for name, param in model.named_parameters():
        trained = param.grad is not None and param.grad.abs().sum() > 0
        assert trained == name.startswith('roi_head.mask_iou_head.'), name


def test_detection_settings_missing_keys_come_from_the_test_cfg(monkeypatch):
    # Only max_per_img given: score_thr and NMS are test_cfg.rcnn's.
    model = build_study(add_detections=True)
    model.train_cfg.rcnn.mask_iou_detections = dict(max_per_img=5)
    head = model.roi_head
    seen = []
    iou_loss = head.mask_iou_head.loss_and_target
    monkeypatch.setattr(
        head.mask_iou_head, 'loss_and_target',
        lambda *a, **k: (k.get('keep_all') and seen.append(a[3])) or
        iou_loss(*a, **k))
    batch = make_batch(seed=4)
    batch['data_samples'][0].gt_instances.labels %= 3
    out = losses(model, batch)
    assert torch.isfinite(out['loss_mask_iou_det'])
    assert len(seen[0][0].boxes) == 5
    # score_thr is test_cfg.rcnn's too: above every score, no detection
    # reaches the head and the loss is a zero.
    seen.clear()
    model.roi_head.test_cfg.score_thr = 1.1
    out = losses(model, batch)
    assert seen == [] and out['loss_mask_iou_det'].item() == 0


def test_detections_without_any_settings_are_refused():
    # A model built for training only (no test_cfg) and no
    # mask_iou_detections: nothing says which detections to score.
    model = build_study(add_detections=True)
    model.train_cfg.rcnn.pop('mask_iou_detections', None)
    model.roi_head.test_cfg = None
    batch = make_batch(seed=4)
    batch['data_samples'][0].gt_instances.labels %= 3
    with pytest.raises(ValueError, match=r'train_cfg\.rcnn\.mask_iou_'
                       r'detections and.*test_cfg\.rcnn; the model has '
                       r'neither'):
        losses(model, batch)
