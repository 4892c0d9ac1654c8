"""ms_rcnn's registries: our names under ms_rcnn, mmdet's under mmdet."""
import ast
import logging
import pathlib
import subprocess
import sys
import warnings

import pytest
from mmdet import registry as mmdet_registry
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope, init_default_scope

import ms_rcnn
from ms_rcnn import registry

KINDS = [
    name for name in dir(registry) if name.isupper() and name != 'SCOPE'
]


@pytest.mark.parametrize('kind', KINDS)
def test_every_kind_is_an_ms_rcnn_child(kind):
    reg = getattr(registry, kind)
    assert reg.scope == 'ms_rcnn'
    assert reg.parent is not None
    parent = getattr(mmdet_registry, kind, None)
    if parent is not None:  # mmdet has no FUNCTIONS / INFERENCERS / ...
        assert reg.parent is parent
    assert reg.parent._children['ms_rcnn'] is reg
    # Without locations, mmengine would call ms_rcnn.utils'
    # register_all_modules on the first lookup.
    assert reg._locations


def test_our_names_resolve_to_our_classes():
    ms_rcnn.register_all_modules()
    from ms_rcnn.models import (MaskIoUHead, MaskScoringRCNN,
                                MaskScoringRoIHead)
    init_default_scope('ms_rcnn')
    assert registry.MODELS.get('MaskScoringRCNN') is MaskScoringRCNN
    assert registry.MODELS.get('MaskScoringRoIHead') is MaskScoringRoIHead
    assert registry.MODELS.get('MaskIoUHead') is MaskIoUHead
    from ms_rcnn.evaluation import HmeanIoUMetric, MaskIoUCalibrationMetric
    assert registry.METRICS.get('HmeanIoUMetric') is HmeanIoUMetric
    assert registry.METRICS.get(
        'MaskIoUCalibrationMetric') is MaskIoUCalibrationMetric
    # Through the root registry too, as the Runner builds.
    from mmengine.registry import MODELS as ROOT
    with ROOT.switch_scope_and_registry('ms_rcnn') as reg:
        assert reg.get('MaskIoUHead') is MaskIoUHead


def test_mmdet_scope_is_untouched():
    ms_rcnn.register_all_modules()
    from mmdet.models.roi_heads import MaskScoringRoIHead as MMDetHead
    init_default_scope('mmdet')
    assert mmdet_registry.MODELS.get('MaskScoringRoIHead') is MMDetHead
    from mmengine.registry import MODELS as ROOT
    with ROOT.switch_scope_and_registry('mmdet') as reg:
        assert reg.get('MaskScoringRoIHead') is MMDetHead
        assert reg.get('MaskScoringRoIHead').__module__.startswith('mmdet.')


def test_mmdet_components_build_under_ms_rcnn():
    init_default_scope('ms_rcnn')
    resnet = registry.MODELS.build(dict(type='ResNet', depth=18))
    assert type(resnet).__module__ == 'mmdet.models.backbones.resnet'
    assert resnet.depth == 18
    # mmcv registers a LoadAnnotations of its own in the root registry that
    # takes no `with_mask`: ours must fall back to mmdet's.
    load = registry.TRANSFORMS.build(
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True))
    assert type(load).__module__ == 'mmdet.datasets.transforms.loading'
    assert load.with_mask


