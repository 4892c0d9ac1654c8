"""Every COCO / Cityscapes config builds our classes on CPU, with the same
parameters as mmdet's config of the same name (so its checkpoints load)."""
import sys
import types
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.registry import init_default_scope
from mmengine.utils import get_installed_path

import ms_rcnn.models as ours
from ms_rcnn.registry import MODELS

CONFIG_DIR = Path(__file__).parents[2] / 'configs' / 'ms_rcnn'
MMDET_NAMES = [
    'ms-rcnn_r50_fpn_1x_coco', 'ms-rcnn_r50-caffe_fpn_1x_coco',
    'ms-rcnn_r50-caffe_fpn_2x_coco', 'ms-rcnn_r101-caffe_fpn_1x_coco',
    'ms-rcnn_r101-caffe_fpn_2x_coco', 'ms-rcnn_x101-32x4d_fpn_1x_coco',
    'ms-rcnn_x101-64x4d_fpn_1x_coco', 'ms-rcnn_x101-64x4d_fpn_2x_coco'
]


def _shapes(model_cfg, scope):
    model_cfg.backbone.init_cfg = None  # no download
    init_default_scope(scope)
    if scope == 'mmdet':
        from mmdet.registry import MODELS as registry
    else:
        registry = MODELS
    model = registry.build(model_cfg)
    return model, {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize('name', MMDET_NAMES)
def test_same_parameters_as_mmdet(name):
    cfg = Config.fromfile(str(CONFIG_DIR / f'{name}.py'))
    theirs = get_config(f'mmdet::ms_rcnn/{name}.py')
    assert cfg.train_cfg.max_epochs == theirs.train_cfg.max_epochs
    assert cfg.param_scheduler[1].milestones == \
        theirs.param_scheduler[1].milestones
    assert cfg.model.data_preprocessor == theirs.model.data_preprocessor
    model, mine = _shapes(cfg.model, 'ms_rcnn')
    assert type(model) is ours.MaskScoringRCNN
    assert type(model.roi_head.mask_iou_head) is ours.MaskIoUHead
    _, expected = _shapes(theirs.model, 'mmdet')
    assert mine == expected


def test_cityscapes_config():
    cfg = Config.fromfile(str(CONFIG_DIR / 'ms-rcnn_r50_fpn_1x_cityscapes.py'))
    model, shapes = _shapes(cfg.model, 'ms_rcnn')
    assert type(model.roi_head) is ours.MaskScoringRoIHead
    assert shapes['roi_head.mask_iou_head.fc_mask_iou.weight'] == (8, 1024)
    assert shapes['roi_head.bbox_head.fc_cls.weight'] == (9, 1024)
    assert cfg.train_cfg.max_epochs == 8
    assert cfg.load_from.endswith('-61c9355e.pth')


@pytest.fixture
def torchvision_stub(monkeypatch):
    """mmpretrain 1.2 imports torchvision in modules the backbone never uses
    (metrics, transforms); torchvision cannot sit beside a CPU-only torch
    here, so stand in for it while importing."""
    try:
        import torchvision  # noqa: F401
        return
    except ImportError:
        pass
    names = ['torchvision', 'torchvision.ops', 'torchvision.ops.boxes',
             'torchvision.transforms', 'torchvision.transforms.functional',
             'torchvision.transforms.transforms']
    for name in names:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules['torchvision.transforms.transforms'].InterpolationMode = \
        types.SimpleNamespace(BILINEAR=2, NEAREST=0, BICUBIC=3)
    sys.modules['torchvision'].ops = sys.modules['torchvision.ops']
    sys.modules['torchvision'].transforms = sys.modules[
        'torchvision.transforms']
    sys.modules['torchvision.ops'].boxes = sys.modules['torchvision.ops.boxes']
    sys.modules['torchvision.transforms'].functional = sys.modules[
        'torchvision.transforms.functional']
    sys.modules['torchvision.transforms'].transforms = sys.modules[
        'torchvision.transforms.transforms']


def test_mmpretrain_convnext_config(torchvision_stub):
    import mmpretrain.models  # noqa: F401  (what custom_imports does)
    cfg = Config.fromfile(
        str(CONFIG_DIR / 'ms-rcnn_convnext-t-p4-w7_fpn_1x_coco.py'))
    assert cfg.custom_imports.imports == ['mmpretrain.models']
    model, shapes = _shapes(cfg.model, 'ms_rcnn')
    assert type(model.backbone).__module__.startswith('mmpretrain.')
    assert type(model) is ours.MaskScoringRCNN
    # ConvNeXt-T stages: 96, 192, 384, 768 channels at strides 4..32.
    with torch.no_grad():
        feats = model.extract_feat(torch.rand(1, 3, 64, 64))
    assert [f.shape[1:] for f in feats] == [(256, 16, 16), (256, 8, 8),
                                            (256, 4, 4), (256, 2, 2),
                                            (256, 1, 1)]
    assert shapes['neck.lateral_convs.3.conv.weight'] == (256, 768, 1, 1)


def test_metafile_and_model_index():
    import re

    import yaml
    root = CONFIG_DIR.parents[1]
    index = yaml.safe_load((root / 'model-index.yml').read_text())
    # Every config directory has a metafile, and the index imports it.
    assert sorted(index['Import']) == sorted(
        p.relative_to(root).as_posix()
        for p in (root / 'configs').glob('**/metafile.yml'))
    for metafile in index['Import']:
        for model in yaml.safe_load((root / metafile).read_text())['Models']:
            assert (root / model['Config']).name == model['Name'] + '.py'
            assert (root / model['Config']).parent == (root / metafile).parent
        assert (root / metafile).with_name('README.md').is_file()
    meta = yaml.safe_load((root / index['Import'][0]).read_text())
    published = [m for m in meta['Models'] if 'Weights' in m]
    names = [m['Name'] for m in published]
    assert names == [n for n in MMDET_NAMES if n != 'ms-rcnn_r50_fpn_1x_coco']
    mmdet_meta = yaml.safe_load(
        Path(get_installed_path('mmdet')).joinpath(
            '.mim/configs/ms_rcnn/metafile.yml').read_text())
    theirs = {m['Name']: m for m in mmdet_meta['Models']}
    for model in meta['Models']:
        assert (root / model['Config']).name == model['Name'] + '.py'
        assert (root / model['Config']).is_file()
        assert model['In Collection'] == 'Mask Scoring R-CNN'
    for model in published:
        # The official weights and the numbers published with them.
        assert model['Weights'] == theirs[model['Name']]['Weights']
        assert re.search(r'-[0-9a-f]{8}\.pth$', model['Weights'])
        assert model['Results'] == theirs[model['Name']]['Results']


def unscoped(value):
    """A config value without the ``_scope_`` keys that an mmdet:: base
    gives its dicts."""
    if isinstance(value, dict):
        return {k: unscoped(v) for k, v in value.items() if k != '_scope_'}
    if isinstance(value, (list, tuple)):
        return [unscoped(v) for v in value]
    return value


def test_frozen_mask_rcnn_config_is_the_tools_on_mmdets_mask_rcnn(
        tmp_path, monkeypatch):
    """The COCO config of a MaskIoU head on mmdet's trained Mask R-CNN:
    what tools/add_mask_score.py writes for mmdet's config, loading mmdet's
    model-zoo checkpoint (the metafiles' URL, sha256 prefix in the name),
    whose layout it fits (random weights of mmdet's Mask R-CNN here: no
    download)."""
    import yaml
    name = 'ms-rcnn_r50_fpn_frozen-mask-rcnn-1x_coco'
    cfg = Config.fromfile(str(CONFIG_DIR / f'{name}.py'))
    base = get_config('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py')
    monkeypatch.syspath_prepend(str(CONFIG_DIR.parents[1] / 'tools'))
    from add_mask_score import check_checkpoint, mask_score_config
    tool = mask_score_config(base, cfg.load_from, 'work_dirs/x')
    # The head as written (the defaults of MaskIoUHead) and as the tool
    # sizes it (from the mask head) build the same layers.
    heads = [
        MODELS.build(c.model.roi_head.pop('mask_iou_head'))
        for c in (cfg, tool)
    ]
    assert [(k, v.shape) for k, v in heads[0].state_dict().items()] == [
        (k, v.shape) for k, v in heads[1].state_dict().items()
    ]
    for key in ('model', 'train_cfg', 'param_scheduler', 'custom_hooks',
                'model_wrapper_cfg', 'load_from', 'train_dataloader',
                'test_dataloader', 'val_evaluator'):
        assert unscoped(cfg[key]) == unscoped(tool[key]), key
    assert unscoped(cfg.default_hooks.checkpoint) == unscoped(
        tool.default_hooks.checkpoint)
    ours = yaml.safe_load((CONFIG_DIR / 'metafile.yml').read_text())
    entry = {m['Name']: m for m in ours['Models']}[name]
    mmdet_meta = yaml.safe_load(
        Path(get_installed_path('mmdet')).joinpath(
            '.mim/configs/mask_rcnn/metafile.yml').read_text())
    zoo = {m['Name']: m for m in mmdet_meta['Models']}
    assert cfg.load_from == entry['Metadata']['Load From'] == zoo[
        'mask-rcnn_r50_fpn_1x_coco']['Weights']
    assert entry['Metadata']['Epochs'] == cfg.train_cfg.max_epochs
    # Random weights of mmdet's Mask R-CNN, the layout of the checkpoint.
    base.model.backbone.init_cfg = None
    init_default_scope('mmdet')
    from mmdet.registry import MODELS as mmdet_models
    mask_rcnn = mmdet_models.build(base.model)
    torch.save(dict(state_dict=mask_rcnn.state_dict()), tmp_path / 'mr.pth')
    cfg = Config.fromfile(str(CONFIG_DIR / f'{name}.py'))
    cfg.model.backbone.init_cfg = None
    assert check_checkpoint(cfg, str(tmp_path / 'mr.pth')) == \
        'a new MaskIoU head is trained'


def test_coco_training_skips_bad_samples_by_name():
    from mmengine.registry import TRANSFORMS, HOOKS
    from ms_rcnn.data_checks import (CheckedLoadImageFromFile,
                                     SanitizeInstances)
    cfg = Config.fromfile(str(CONFIG_DIR / 'ms-rcnn_r50-caffe_fpn_1x_coco.py'))
    dataset = cfg.train_dataloader.dataset
    # Built the way the Runner builds it: in the mmdet:: base's scope.
    init_default_scope('ms_rcnn')
    with TRANSFORMS.switch_scope_and_registry(dataset._scope_) as registry:
        assert registry.scope == 'mmdet'
        load = registry.build(dataset.pipeline[0])
        sanitize = registry.build(dataset.pipeline[1])
        annotations = registry.build(dataset.pipeline[2])
    assert type(load) is CheckedLoadImageFromFile and load.skip_bad
    assert type(sanitize) is SanitizeInstances
    assert type(annotations).__module__.startswith('mmdet.')
    assert cfg.test_dataloader.dataset.pipeline[0].type == 'LoadImageFromFile'
    hook = HOOKS.build(cfg.default_hooks.checkpoint)
    assert type(hook).__name__ == 'SafeCheckpointHook'
    assert hook.interval == 1
    assert cfg.custom_hooks == [
        dict(type='NonFiniteLossHook'),
        dict(type='SkippedSampleHook')
    ]
