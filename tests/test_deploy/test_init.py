"""Importing ms_rcnn.deploy registers the detector and the standard graph,
and imports neither onnx, onnxruntime nor mmdet.apis (the inferencers)."""
import subprocess
import sys

from deploy_testing import ROOT


def test_import_registers_and_leaves_the_heavy_modules_alone():
    code = (
        'import sys\n'
        'import ms_rcnn.deploy\n'
        'from ms_rcnn.registry import MODELS\n'
        'from ms_rcnn.deploy.support import GRAPHS\n'
        'print(MODELS.get("OnnxMaskScoringDetector").__name__)\n'
        'print(sorted({g.__name__ for g in GRAPHS.values()}))\n'
        'print(sorted(m for m in ("mmdet.apis", "onnx", "onnxruntime", '
        '"onnxscript") if m in sys.modules))\n')
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        'OnnxMaskScoringDetector', "['DetectorGraph']", '[]'
    ]