class _Warnings(logging.Handler):
    """Collects the warnings of mmengine's logger (it does not propagate)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def mmengine_warnings():
    handler = _Warnings()
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def test_unknown_scope_warns(mmengine_warnings):
    # The check below would be empty if the warning were not collected.
    from mmengine.registry import DATASETS
    init_default_scope('no_such_scope')
    with DATASETS.switch_scope_and_registry(None):
        pass
    assert any('Failed to search registry' in m for m in mmengine_warnings)


def test_building_under_ms_rcnn_warns_nothing(mmengine_warnings):
    from mmengine.registry import (DATASETS, EVALUATOR, FUNCTIONS, HOOKS,
                                   INFERENCERS, LOOPS, METRICS,
                                   OPTIM_WRAPPERS, PARAM_SCHEDULERS,
                                   TRANSFORMS, VISUALIZERS)
    init_default_scope('ms_rcnn')
    for root, name in [(DATASETS, 'CocoDataset'),
                       (TRANSFORMS, 'PackDetInputs'), (METRICS, 'CocoMetric'),
                       (EVALUATOR, 'Evaluator'),
                       (HOOKS, 'DetVisualizationHook'),
                       (LOOPS, 'EpochBasedTrainLoop'),
                       (OPTIM_WRAPPERS, 'OptimWrapper'),
                       (PARAM_SCHEDULERS, 'MultiStepLR'),
                       (VISUALIZERS, 'DetLocalVisualizer'),
                       (FUNCTIONS, 'pseudo_collate'), (INFERENCERS, None)]:
        with root.switch_scope_and_registry(None) as reg:
            assert reg.scope == 'ms_rcnn', root.name
            assert name is None or reg.get(name) is not None, name
    assert not [m for m in mmengine_warnings if 'registry' in m]


SWITCH_WARNING = ('The current default scope "mmdet" is not "ms_rcnn"; '
                  'register_all_modules switches it to "ms_rcnn". Pass '
                  'init_default_scope=False to keep it.')


def test_register_all_modules_switches_the_scope_and_warns():
    init_default_scope('mmdet')
    assert DefaultScope.get_current_instance().scope_name == 'mmdet'
    with pytest.warns(UserWarning) as record:
        ms_rcnn.register_all_modules(init_default_scope=True)
    assert DefaultScope.get_current_instance().scope_name == 'ms_rcnn'
    assert [str(w.message) for w in record
            if 'default scope' in str(w.message)] == [SWITCH_WARNING]
    # Already in ms_rcnn's scope: nothing to say.
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        ms_rcnn.register_all_modules(init_default_scope=True)
    assert DefaultScope.get_current_instance().scope_name == 'ms_rcnn'


def test_register_all_modules_warns_the_first_time_too():
    # A fresh interpreter, where the ms_rcnn scope was never created
    # (in this one, earlier tests have created it).
    code = """
import warnings
from mmengine.registry import DefaultScope, init_default_scope
import ms_rcnn
init_default_scope('mmdet')
with warnings.catch_warnings(record=True) as record:
    warnings.simplefilter('always')
    ms_rcnn.register_all_modules()
print(DefaultScope.get_current_instance().scope_name)
print([str(w.message) for w in record if 'default scope' in str(w.message)])
"""
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.splitlines() == ['ms_rcnn', str([SWITCH_WARNING])]


def test_importing_the_registry_leaves_mmengine_alone():
    # A fresh interpreter: this one has run register_all_modules already.
    code = """
from mmengine.runner import CheckpointLoader
import ms_rcnn.registry
print(CheckpointLoader._schemes[''].__module__)
import ms_rcnn
ms_rcnn.register_all_modules()
print(CheckpointLoader._schemes[''].__module__)
"""
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True,
                         check=True).stdout.split('\n')
    assert out[0] == 'mmengine.runner.checkpoint'
    assert out[1] == 'ms_rcnn.utils.checkpoint'


@pytest.mark.parametrize('module',
                         ['ms_rcnn.data_preparation', 'ms_rcnn.apis.download'])
def test_importing_without_torch(module):
    # The converters and the checkpoint download work without torch.
    code = (f'import sys, {module}; '
            "print(sorted(m for m in ('torch', 'mmdet') "
            'if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True,
                         check=True)
    assert out.stdout.strip() == '[]', out.stderr


def _our_imports(path):
    """The ms_rcnn modules that ``path`` imports (relative ones resolved)."""
    package = '.'.join(path.relative_to(ROOT).with_suffix('').parts[:-1])
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit('.', node.level - 1)[0] if node.level else ''
            names.append('.'.join(filter(None, [base, node.module or ''])))
    return [n for n in names if n.split('.')[0] == 'ms_rcnn']


ROOT = pathlib.Path(ms_rcnn.__file__).parent.parent


def test_utilities_import_nothing_of_ours():
    utils = sorted((ROOT / 'ms_rcnn' / 'utils').glob('*.py'))
    assert len(utils) >= 4
    for path in utils:
        assert _our_imports(path) == [], path.name
    # The check sees relative imports: data_checks imports its own modules.
    assert 'ms_rcnn.data_checks.annotations' in _our_imports(
        ROOT / 'ms_rcnn' / 'data_checks' / '__init__.py')
