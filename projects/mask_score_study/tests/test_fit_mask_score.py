"""tools/fit_mask_score.py: the exponent of the mask score, fitted on the
training set; hand-computed APs, and the tool on a hand-built training set
and predictions whose best exponent is known by hand."""
import importlib.util
import json

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from study_testing import QUICKSTART, ROOT

from ms_rcnn.evaluation.metrics import MaskIoUCalibrationMetric
from ms_rcnn.registry import MODELS

TOOL = ROOT / 'projects' / 'mask_score_study' / 'tools' / 'fit_mask_score.py'


def load_tool():
    spec = importlib.util.spec_from_file_location('fit_mask_score', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def square(x0, size=12, y0=0):
    mask = np.zeros((size, size), np.uint8)
    mask[y0:y0 + 4, x0:x0 + 4] = 1
    return mask


def rle_annotation(mask, ann_id=1, image_id=1, category_id=1):
    """A COCO annotation of ``mask`` (H, W) as RLE."""
    rle = mask_util.encode(np.asfortranarray(mask[..., None]))[0]
    ys, xs = np.nonzero(mask)
    return dict(
        id=ann_id, image_id=image_id, category_id=category_id, iscrowd=0,
        area=int(mask.sum()),
        bbox=[int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1,
              int(np.ptp(ys)) + 1],
        segmentation=dict(size=rle['size'], counts=rle['counts'].decode()))


def test_fit_exponent_by_hand(tmp_path):
    # One 4x4 ground truth. A true positive (IoU 1, class score 0.6,
    # predicted IoU 0.9) and a false positive (IoU 1/3, 0.9, 0.3). Ranked
    # by score * IoU ** b: b = 0 and 0.25 put the FP first (0.9 > 0.6 and
    # 0.666 > 0.584): AP 0.5; from b = 0.5 on the TP comes first (0.569 >
    # 0.493): AP 1. The best is the smallest b of AP 1.
    ann = dict(
        images=[dict(id=1, file_name='1.png', height=12, width=12)],
        annotations=[rle_annotation(square(0))],
        categories=[dict(id=1, name='a')])
    ann_file = tmp_path / 'ann.json'
    ann_file.write_text(json.dumps(ann))
    metric = MaskIoUCalibrationMetric(str(ann_file))
    scores = torch.tensor([0.6, 0.9])
    metric.process({}, [
        dict(
            img_id=1,
            pred_instances=dict(
                masks=torch.from_numpy(np.stack([square(0), square(2)])),
                labels=torch.tensor([0, 0]),
                scores=scores,
                mask_scores=scores * torch.tensor([0.9, 0.3])))
    ])
    fit = load_tool().fit_exponent(
        metric.match(metric.results), metric, [1], (0, 0.25, 0.5, 1, 2))
    assert fit['segm_mAP'] == pytest.approx({
        0.0: 0.5, 0.25: 0.5, 0.5: 1.0, 1.0: 1.0, 2.0: 1.0})
    assert fit['best'] == 0.5


# The hand-built training set: one 16x16 image, one instance of class 0
# (ellipse), the 4x4 square at rows and columns 0..3. Three detections of
# class 0, as (class score s, predicted IoU p, true mask IoU):
# - TP: the square itself, (0.25, 0.5, 1);
# - FP_a: the square moved 2 columns right, (0.84, 0.25, 8 / 24 = 1/3);
# - FP_b: the square moved 2 rows down, (0.055, 1.0, 1/3).
# The FPs match at no COCO IoU threshold (>= 0.5), so segm mAP is 1 when
# the TP ranks first and 1/2 when it ranks second or third (precision 1/2
# or 1/3 at recall 1; 1/3 does not occur below). Ranked by s * p ** b:
# - the TP beats FP_a when 0.25 * 0.5 ** b > 0.84 * 0.25 ** b, i.e.
#   2 ** b > 3.36, b > 1.748;
# - the TP beats FP_b when 0.25 * 0.5 ** b > 0.055, i.e. 2 ** b < 4.545,
#   b < 2.184.
# Of the default grid (0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4) only b = 2
# ranks the TP first (0.0625 against 0.0525 and 0.055): mAP 1 there and
# 1/2 at every other b (FP_a first up to 1.5, e.g. 0.105 against 0.088 at
# 1.5; FP_b first from 3, 0.055 against 0.031 at 3).
DETECTIONS = dict(
    masks=[square(0, 16), square(2, 16), square(0, 16, y0=2)],
    scores=[0.25, 0.84, 0.055],
    pred_ious=[0.5, 0.25, 1.0])


class HandBuiltDetector:
    """Stands in for the detector ``init_detector`` builds (which sets the
    config's default scope too): predicts :data:`DETECTIONS` for every
    image, with the paper's mask score."""

    def __init__(self, cfg):
        self.cfg = cfg
        init_default_scope(cfg.default_scope)

    def eval(self):
        return self

    def test_step(self, batch):
        outputs = []
        for sample in batch['data_samples']:
            scores = torch.tensor(DETECTIONS['scores'])
            out = DetDataSample(metainfo=dict(img_id=sample.img_id))
            out.pred_instances = InstanceData(
                masks=torch.from_numpy(np.stack(DETECTIONS['masks'])),
                labels=torch.zeros(3, dtype=torch.long),
                scores=scores,
                mask_scores=scores * torch.tensor(DETECTIONS['pred_ious']))
            outputs.append(out)
        return outputs


def test_fits_the_exponent_known_by_hand(tmp_path, monkeypatch):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'annotations').mkdir()
    cv2.imwrite(str(tmp_path / 'images' / '1.png'),
                np.zeros((16, 16, 3), np.uint8))
    ann = dict(
        images=[dict(id=1, file_name='1.png', height=16, width=16)],
        annotations=[rle_annotation(square(0, 16))],
        # The quick start's classes, looked up by name.
        categories=[
            dict(id=i + 1, name=name)
            for i, name in enumerate(('ellipse', 'triangle', 'cross'))
        ])
    (tmp_path / 'annotations' / 'train.json').write_text(json.dumps(ann))
    tool = load_tool()
    built = []
    monkeypatch.setattr(
        tool, 'init_detector', lambda cfg, checkpoint, device:
        built.append(HandBuiltDetector(cfg)) or built[-1])
    # A config that scores with other exponents and overwrites the scores:
    # the tool predicts with the paper's product nonetheless.
    fit = tool.main([
        QUICKSTART, 'unused.pth', '--cfg-options',
        f'train_dataloader.dataset.data_root={tmp_path}/',
        'model.roi_head.mask_iou_head.score_exponents=(1.0,3.0)',
        'model.roi_head.mask_iou_head.overwrite_scores=True'
    ])
    iou_head = built[0].cfg.model.roi_head.mask_iou_head
    assert tuple(iou_head.score_exponents) == (1.0, 1.0)
    assert iou_head.overwrite_scores is False
    assert fit['images'] == 1
    assert fit['segm_mAP'] == pytest.approx({
        b: 1.0 if b == 2.0 else 0.5 for b in tool.EXPONENTS})
    assert fit['best'] == 2.0

    # The printed option makes the project's head score s * p ** 2, which
    # ranks the true positive first.
    cfg = Config.fromfile(QUICKSTART)
    key, value = fit['cfg_options'].split('=')
    cfg.merge_from_dict({key: DictAction._parse_iterable(value.strip('"'))})
    init_default_scope('ms_rcnn')
    head = MODELS.build(cfg.model.roi_head.mask_iou_head)
    scores = head.mask_scores(
        torch.tensor(DETECTIONS['scores']),
        torch.tensor(DETECTIONS['pred_ious']))
    torch.testing.assert_close(scores,
                               torch.tensor([0.0625, 0.0525, 0.055]))
