"""The config side of an export: loading it, and the settings that an
export froze, written into the file and checked against a config.

The graph holds the model's test settings (``test_cfg``: RPN and R-CNN
top-k, NMS, ``score_thr``, ``max_per_img``), its number of classes and
whether the MaskIoU head writes the mask score to ``scores`` too
(``overwrite_scores``); the detector that runs it needs the data
preprocessor that the weights expect (``mean``, ``std``, ``bgr_to_rgb``,
``pad_size_divisor``) and the class names. :func:`settings`
lists them as flat keys (``'model.test_cfg.rcnn.score_thr': 0.05``); the
export stores them as JSON in the file's ``metadata_props`` under
:data:`SETTINGS_KEY`, and :func:`check_settings` refuses a config that
disagrees, naming each key and both values; :func:`check_fits` also
refuses a file of other inputs or outputs.

``model.test_cfg.rcnn.mask_thr_binary`` and ``mask2polygon`` are recorded
too but not compared: they act after the graph (the mask paste, the
polygons), where the config's values apply. Options given with the config
(``--cfg-options``) are refused when they change the model (``model.*``)
where the file records nothing: the graph would ignore them.
"""
import json
from typing import Iterator, Optional, Tuple, Union

from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope

SETTINGS_KEY = 'ms_rcnn.settings'
# The graph's inputs and outputs (see ms_rcnn.deploy.graph).
INPUTS = ('img', 'img_shape')
OUTPUTS = ('boxes', 'labels', 'scores', 'mask_scores', 'mask_probs')
PREPROCESSOR_KEYS = ('mean', 'std', 'bgr_to_rgb', 'pad_size_divisor')
# Applied by the detector after the graph, from the config it is given.
AFTER_GRAPH = ('model.test_cfg.rcnn.mask_thr_binary',
               'model.test_cfg.rcnn.mask2polygon')
# Built by the detector before the graph, from the config it is given: an
# option under it applies (and must still match the recorded keys).
BEFORE_GRAPH = ('model.data_preprocessor', )


def load_config(config: Union[str, Config]) -> Config:
    """The config, from a path or as given, with its default scope set.

    Registering the modules is the caller's (``register_all_modules``):
    :func:`~ms_rcnn.deploy.export.build_model` and
    :class:`~ms_rcnn.deploy.detector.OnnxMaskScoringDetector` do it.
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    return cfg


def output_names(model_cfg: ConfigDict) -> tuple:
    """The graph outputs of an export of the model of ``model_cfg``:
    :data:`OUTPUTS`, without ``mask_scores`` for a model without a MaskIoU
    head."""
    if model_cfg.roi_head.get('mask_iou_head') is not None:
        return OUTPUTS
    return tuple(name for name in OUTPUTS if name != 'mask_scores')


def _leaves(prefix: str, value) -> Iterator[Tuple[str, object]]:
    """(dotted key, value) of each non-dict value inside ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(f'{prefix}.{key}', item)
    else:
        yield prefix, value


def _flat(prefix: str, value, out: dict) -> dict:
    for key, item in _leaves(prefix, value):
        # JSON's view of the value: tuples are lists, 1 == 1.0.
        out[key] = json.loads(json.dumps(item))
    return out


def config_classes(cfg: Config) -> Optional[list]:
    """The class names of ``cfg``'s test dataset: its ``metainfo``, else
    its dataset class's; None when neither is known."""
    from ms_rcnn.registry import DATASETS
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is None and isinstance(dataset.get('type'), str):
        dataset_cls = DATASETS.get(dataset.type)
        classes = getattr(dataset_cls, 'METAINFO', {}).get('classes')
    return None if classes is None else list(classes)


