"""HTC with its semantic branch (as the COCO config has it): parity with
mmdet's HTC, and the MaskIoU head reads the semantic-fused RoI features."""
import pytest
import torch
from cascade_ms_testing import (build_ours, mmdet_twin, semantic_heads,
                                shapes_batch)
from mmdet.structures.bbox import bbox2roi
from mmengine.structures import PixelData
from ms_rcnn_testing import losses, predict

NAME = 'htc-ms_quickstart.py'
# mmdet's COCO semantic branch at the quick start's width.
SEMANTIC = semantic_heads(num_classes=7)


@pytest.fixture(scope='module')
def pair():
    ours = build_ours(NAME, **SEMANTIC)
    return ours, mmdet_twin(ours, NAME, **SEMANTIC)


def _batch_with_stuff(seed):
    """shapes_batch with a stuff map: class 1 + label inside each instance,
    0 elsewhere."""
    batch = shapes_batch(seed=seed)
    sample = batch['data_samples'][0]
    gt = sample.gt_instances
    masks = torch.from_numpy(gt.masks.masks).bool()
    sem_seg = torch.zeros(masks.shape[1:], dtype=torch.long)
    for mask, label in zip(masks, gt.labels):
        sem_seg[mask] = int(label) + 1
    sample.gt_sem_seg = PixelData(sem_seg=sem_seg[None])
    return batch


def test_semantic_predict_and_loss_parity(pair):
    ours, theirs = pair
    assert ours.roi_head.with_semantic and ours.with_semantic
    batch = _batch_with_stuff(seed=5)
    mine, ref = predict(ours, batch), predict(theirs, batch)
    assert len(mine) == len(ref) == 100
    for key in ('bboxes', 'labels', 'scores', 'masks'):
        assert torch.equal(mine[key], ref[key]), key
    assert ((mine.mask_scores >= 0) &
            (mine.mask_scores <= mine.scores)).all()

    mine, ref = losses(ours, batch), losses(theirs, batch)
    assert set(mine) - set(ref) == {'loss_mask_iou'}
    assert 'loss_semantic_seg' in ref
    for key, value in ref.items():
        torch.testing.assert_close(mine[key], value, rtol=0, atol=0)


def test_maskiou_features_include_the_semantic_features(pair, monkeypatch):
    ours, _ = pair
    head, roi_head = ours.roi_head.mask_iou_head, ours.roi_head
    forward, feats = head.forward, []
    monkeypatch.setattr(head, 'forward',
                        lambda f, m: feats.append(f) or forward(f, m))
    batch = _batch_with_stuff(seed=6)
    pred = predict(ours, batch)
    with torch.no_grad():
        x = ours.extract_feat(ours.data_preprocessor(batch, False)['inputs'])
        rois = bbox2roi([pred.bboxes])
        _, semantic_feat = roi_head.semantic_head(x)
        plain = roi_head.mask_roi_extractor[-1](x[:4], rois)
        semantic = roi_head.semantic_roi_extractor([semantic_feat], rois)
    assert semantic.shape == plain.shape == (100, 64, 14, 14)
    torch.testing.assert_close(feats[0], plain + semantic)
    assert not torch.allclose(feats[0], plain)
