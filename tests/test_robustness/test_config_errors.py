"""An unknown `type` names the scopes searched and the closest names."""
import importlib.util

import pytest
from mmengine.registry import init_default_scope
from robustness_testing import ROOT, tiny_cfg

from ms_rcnn.registry import MODELS, TRANSFORMS
from ms_rcnn.utils.registry_hints import UnknownTypeError, registry_hints


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        f'{name}_tool', ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_unknown_model_type_in_train_tool(tiny_shapes, tmp_path):
    cfg = tiny_cfg(tiny_shapes, tmp_path / 'work')
    cfg.model.roi_head.mask_iou_head.type = 'MaskIoUHed'
    config = str(tmp_path / 'typo.py')
    cfg.dump(config)
    with pytest.raises(UnknownTypeError) as info:
        _tool('train').main([config])
    message = str(info.value)
    first = message.splitlines()[0]
    # The closest name first; the others depend on what else is registered
    # (a project's heads, when its tests run in the same session).
    assert first.startswith(
        "unknown type 'MaskIoUHed': not in the model registry (scopes "
        'searched: ms_rcnn -> mmdet -> mmengine); closest registered names: '
        'MaskIoUHead, ')
    assert len(first.split('closest registered names: ')[1].split(', ')) == 5
    assert message == first  # mmengine did not wrap it: nothing to add


def test_unknown_transform_type():
    init_default_scope('ms_rcnn')
    with pytest.raises(UnknownTypeError) as info, registry_hints():
        TRANSFORMS.build(dict(type='CheckedLoadImageFromFiel'))
    assert str(info.value).startswith(
        "unknown type 'CheckedLoadImageFromFiel': not in the transform "
        'registry (scopes searched: ms_rcnn -> mmdet -> mmengine); closest '
        'registered names: CheckedLoadImageFromFile, ')


def test_case_and_no_match():
    init_default_scope('ms_rcnn')
    with pytest.raises(
            UnknownTypeError, match='closest registered names: '
            'MaskScoringRCNN'), registry_hints():
        MODELS.build(dict(type='maskscoringrcnn'))
    with pytest.raises(
            UnknownTypeError,
            match='no registered name is close'), registry_hints():
        MODELS.build(dict(type='Zzzzzzzzzzzz'))


def test_other_key_errors_pass_through():
    with pytest.raises(KeyError) as info, registry_hints():
        raise KeyError('img_path')
    assert type(info.value) is KeyError
