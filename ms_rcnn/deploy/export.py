"""Export a config and checkpoint to one ONNX file.

The file's graph is :class:`~ms_rcnn.deploy.graph.DetectorGraph`: inputs
``img`` (1, 3, H, W) float32, normalised and padded as the config's data
preprocessor does, with H and W dynamic, and ``img_shape`` (2, ) int64, the
(height, width) of the image inside the padding; outputs :data:`OUTPUTS`
(without ``mask_scores`` for a model without a MaskIoU head). Its metadata
records the number of classes and whether ``mask_scores`` is there, so that
:class:`~ms_rcnn.deploy.detector.OnnxMaskScoringDetector` can refuse a file
that does not fit the config it is given.
"""
import copy
import logging
import os.path as osp
from typing import Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import ms_rcnn
from ms_rcnn.registry import MODELS
from .graph import DetectorGraph
from .ops import ONNX_TRANSLATIONS

INPUTS = ('img', 'img_shape')
OUTPUTS = ('boxes', 'labels', 'scores', 'mask_scores', 'mask_probs')
# onnxruntime's RoiAlign has half_pixel coordinates from opset 16 on; the
# dynamo exporter writes opset 18 and later.
OPSET = 18
# Key of the number of classes in the file's metadata_props.
NUM_CLASSES_KEY = 'ms_rcnn.num_classes'


def load_config(config: Union[str, Config]) -> Config:
    """The config, from a path or as given, with ms_rcnn's modules
    registered and the config's default scope set."""
    ms_rcnn.register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    return cfg


def build_model(config: Union[str, Config],
                checkpoint: Optional[str] = None) -> torch.nn.Module:
    """The config's detector in eval mode on the CPU, with the checkpoint's
    weights, or, when ``checkpoint`` is None, the config's random
    initialisation (``init_weights``; a pretrained backbone is not
    downloaded but initialised like the rest)."""
    cfg = load_config(config)
    model_cfg = cfg.model
    if checkpoint is None and model_cfg.backbone.get('init_cfg'):
        model_cfg = copy.deepcopy(model_cfg)
        model_cfg.backbone.init_cfg = None
    model = MODELS.build(model_cfg)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    else:
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)  # one line per initialised weight
        model.init_weights()
        logger.setLevel(level)
    model.cfg = cfg
    return model.eval()


def output_names(model: torch.nn.Module) -> tuple:
    """:data:`OUTPUTS` of ``model``'s graph."""
    if hasattr(model.roi_head, 'mask_iou_head'):
        return OUTPUTS
    return tuple(name for name in OUTPUTS if name != 'mask_scores')


def export_model(model: torch.nn.Module,
                 output: str,
                 shape: Sequence[int] = (800, 1344)) -> str:
    """Export a built detector to ``output``.

    Args:
        model (nn.Module): Detector in eval mode (see
            :func:`ms_rcnn.deploy.support.check_supported`).
        output (str): Path of the ``.onnx`` file to write.
        shape (tuple[int]): (H, W) of the example image that the export
            traces with; any other size runs too.

    Returns:
        str: ``output``.
    """
    out_dir = osp.dirname(osp.abspath(output))
    if not osp.isdir(out_dir):
        raise FileNotFoundError(f'ONNX export: the folder of {output} does '
                                'not exist')
    graph = DetectorGraph(model).eval()
    height, width = shape
    img = torch.zeros(1, 3, height, width)
    img_shape = torch.tensor([height, width])
    dims = {2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}
    with torch.no_grad():
        program = torch.onnx.export(
            graph, (img, img_shape),
            dynamo=True,
            input_names=list(INPUTS),
            output_names=list(output_names(model)),
            dynamic_shapes={'img': dims, 'img_shape': None},
            custom_translation_table=ONNX_TRANSLATIONS,
            opset_version=OPSET,
            external_data=False)
    program.model.metadata_props[NUM_CLASSES_KEY] = str(
        model.roi_head.bbox_head.num_classes)
    program.save(output, external_data=False)
    return output


def export_onnx(config: Union[str, Config],
                checkpoint: Optional[str],
                output: str,
                shape: Sequence[int] = (800, 1344)) -> str:
    """Export the detector of ``config`` with the weights of
    ``checkpoint`` (None: the config's initialisation) to ``output``.

    Raises:
        UnsupportedModelError: The config has a component that the export
            does not handle (named in the message).
    """
    return export_model(build_model(config, checkpoint), output, shape)
