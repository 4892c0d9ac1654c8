"""tools/test.py evaluates an ONNX export as it evaluates the checkpoint."""
import importlib.util
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / 'configs' / 'quickstart' / 'ms-rcnn_quickstart.py')


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'ms_rcnn_tools_test', ROOT / 'tools' / 'test.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_onnx_file_gives_the_checkpoints_metrics(ms_export, tiny_shapes,
                                                 tmp_path):
    model, onnx_file = ms_export
    checkpoint = str(tmp_path / 'random.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    data_root = tiny_shapes['data_root'].rstrip('/') + '/'
    ann = data_root + 'annotations/val.json'
    options = [
        f'test_dataloader.dataset.data_root={data_root}',
        f'test_evaluator.0.ann_file={ann}',
        f'test_evaluator.1.ann_file={ann}'
    ]
    tool = load_tool()
    metrics = [
        tool.main([CONFIG, path, '--work-dir',
                   str(tmp_path / name), '--cfg-options'] + options)
        for name, path in (('torch', checkpoint), ('onnx', onnx_file))
    ]
    # The random model detects something on these images: the metrics
    # compare real detections, not two empty results.
    assert metrics[0]['calib/num_preds'] > 0
    assert metrics[1].keys() == metrics[0].keys()
    # COCO AP is rounded to 3 digits and equal; the correlations differ by
    # float rounding only (scores within 1e-4, see test_detector.py).
    assert {k: v for k, v in metrics[1].items() if k.startswith('coco/')} \
        == {k: v for k, v in metrics[0].items() if k.startswith('coco/')}
    assert metrics[1] == pytest.approx(metrics[0], abs=1e-4, nan_ok=True)


def test_options_that_the_export_froze_are_refused(ms_export, tiny_shapes,
                                                   tmp_path):
    # The detector gets the config with the options applied: score_thr is
    # in the graph, so the file does not fit it.
    data_root = tiny_shapes['data_root'].rstrip('/') + '/'
    with pytest.raises(ValueError, match=r'model.test_cfg.rcnn.score_thr: '
                       r'0.05 in the file, 0.5 in the config'):
        load_tool().main([
            CONFIG, ms_export[1], '--work-dir',
            str(tmp_path), '--cfg-options',
            f'test_dataloader.dataset.data_root={data_root}',
            'model.test_cfg.rcnn.score_thr=0.5'
        ])


def test_model_options_that_the_file_does_not_record_are_refused(
        ms_export, tiny_shapes, tmp_path):
    # Before, these were merged into the config and ignored: the graph
    # holds the exported backbone and box head.
    data_root = tiny_shapes['data_root'].rstrip('/') + '/'
    with pytest.raises(ValueError, match=r'records no setting for these '
                       r'options.*\n  model.backbone.depth=101\n  '
                       r'model.roi_head.bbox_head.reg_class_agnostic=True$'):
        load_tool().main([
            CONFIG, ms_export[1], '--work-dir',
            str(tmp_path), '--cfg-options',
            f'test_dataloader.dataset.data_root={data_root}',
            'model.backbone.depth=101',
            'model.roi_head.bbox_head.reg_class_agnostic=True',
            'model.test_cfg.rcnn.mask_thr_binary=0.4'
        ])
