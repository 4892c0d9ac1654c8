"""Inference through mmdet's DetInferencer, ours, and demo/image_demo.py."""
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import ms_rcnn
from ms_rcnn.apis.inferencer import MaskScoringInferencer
from ms_rcnn.registry import MODELS

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / 'configs' / 'ms_rcnn' / 'ms-rcnn_r50_fpn_1x_coco.py')


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """Two images and a checkpoint of random weights whose detections pass
    any score threshold (biased classifier)."""
    tmp = tmp_path_factory.mktemp('infer')
    ms_rcnn.register_all_modules()
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.init_cfg = None
    init_default_scope('ms_rcnn')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    with torch.no_grad():
        # Class 0 wins every RoI with probability ~1; masks cover the box.
        model.roi_head.bbox_head.fc_cls.bias[0] = 20.
        model.roi_head.mask_head.conv_logits.bias.fill_(5.)
    classes = tuple(f'class{i}' for i in range(80))
    # Five detections per image: drawing a hundred is slow on CPU.
    cfg.model.test_cfg.rcnn.max_per_img = 5
    cfg.dump(str(tmp / 'config.py'))
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'classes': classes}}},
               tmp / 'model.pth')
    rng = np.random.RandomState(0)
    (tmp / 'images').mkdir()
    for name in ('a.jpg', 'b.png'):
        cv2.imwrite(str(tmp / 'images' / name),
                    rng.randint(0, 255, (96, 128, 3)).astype(np.uint8))
    return tmp


def _check(pred, num=5):
    scores = np.array(pred['scores'])
    mask_scores = np.array(pred['mask_scores'])
    assert len(scores) == len(mask_scores) == len(pred['masks']) == num
    assert pred['labels'] == [0] * num
    assert (mask_scores >= 0).all() and (mask_scores <= scores + 1e-6).all()


def test_ours_on_a_file_and_a_folder(files):
    inferencer = MaskScoringInferencer(
        str(files / 'config.py'), weights=str(files / 'model.pth'),
        device='cpu')
    out = inferencer(
        str(files / 'images' / 'a.jpg'),
        out_dir=str(files / 'o1'),
        no_save_pred=False,
        pred_score_thr=0.5)
    _check(out['predictions'][0])
    saved = json.loads((files / 'o1' / 'preds' / 'a.json').read_text())
    assert saved['mask_scores'] == out['predictions'][0]['mask_scores']
    drawn = cv2.imread(str(files / 'o1' / 'vis' / 'a.jpg'))
    original = cv2.imread(str(files / 'images' / 'a.jpg'))
    assert drawn.shape == original.shape
    assert np.abs(drawn.astype(int) - original).mean() > 5  # masks drawn
    out = inferencer(str(files / 'images'), out_dir=str(files / 'o2'))
    assert len(out['predictions']) == 2
    assert sorted(p.name for p in (files / 'o2' / 'vis').iterdir()) == [
        'a.jpg', 'b.png'
    ]


def test_mmdet_det_inferencer_with_our_scope(files):
    from mmdet.apis import DetInferencer
    inferencer = DetInferencer(
        str(files / 'config.py'), weights=str(files / 'model.pth'),
        scope='ms_rcnn', device='cpu')
    assert type(inferencer.model).__module__.startswith('ms_rcnn.')
    out = inferencer(str(files / 'images' / 'a.jpg'), return_datasamples=True)
    pred = out['predictions'][0].pred_instances
    assert len(pred.mask_scores) == 5
    assert type(inferencer.visualizer).__name__ == 'MaskScoringVisualizer'


def test_model_name_from_our_metafile(files):
    # Name -> configs/ms_rcnn/ms-rcnn_r50-caffe_fpn_1x_coco.py; the local
    # weights replace the metafile's URL (no network here). Caffe-style
    # keys are the same as pytorch-style ones.
    inferencer = MaskScoringInferencer(
        'ms-rcnn_r50-caffe_fpn_1x_coco', weights=str(files / 'model.pth'),
        device='cpu')
    assert inferencer.cfg.model.backbone.style == 'caffe'
    out = inferencer(str(files / 'images' / 'b.png'))
    _check(out['predictions'][0], num=100)


def test_image_demo(files):
    spec = importlib.util.spec_from_file_location(
        'image_demo', ROOT / 'demo' / 'image_demo.py')
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    out = demo.main([
        str(files / 'images'),
        str(files / 'config.py'), '--weights',
        str(files / 'model.pth'), '--out-dir',
        str(files / 'demo')
    ])
    assert len(out['predictions']) == 2
    assert (files / 'demo' / 'vis' / 'b.png').is_file()
    saved = json.loads((files / 'demo' / 'preds' / 'b.json').read_text())
    _check(saved)
