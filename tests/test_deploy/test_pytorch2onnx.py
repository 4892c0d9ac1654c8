"""tools/deployment/pytorch2onnx.py on the Mask R-CNN twin of the quick
start: the same export without the MaskIoU head, and --verify's JSON line
of differences against PyTorch."""
import importlib.util
import json

import pytest
import torch

pytest.importorskip(
    'onnxruntime',
    reason='the deploy tests need onnxruntime: pip install '
    '"ms_rcnn[deploy]"')

from deploy_testing import QUICKSTART, ROOT, random_model  # noqa: E402


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
