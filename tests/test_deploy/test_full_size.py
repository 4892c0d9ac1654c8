"""An R-50 FPN export at the config's real test size: a photograph through
ms-rcnn_r50-caffe_fpn_1x_coco's test pipeline (1333x800), onnxruntime
against PyTorch on the config's random initialisation, within the
tolerances of ms_rcnn.deploy.verify, on a ranking whose last cut is not
tied."""
import matplotlib
import pytest
import torch

from ms_rcnn.deploy import (OnnxMaskScoringDetector, build_model,
                            export_model, load_config)
from ms_rcnn.deploy.detector import detect
from ms_rcnn.deploy.graph import build_graph
from ms_rcnn.deploy.verify import ROUNDING, largest_differences, tie_reports

from deploy_testing import ROOT

CONFIG = str(ROOT / 'configs' / 'ms_rcnn' / 'ms-rcnn_r50-caffe_fpn_1x_coco.py')
# A real photograph (512x600) that matplotlib ships; the pipeline resizes
# it to 938x800 (short side 800).
PHOTO = str(
    matplotlib.get_data_path()) + '/sample_data/grace_hopper.jpg'


@pytest.mark.slow
def test_r50_at_full_size_gives_pytorchs_detections(tmp_path):
    cfg = load_config(CONFIG)
    torch.manual_seed(0)
    model = build_model(cfg)  # init_weights, as `pytorch2onnx.py none`
    onnx_file = export_model(model, str(tmp_path / 'r50.onnx'), (800, 1216))
    detector = OnnxMaskScoringDetector(onnx_file, cfg, num_threads=2)
    with torch.no_grad():
        expected = detect(model, [PHOTO])
    got = detector.detect([PHOTO])
    assert got[0].img_shape == (938, 800)
    differences = largest_differences(expected, got)
    assert differences['within_tolerances'] is True
    assert differences['detections'] == 100
    # The last cut, between the 100th and the 101st score after NMS, is
    # not tied (measured: 1.5e-3 apart). The RPN's cuts are (measured:
    # 1.6e-6 at level 2's nms_pre, 9e-6 in its NMS), as on every
    # full-size image tried, and did not change the detections.
    gaps = tie_reports(build_graph(model), detector, [PHOTO])[PHOTO]['gaps']
    assert gaps['rcnn.max_per_img'] > 10 * ROUNDING