def settings(cfg: Config, test_cfg: Optional[ConfigDict] = None) -> dict:
    """The flat settings of ``cfg``'s model (see the module's docstring).

    Args:
        cfg (Config): A whole config (the class names come from its test
            dataset).
        test_cfg (ConfigDict, optional): The test settings to record in
            place of ``cfg.model.test_cfg`` (a built model's own).

    Returns:
        dict: ``{'model.data_preprocessor.mean': [...], ...,
        'model.test_cfg.rpn.nms_pre': 1000, ..., 'classes': [...]}``.
    """
    model = cfg.model
    preprocessor = model.data_preprocessor
    out = {
        f'model.data_preprocessor.{key}': json.loads(
            json.dumps(preprocessor.get(key)))
        for key in PREPROCESSOR_KEYS
    }
    _flat('model.test_cfg',
          model.test_cfg if test_cfg is None else test_cfg, out)
    bbox_head = model.roi_head.bbox_head
    if isinstance(bbox_head, (list, tuple)):  # a cascade's stages
        bbox_head = bbox_head[-1]
    out['model.roi_head.bbox_head.num_classes'] = bbox_head.num_classes
    iou_head = model.roi_head.get('mask_iou_head')
    if iou_head is not None:
        # Where the graph puts the mask scores; MaskIoUHead's default.
        out['model.roi_head.mask_iou_head.overwrite_scores'] = iou_head.get(
            'overwrite_scores', False)
    out['classes'] = config_classes(cfg)
    return out


def _under(key: str, prefixes: tuple) -> bool:
    return any(key == k or key.startswith(k + '.') for k in prefixes)


def _after_graph(key: str) -> bool:
    return _under(key, AFTER_GRAPH)


def check_settings(recorded: Optional[str],
                   cfg: Config,
                   onnx_file: str,
                   config_name: str,
                   cfg_options: Optional[dict] = None) -> None:
    """Raise ValueError naming every setting in which ``cfg`` differs from
    the one recorded in the file (``recorded``: the JSON of
    :func:`settings`, None when the file has none), or every option of
    ``cfg_options`` (merged into ``cfg``) that sets a ``model.*`` key that
    the file does not record, outside :data:`BEFORE_GRAPH` and
    :data:`AFTER_GRAPH` (e.g. ``model.backbone.depth``: the graph holds
    the exported backbone and would ignore it)."""
    if recorded is None:
        raise ValueError(
            f'{onnx_file} records no export settings ({SETTINGS_KEY}); it '
            'was not written by this version of '
            'tools/deployment/pytorch2onnx.py: export it again')
    recorded = json.loads(recorded)
    ignored = [
        f'{key}={value!r}'
        for option, option_value in (cfg_options or {}).items()
        for key, value in _leaves(option, option_value)
        if key.startswith('model.') and key not in recorded
        and not _under(key, AFTER_GRAPH + BEFORE_GRAPH)
    ]
    if ignored:
        raise ValueError(
            f'{onnx_file} holds the model as exported and records no '
            'setting for these options, which would be ignored (export '
            'again with them):\n  ' + '\n  '.join(ignored))
    current = settings(cfg)
    absent = '(absent)'
    differences = [
        f'{key}: {recorded.get(key, absent)!r} in the file, '
        f'{current.get(key, absent)!r} in the config'
        for key in sorted(set(recorded) | set(current))
        if not _after_graph(key)
        and recorded.get(key, absent) != current.get(key, absent)
    ]
    if differences:
        raise ValueError(
            f'{onnx_file} does not fit {config_name}; the export froze '
            'these settings (export again to change them):\n  ' +
            '\n  '.join(differences))


def check_fits(session,
               onnx_file: str,
               cfg: Config,
               config_name: str,
               cfg_options: Optional[dict] = None):
    """Raise ValueError if the session's file is not an export of a model
    like ``cfg``'s: other inputs or outputs, settings that the export
    froze otherwise than ``cfg`` has them, or ``cfg_options`` of the model
    that the file does not record (see :func:`check_settings`);
    ``session``: onnxruntime's of the file."""
    inputs = tuple(i.name for i in session.get_inputs())
    outputs = tuple(o.name for o in session.get_outputs())
    if inputs != INPUTS:
        raise ValueError(f'{onnx_file} is not an ms_rcnn export: its inputs '
                         f'are {list(inputs)}, not {list(INPUTS)}')
    expected = output_names(cfg.model)
    if outputs != expected:
        raise ValueError(
            f'{onnx_file} does not fit {config_name}: its outputs are '
            f'{list(outputs)}, the config\'s model gives {list(expected)}')
    meta = session.get_modelmeta().custom_metadata_map
    check_settings(meta.get(SETTINGS_KEY), cfg, onnx_file, config_name,
                   cfg_options)
