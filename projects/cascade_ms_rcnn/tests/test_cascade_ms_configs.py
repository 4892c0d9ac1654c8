"""The project's configs: quick-start twins that differ only in the MaskIoU
head, and COCO configs that are mmdet's plus that head; the quick-start
tool that trains them."""
import copy
import importlib.util
import json
import os.path as osp
import sys

import pytest
from cascade_ms_testing import load_cfg
from mmengine.hub import get_config

# Ours, its twin; (detector, RoI head) types of each.
CASCADE = (('CascadeMaskScoringRCNN', 'CascadeMaskScoringRoIHead'),
           ('CascadeRCNN', 'CascadeRoIHead'))
HTC = (('HybridTaskCascadeMaskScoring', 'HybridTaskCascadeMaskScoringRoIHead'),
       ('HybridTaskCascade', 'HybridTaskCascadeRoIHead'))
TWINS = [('cascade-ms-rcnn_quickstart.py', 'cascade-mask-rcnn_quickstart.py',
          *CASCADE), ('htc-ms_quickstart.py', 'htc_quickstart.py', *HTC)]
COCO = [('cascade-ms-rcnn_r50_fpn_1x_coco.py',
         'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py', *CASCADE),
        ('htc-ms_r50_fpn_1x_coco.py', 'mmdet::htc/htc_r50_fpn_1x_coco.py',
         *HTC)]


def _unscoped(obj):
    """``obj`` (dicts and lists) without the ``_scope_`` keys that a base
    from another package adds."""
    if hasattr(obj, 'items'):
        return {k: _unscoped(v) for k, v in obj.items() if k != '_scope_'}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unscoped(v) for v in obj)
    return obj


def _strip_types(model, types):
    """``model`` (a dict) without its detector and RoI head types, which
    must be ``types``."""
    model = copy.deepcopy(_unscoped(model))
    assert (model.pop('type'), model['roi_head'].pop('type')) == types
    return model


def _strip_mask_scoring(model, types):
    """``model`` without what mask scoring adds; checks those."""
    model = _strip_types(model, types)
    iou_head = model['roi_head'].pop('mask_iou_head')
    # MS R-CNN's weight, explicit: the cascade does not scale this loss.
    assert iou_head['loss_iou'] == dict(type='MSELoss', loss_weight=0.5)
    stages = model['train_cfg']['rcnn']
    assert [s.pop('mask_thr_binary') for s in stages] == [0.5] * 3
    return model, iou_head


@pytest.mark.parametrize('ms,twin,ms_types,twin_types', TWINS)
def test_quickstart_twins_differ_only_in_the_maskiou_head(
        ms, twin, ms_types, twin_types):
    ms, twin = load_cfg(ms), load_cfg(twin)
    core = load_cfg('../../../configs/quickstart/mask-rcnn_quickstart.py')
    assert ms.default_scope == twin.default_scope == 'ms_rcnn'
    assert ms.custom_imports == dict(
        imports=['projects.cascade_ms_rcnn.cascade_ms_rcnn'],
        allow_failed_imports=False)
    # Data, schedule, seed: the core quick start's.
    outside = {k: v for k, v in ms.to_dict().items() if k != 'model'}
    assert outside == {
        k: v
        for k, v in twin.to_dict().items() if k != 'model'
    }
    assert {k: v
            for k, v in outside.items()
            if k != 'custom_imports'} == {
                k: v
                for k, v in core.to_dict().items() if k != 'model'
            }
    model, iou_head = _strip_mask_scoring(ms.model.to_dict(), ms_types)
    assert model == _strip_types(twin.model.to_dict(), twin_types)
    # The MaskIoU head reads the last stage's mask RoI features.
    roi = twin.model.roi_head.mask_roi_extractor
    assert iou_head['roi_feat_size'] == roi.roi_layer.output_size == 14
    assert iou_head['in_channels'] == roi.out_channels == 64
    assert iou_head['num_classes'] == 3
    # The quick start's sizes: thin backbone, 32 RoIs per image and stage.
    assert twin.model.backbone == core.model.backbone
    assert [s['sampler']['num'] for s in model['train_cfg']['rcnn']
            ] == [32] * 3


@pytest.mark.parametrize('ours,base,ms_types,mmdet_types', COCO)
def test_coco_configs_are_mmdet_plus_the_maskiou_head(ours, base, ms_types,
                                                      mmdet_types):
    cfg, mmdet_cfg = load_cfg(ours), get_config(base)
    assert cfg.default_scope == 'ms_rcnn'
    assert cfg.model._scope_ == 'ms_rcnn'
    assert cfg.val_cfg._scope_ == cfg.test_cfg._scope_ == 'ms_rcnn'
    model, iou_head = _strip_mask_scoring(cfg.model.to_dict(), ms_types)
    assert model == _strip_types(mmdet_cfg.model.to_dict(), mmdet_types)
    assert iou_head['in_channels'] == 256 and iou_head['num_classes'] == 80
    # Same data and schedule (only the loading transforms are checked ones).
    for key in ('train_cfg', 'param_scheduler', 'optim_wrapper',
                'test_dataloader'):
        assert _unscoped(cfg[key]) == _unscoped(mmdet_cfg[key]), key
    assert [t['type'] for t in cfg.train_dataloader.dataset.pipeline
            ][2:] == [t['type'] for t in
                      mmdet_cfg.train_dataloader.dataset.pipeline][1:]


def test_run_quickstart_trains_the_named_model_beside_earlier_runs(
        tmp_path, monkeypatch):
    path = osp.join(
        osp.dirname(osp.dirname(__file__)), 'tools', 'run_quickstart.py')
    spec = importlib.util.spec_from_file_location('cascade_run', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    shapes = sys.modules['quickstart_shapes']
    trained = []

    def train_and_evaluate(cfg):
        trained.append(cfg)
        # Every metric the summary reads, 0.5.
        return None, dict.fromkeys(shapes.SUMMARY_KEYS.values(), 0.5), 9., 1.

    monkeypatch.setattr(shapes, 'train_and_evaluate', train_and_evaluate)
    monkeypatch.setattr(shapes, 'ensure_shapes_dataset',
                        lambda *a, **k: None)
    (tmp_path / 'summary.json').write_text(json.dumps({'htc': {'x': 1}}))
    summary = tool.main([
        '--work-dir',
        str(tmp_path), '--data-root', 'data/y', '--seed', '3', '--epochs',
        '2', '--models', 'cascade-mask-rcnn'
    ])
    cfg, = trained
    assert cfg.filename.endswith('cascade-mask-rcnn_quickstart.py')
    assert cfg.randomness == dict(seed=3)
    assert cfg.train_cfg.max_epochs == 2
    assert cfg.work_dir == str(tmp_path / 'cascade-mask-rcnn')
    assert cfg.train_dataloader.dataset.data_root == 'data/y/'
    entry = summary['cascade-mask-rcnn']
    assert (entry['segm_mAP'], entry['train_seconds'], entry['seed'],
            entry['epochs']) == (0.5, 9.0, 3, 2)
    with open(tmp_path / 'summary.json') as f:
        assert json.load(f) == {'htc': {'x': 1}, 'cascade-mask-rcnn': entry}
