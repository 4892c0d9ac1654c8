"""Export a config and checkpoint to one ONNX file.

The file's graph is the model's registered graph
(:func:`~ms_rcnn.deploy.graph.build_graph`); its metadata
(``metadata_props``) holds one entry, :data:`~.settings.SETTINGS_KEY`: the
JSON of the settings that the graph froze and that the detector needs
around it (:func:`ms_rcnn.deploy.settings.settings`).
"""
import copy
import json
import logging
import os.path as osp
from typing import Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import load_checkpoint

from ms_rcnn import register_all_modules
from ms_rcnn.registry import MODELS
from .graph import build_graph
from .settings import INPUTS, SETTINGS_KEY, load_config, output_names, settings

# onnxruntime's RoiAlign has half_pixel coordinates from opset 16 on; the
# dynamo exporter writes opset 18 and later.
OPSET = 18


def build_model(config: Union[str, Config],
                checkpoint: Optional[str] = None) -> torch.nn.Module:
    """The config's detector in eval mode on the CPU, with the checkpoint's
    weights, or, when ``checkpoint`` is None, the config's random
    initialisation (``init_weights``; a pretrained backbone is not
    downloaded but initialised like the rest). ``model.cfg`` is the
    config, as mmdet's ``init_detector`` sets it."""
    # Also lets mmengine load its training checkpoints under torch >= 2.6.
    register_all_modules(init_default_scope=False)
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
        try:
            model.init_weights()
        finally:
            logger.setLevel(level)
    model.cfg = cfg
    return model.eval()


def export_model(model: torch.nn.Module,
                 output: str,
                 shape: Sequence[int] = (800, 1344)) -> str:
    """Export a built detector to ``output``.

    Args:
        model (nn.Module): Detector in eval mode with its config as
            ``model.cfg`` (:func:`build_model`, mmdet's ``init_detector``).
        output (str): Path of the ``.onnx`` file to write.
        shape (tuple[int]): (H, W) of the example image that the export
            traces with; any other size runs too.

    Returns:
        str: ``output``.

    Raises:
        UnsupportedModelError: The model has a component that the export
            does not handle (named in the message).
    """
    out_dir = osp.dirname(osp.abspath(output))
    if not osp.isdir(out_dir):
        raise FileNotFoundError(f'ONNX export: the folder of {output} does '
                                'not exist')
    cfg = getattr(model, 'cfg', None)
    if not isinstance(cfg, Config):
        raise ValueError('ONNX export: the model has no config as model.cfg '
                         '(build it with ms_rcnn.deploy.build_model or '
                         'mmdet.apis.init_detector)')
    # Registers the torch ops that the graph calls (see ms_rcnn.deploy).
    from .ops import ONNX_TRANSLATIONS
    graph = build_graph(model).eval()
    height, width = shape
    img = torch.zeros(1, 3, height, width)
    img_shape = torch.tensor([height, width])
    dims = {2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}
    with torch.no_grad():
        program = torch.onnx.export(
            graph, (img, img_shape),
            dynamo=True,
            input_names=list(INPUTS),
            output_names=list(output_names(cfg.model)),
            dynamic_shapes={'img': dims, 'img_shape': None},
            custom_translation_table=ONNX_TRANSLATIONS,
            opset_version=OPSET,
            external_data=False)
    # The model's own test settings: those the graph read.
    program.model.metadata_props[SETTINGS_KEY] = json.dumps(
        settings(cfg, model.test_cfg))
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
