"""quantize_int8 on the quick-start export: int8 convolutions and fully
connected layers (QDQ), everything else float, the float file's settings
kept; the int8 file runs under the same config."""
import json

import onnx
import pytest
import torch

from ms_rcnn.deploy import OnnxMaskScoringDetector, quantize_int8
from ms_rcnn.deploy.detector import detect
from ms_rcnn.deploy.quantize import QUANTIZATION_KEY
from ms_rcnn.deploy.settings import SETTINGS_KEY
from ms_rcnn.deploy.verify import match

from deploy_testing import QUICKSTART

CONFIG = str(QUICKSTART / 'ms-rcnn_quickstart.py')


@pytest.fixture(scope='module')
def int8_file(ms_export, shapes_images, tmp_path_factory):
    path = str(tmp_path_factory.mktemp('int8') / 'ms-rcnn.int8.onnx')
    return quantize_int8(ms_export[1], path, CONFIG, shapes_images[:8])


def producers(graph):
    return {out: node for node in graph.node for out in node.output}


def test_convolutions_and_fcs_are_int8_the_rest_float(ms_export, int8_file):
    graph = onnx.load(int8_file).graph
    made_by = producers(graph)
    ops = [node.op_type for node in graph.node]
    quantized = [n for n in graph.node if n.op_type in ('Conv', 'Gemm',
                                                        'MatMul')]
    # Every convolution and fully connected layer reads int8 weights and
    # uint8 activations through DequantizeLinear (QDQ format).
    assert len(quantized) >= 40
    for node in quantized:
        assert [made_by[name].op_type for name in node.input[:2]] == [
            'DequantizeLinear', 'DequantizeLinear'], node.name
    # RoiAlign and NMS stay float ops; no integer kernels of them.
    assert ops.count('RoiAlign') == 8  # 4 levels, box and mask RoIs
    assert ops.count('NonMaxSuppression') == 2
    assert not [op for op in ops if op.startswith('QLinear')]
    # The float file has the same layers, none quantized.
    float_ops = [n.op_type for n in onnx.load(ms_export[1]).graph.node]
    assert 'DequantizeLinear' not in float_ops
    assert float_ops.count('RoiAlign') == 8


def test_int8_file_keeps_the_settings_and_runs_under_the_config(
        ms_export, int8_file, shapes_images):
    meta = {p.key: p.value for p in onnx.load(int8_file).metadata_props}
    float_meta = {p.key: p.value
                  for p in onnx.load(ms_export[1]).metadata_props}
    assert meta[SETTINGS_KEY] == float_meta[SETTINGS_KEY]
    assert json.loads(meta[SETTINGS_KEY])['model.test_cfg.rcnn.'
                                          'score_thr'] == 0.05
    assert meta[QUANTIZATION_KEY] == 'int8 Conv,MatMul,Gemm'
    detector = OnnxMaskScoringDetector(int8_file, CONFIG, num_threads=1)
    images = shapes_images[8:10]  # not calibration images
    with torch.no_grad():
        expected = detect(ms_export[0], images)
    got = detector.detect(images)
    # An approximation of the model: measured, 97 and 100 of the 100
    # detections of each image paired (same label, closest box), with
    # median differences of 0.03-0.07 px and 0.004-0.006 in score. Broken
    # ranges (e.g. uncalibrated activations) would lose the detections.
    for exp, res in zip(expected, got):
        exp, res = exp.pred_instances, res.pred_instances
        ref_inds, res_inds = match(exp, res)
        assert len(exp) == 100 and len(ref_inds) >= 90
        box_diffs = (exp.bboxes[ref_inds] - res.bboxes[res_inds]).abs()
        assert box_diffs.amax(1).median() < 0.5
        score_diffs = (exp.scores[ref_inds] - res.scores[res_inds]).abs()
        assert score_diffs.median() < 0.02


def test_calibration_images_are_checked(ms_export, tmp_path):
    output = str(tmp_path / 'x.onnx')
    with pytest.raises(ValueError, match='needs calibration images'):
        quantize_int8(ms_export[1], output, CONFIG, [])
    with pytest.raises(FileNotFoundError, match='missing.png'):
        quantize_int8(ms_export[1], output, CONFIG,
                      [str(tmp_path / 'missing.png')])
