"""Export (MS) Mask R-CNN to ONNX and run it with onnxruntime.

- :func:`export_onnx`: config + checkpoint -> one ``.onnx`` file;
- :class:`OnnxMaskScoringDetector`: runs it, returns mmdet's results;
- :func:`largest_differences`: compares two models' detections.

The export needs ``onnx`` and ``onnxscript``, the detector ``onnxruntime``
(``pip install "ms_rcnn[deploy]"``).
"""
from .detector import OnnxMaskScoringDetector
from .export import (INPUTS, OUTPUTS, build_model, export_model, export_onnx,
                     load_config)
from .support import UnsupportedModelError, check_supported
from .verify import largest_differences

__all__ = [
    'INPUTS', 'OUTPUTS', 'OnnxMaskScoringDetector', 'UnsupportedModelError',
    'build_model', 'check_supported', 'export_model', 'export_onnx',
    'largest_differences', 'load_config'
]
