"""tools/deployment/pytorch2onnx.py on the Mask R-CNN twin of the quick
start: the same export without the MaskIoU head, and --verify's JSON line
of differences against PyTorch; --verify fails on images without
detections and reports the cuts of the images that differ."""
import importlib.util
import json

import pytest
import torch

from deploy_testing import QUICKSTART, ROOT, random_model


def load_tool():
    path = ROOT / 'tools' / 'deployment' / 'pytorch2onnx.py'
    spec = importlib.util.spec_from_file_location('pytorch2onnx', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mask_rcnn_twin_exports_and_verifies(tmp_path, shapes_images,
                                             capsys):
    import onnx
    config = str(QUICKSTART / 'mask-rcnn_quickstart.py')
    checkpoint = str(tmp_path / 'twin.pth')
    torch.save({'state_dict': random_model(config).state_dict()},
               checkpoint)
    output = str(tmp_path / 'twin.onnx')
    status = load_tool().main([
        config, checkpoint, '--output', output, '--shape', '128', '160',
        '--verify'
    ] + shapes_images[:3])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result['within_tolerances'] is True and status == 0
    assert result['images'] == 3 and result['detections'] >= 150
    assert result['count_mismatches'] == result['unmatched'] == 0
    assert result['max_box_diff'] <= 1e-3
    assert result['max_mask_score_diff'] is None  # no MaskIoU head
    outputs = [o.name for o in onnx.load(output).graph.output]
    assert outputs == ['boxes', 'labels', 'scores', 'mask_probs']


def test_missing_output_folder_is_named(tmp_path):
    config = str(QUICKSTART / 'ms-rcnn_quickstart.py')
    output = str(tmp_path / 'no' / 'model.onnx')
    with pytest.raises(FileNotFoundError, match='the folder of .*no/model'):
        load_tool().main([config, 'none', '--output', output])


def test_verify_fails_when_no_image_has_a_detection(ms_export, capsys):
    # A float image of the quick start's mean colour (BGR): all-zero
    # features after normalisation, every box below score_thr (see
    # random_model). A uint8 image is not zero there, and the GN layers
    # scale its small differences up.
    import numpy as np
    img = np.full((64, 96, 3), (103.53, 116.28, 123.675), np.float32)
    model, onnx_file = ms_export
    status = load_tool().verify(model, model.cfg, onnx_file, [img, img])
    out, err = capsys.readouterr()
    result = json.loads(out.strip().splitlines()[-1])
    assert status == 1
    assert result['detections'] == 0 and result['differing'] == []
    assert result['within_tolerances'] is False
    assert 'no image has a detection' in err
    assert '--cfg-options model.test_cfg.rcnn.score_thr=0' in err


def test_verify_reports_the_cuts_of_each_differing_image(
        ms_export, shapes_images, capsys):
    # The file against a model whose classifier moved by 1e-3: every
    # image's scores differ beyond the tolerance.
    import copy
    model, onnx_file = ms_export
    moved = copy.deepcopy(model)
    torch.manual_seed(2)
    moved.roi_head.bbox_head.fc_cls.weight.data += 1e-3 * torch.randn_like(
        moved.roi_head.bbox_head.fc_cls.weight)
    imgs = shapes_images[:2]
    status = load_tool().verify(moved, model.cfg, onnx_file, imgs)
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert status == 1 and result['differing'] == [0, 1]
    assert sorted(result['ties']) == sorted(imgs)
    from mmdet.apis import inference_detector
    # One detection more than max_per_img (100): its score is the first
    # dropped at the last cut, the 100th the last kept.
    moved.roi_head.test_cfg.max_per_img = 101
    with torch.no_grad():
        expected = inference_detector(moved, imgs)
    for img, exp in zip(imgs, expected):
        report = result['ties'][img]
        scores = exp.pred_instances.scores.sort(descending=True).values
        assert len(scores) == 101
        kept, dropped = report['cuts']['rcnn.max_per_img']
        assert kept == pytest.approx(scores[99].item(), abs=1e-6)
        assert dropped == pytest.approx(scores[100].item(), abs=1e-6)
        # Every level of a 128x128 image (after padding) but the finest has
        # at most 768 anchors < nms_pre: one top-k cut per image there.
        assert [k for k in report['cuts'] if 'nms_pre' in k] == [
            'rpn.level0.nms_pre'
        ]


def test_quantize_needs_calibration_images(capsys):
    args = ['cfg.py', 'none', '--output', 'x.onnx', '--quantize', 'int8']
    with pytest.raises(SystemExit):
        load_tool().parse_args(args)
    assert '--quantize int8 needs --calib IMG' in capsys.readouterr().err
    parsed = load_tool().parse_args(args + ['--calib', 'a.png', 'b.png'])
    assert parsed.calib == ['a.png', 'b.png']
    assert load_tool().int8_path('out/x.onnx') == 'out/x.int8.onnx'
