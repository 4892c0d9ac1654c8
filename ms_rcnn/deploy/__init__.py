"""Export (MS) Mask R-CNN to ONNX and run it with onnxruntime.

- :func:`export_onnx`: config + checkpoint -> one ``.onnx`` file;
- :func:`quantize_int8`: a float file -> an int8 one;
- :class:`OnnxMaskScoringDetector`: runs it, returns mmdet's results;
- :func:`largest_differences`: compares two models' detections.

The export needs ``onnx`` and ``onnxscript``, the detector ``onnxruntime``
(``pip install "ms_rcnn[deploy]"``); each is imported where it is used.

Importing this package imports none of its modules: each name below loads
its own module when it is first looked up (``register_all_modules``
imports only :mod:`.detector`, which registers
:class:`OnnxMaskScoringDetector` in ms_rcnn's ``MODELS``, with
:mod:`.settings`). :mod:`.graph` registers :class:`~.graph.DetectorGraph`
for ``StandardRoIHead`` and ``MaskScoringRoIHead`` when it is imported,
which :func:`~.support.build_graph` does; the torch ops
``ms_rcnn::roi_align`` and ``ms_rcnn::nms`` (:mod:`.ops`) are registered
when a graph first runs or an export starts.
"""
import importlib

# Public name -> the module of this package that defines it.
_MODULES = {
    'OnnxMaskScoringDetector': 'detector',
    'build_model': 'export',
    'export_model': 'export',
    'export_onnx': 'export',
    'DetectorGraph': 'graph',
    'quantize_int8': 'quantize',
    'INPUTS': 'settings',
    'OUTPUTS': 'settings',
    'load_config': 'settings',
    'output_names': 'settings',
    'UnsupportedModelError': 'support',
    'check_supported': 'support',
    'register_graph': 'support',
    'largest_differences': 'verify',
}

__all__ = sorted(_MODULES)


def __getattr__(name: str):
    if name not in _MODULES:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    module = importlib.import_module(f'{__name__}.{_MODULES[name]}')
    return getattr(module, name)


def __dir__() -> list:
    return sorted(set(globals()) | set(_MODULES))
