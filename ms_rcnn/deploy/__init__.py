"""Export (MS) Mask R-CNN to ONNX and run it with onnxruntime.

- :func:`export_onnx`: config + checkpoint -> one ``.onnx`` file;
- :func:`quantize_int8`: a float file -> an int8 one;
- :class:`OnnxMaskScoringDetector`: runs it, returns mmdet's results;
- :func:`largest_differences`: compares two models' detections.

The export needs ``onnx`` and ``onnxscript``, the detector ``onnxruntime``
(``pip install "ms_rcnn[deploy]"``); each is imported where it is used.

Importing this package registers :class:`OnnxMaskScoringDetector` in
ms_rcnn's ``MODELS``, :class:`~.graph.DetectorGraph` as the graph of
``StandardRoIHead`` and ``MaskScoringRoIHead`` (:func:`register_graph`),
and the torch ops ``ms_rcnn::roi_align`` and ``ms_rcnn::nms``
(:mod:`.ops`); it imports neither onnx, onnxruntime nor ``mmdet.apis``.
"""
from .detector import OnnxMaskScoringDetector
from .export import build_model, export_model, export_onnx
from .graph import DetectorGraph
from .quantize import quantize_int8
from .settings import INPUTS, OUTPUTS, load_config, output_names
from .support import UnsupportedModelError, check_supported, register_graph
from .verify import largest_differences

__all__ = [
    'DetectorGraph', 'INPUTS', 'OUTPUTS', 'OnnxMaskScoringDetector',
    'UnsupportedModelError', 'build_model', 'check_supported',
    'export_model', 'export_onnx', 'largest_differences', 'load_config',
    'output_names', 'quantize_int8', 'register_graph'
]
