"""Export (MS) Mask R-CNN to ONNX and run it with onnxruntime.

- :func:`export_onnx`: config + checkpoint -> one ``.onnx`` file;
- :func:`quantize_int8`: a float file -> an int8 one;
- :class:`OnnxMaskScoringDetector`: runs it, returns mmdet's results;
- :func:`largest_differences`: compares two models' detections.

The export needs ``onnx`` and ``onnxscript``, the detector ``onnxruntime``
(``pip install "ms_rcnn[deploy]"``); each is imported where it is used.

Importing this package imports none of its modules: each name below loads
its own module when it is first looked up. ms_rcnn's ``MODELS`` lists
:mod:`.detector` among its locations, so the first lookup of a model
imports it and registers :class:`OnnxMaskScoringDetector`; the detector's
config side (:mod:`.settings`) loads when one is built.
:mod:`.graph` holds :class:`~.graph.DetectorGraph`, registered for
``StandardRoIHead``, ``MasknessRoIHead`` and ``MaskScoringRoIHead``, and
the registry of graphs (:func:`~.graph.register_graph`,
:func:`~.graph.build_graph`); the torch ops ``ms_rcnn::roi_align`` and
``ms_rcnn::nms`` (:mod:`.ops`) are registered when a graph first runs or
an export starts.
"""
import importlib

# Modules that register graphs of other RoI heads (a project's). A project
# adds its own when it is imported (its configs' custom_imports) and
# build_graph imports them when an export asks for a graph: importing a
# project to train it loads neither its graphs nor ms_rcnn.deploy.graph.
GRAPH_MODULES = []

# Public name -> the module of this package that defines it.
_MODULES = {
    'OnnxMaskScoringDetector': 'detector',
    'build_model': 'export',
    'export_model': 'export',
    'export_onnx': 'export',
    'DetectorGraph': 'graph',
    'register_graph': 'graph',
    'quantize_int8': 'quantize',
    'INPUTS': 'settings',
    'OUTPUTS': 'settings',
    'load_config': 'settings',
    'output_names': 'settings',
    'UnsupportedModelError': 'support',
    'check_supported': 'support',
    'largest_differences': 'verify',
}

__all__ = sorted(['GRAPH_MODULES', *_MODULES])


def __getattr__(name: str):
    if name not in _MODULES:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    module = importlib.import_module(f'{__name__}.{_MODULES[name]}')
    return getattr(module, name)


def __dir__() -> list:
    return sorted(set(globals()) | set(_MODULES))
