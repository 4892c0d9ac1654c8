"""fit_mask_score.py: the exponent of the mask score, fitted on the training
set; hand-computed APs, and the tool on a tiny generated dataset."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from ms_rcnn.evaluation.metrics import MaskIoUCalibrationMetric
from ms_rcnn.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'quickstart', 'ms-rcnn_quickstart.py')


def load_tool():
    path = osp.join(ROOT, 'tools', 'analysis_tools', 'fit_mask_score.py')
    spec = importlib.util.spec_from_file_location('fit_mask_score', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def square(x0, size=12):
    mask = np.zeros((size, size), np.uint8)
    mask[0:4, x0:x0 + 4] = 1
    return mask


def test_fit_exponent_by_hand(tmp_path):
    # One 4x4 ground truth. A true positive (IoU 1, class score 0.6,
    # predicted IoU 0.9) and a false positive (IoU 1/3, 0.9, 0.3). Ranked
    # by score * IoU ** b: b = 0 and 0.25 put the FP first (0.9 > 0.6 and
    # 0.666 > 0.584): AP 0.5; from b = 0.5 on the TP comes first (0.569 >
    # 0.493): AP 1. The best is the smallest b of AP 1.
    gt = mask_util.encode(np.asfortranarray(square(0)[..., None]))[0]
    ann = dict(
        images=[dict(id=1, file_name='1.png', height=12, width=12)],
        annotations=[
            dict(
                id=1, image_id=1, category_id=1, iscrowd=0, area=16,
                bbox=[0, 0, 4, 4],
                segmentation=dict(
                    size=gt['size'], counts=gt['counts'].decode()))
        ],
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


def test_fits_on_the_training_images(tiny_shapes, tmp_path):
    # The quick-start model, randomly initialised, on the 8 training images
    # of the tiny set (not its 2 validation images).
    root = tiny_shapes['data_root'] + '/'
    options = [
        f'train_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        'model.test_cfg.rcnn.score_thr=0.0'
    ]
    cfg = Config.fromfile(CONFIG)
    init_default_scope('ms_rcnn')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    checkpoint = str(tmp_path / 'model.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    tool = load_tool()
    fit = tool.main([
        CONFIG, checkpoint, '--exponents', '0', '1', '--cfg-options', *options
    ])
    assert fit['images'] == 8
    assert set(fit['segm_mAP']) == {0.0, 1.0}
    # The printed option sets the fitted exponent.
    key, value = fit['cfg_options'].split('=')
    parsed = DictAction._parse_iterable(value.strip('"'))
    cfg.merge_from_dict({key: parsed})
    assert tuple(cfg.model.roi_head.mask_iou_head.score_exponents) == (
        1.0, fit['best'])
