"""plot_calibration.py on a prediction file written by mmdet's
DumpDetResults, with hand-computed IoUs."""
import importlib.util
import json
import math
import os.path as osp

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from mmdet.evaluation.metrics import DumpDetResults
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    path = osp.join(ROOT, 'tools', 'analysis_tools', 'plot_calibration.py')
    spec = importlib.util.spec_from_file_location('plot_calibration', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def square(y0, x0, size=12):
    mask = np.zeros((size, size), bool)
    mask[y0:y0 + 4, x0:x0 + 4] = True
    return mask


@pytest.fixture
def files(tmp_path):
    """One 12x12 image with a 4x4 ground truth; three detections with IoU 1,
    1/3 (shifted 2 px) and 0, dumped the way ``tools/test.py --out`` does."""
    gt = mask_util.encode(
        np.asfortranarray(square(0, 0)[..., None].astype(np.uint8)))[0]
    ann = dict(
        images=[dict(id=5, file_name='5.png', height=12, width=12)],
        annotations=[
            dict(
                id=1,
                image_id=5,
                category_id=1,
                iscrowd=0,
                area=16,
                bbox=[0, 0, 4, 4],
                segmentation=dict(
                    size=gt['size'], counts=gt['counts'].decode()))
        ],
        categories=[dict(id=1, name='a')])
    ann_file = tmp_path / 'ann.json'
    ann_file.write_text(json.dumps(ann))

    sample = DetDataSample(metainfo=dict(img_id=5, ori_shape=(12, 12)))
    sample.pred_instances = InstanceData(
        bboxes=torch.zeros(3, 4),
        labels=torch.zeros(3, dtype=torch.long),
        scores=torch.tensor([0.9, 0.8, 0.7]),
        mask_scores=torch.tensor([0.9 * 0.95, 0.8 * 0.35, 0.7 * 0.05]),
        masks=torch.from_numpy(
            np.stack([square(0, 0), square(0, 2),
                      square(8, 8)])))
    pkl = str(tmp_path / 'results.pkl')
    dump = DumpDetResults(out_file_path=pkl)
    dump.process({}, [sample.to_dict()])
    dump.compute_metrics(dump.results)
    return pkl, str(ann_file)


def test_plot_from_dumped_predictions(files, tmp_path):
    pkl, ann_file = files
    out = str(tmp_path / 'plots' / 'calib.png')
    stats = load_tool().main([pkl, ann_file, '--out', out, '--num-bins', '4'])
    assert stats['num_preds'] == 3
    # Both scores rank the IoUs (1, 1/3, 0) in order.
    assert stats['spearman_mask_score_iou'] == pytest.approx(1.0)
    assert stats['spearman_cls_score_iou'] == pytest.approx(1.0)
    # Class scores centred (.1, 0, -.1), IoUs (mean 4/9) centred
    # (5/9, -1/9, -4/9): r = (.9/9) / sqrt(.02 * 42/81).
    assert stats['pearson_cls_score_iou'] == pytest.approx(
        0.1 / math.sqrt(0.02 * 42 / 81))
    # Predicted IoUs 0.95, 0.35, 0.05 in bins 3, 1, 0 of 4.
    rel = stats['reliability']
    assert rel['counts'].tolist() == [1, 1, 0, 1]
    np.testing.assert_allclose(rel['mean_actual'][[0, 1, 3]], [0, 1 / 3, 1])
    img = cv2.imread(out)
    assert img is not None and img.shape == (500, 1500, 3)


def test_plot_without_mask_scores(files, tmp_path):
    pkl, ann_file = files
    tool = load_tool()
    results = tool.mmengine.load(pkl)
    results[0]['pred_instances'].pop('mask_scores')
    matched = tool.match_predictions(results, ann_file, score_thr=0.75)
    assert not matched['has_mask_score'].any()
    np.testing.assert_allclose(matched['ious'], [1, 1 / 3])
    out = str(tmp_path / 'plain.png')
    stats = tool.plot_calibration(matched, out)
    assert 'reliability' not in stats and osp.isfile(out)
    assert stats['spearman_mask_score_iou'] == pytest.approx(1.0)


def test_one_row_per_prediction_file(files, tmp_path):
    pkl, ann_file = files
    out = str(tmp_path / 'two.png')
    tool = load_tool()
    stats = tool.main([pkl, pkl, ann_file, '--out', out, '--labels', 'a', 'b'])
    assert len(stats) == 2 and stats[0]['num_preds'] == stats[1]['num_preds']
    assert cv2.imread(out).shape == (1000, 1500, 3)
    with pytest.raises(SystemExit, match='2 prediction files but 1 labels'):
        tool.main([pkl, pkl, ann_file, '--out', out, '--labels', 'a'])
