"""The project's configs: the core's, with the study's heads and the
options they name; and the tool that trains the quick-start ones."""
import importlib.util
import json
import sys

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from study_testing import CONFIGS, CORE_QUICKSTART, ROOT

from ms_rcnn.registry import MODELS
from projects.mask_score_study.mask_score_study import (
    StudyMaskIoUHead, StudyMaskScoringRoIHead)

IMPORTS = dict(
    imports=['projects.mask_score_study.mask_score_study'],
    allow_failed_imports=False)
CORE_COCO = ROOT / 'configs' / 'ms_rcnn' / 'ms-rcnn_r50-caffe_fpn_1x_coco.py'
# Config -> (its core config, the MaskIoU head options it sets, the
# train_cfg.rcnn keys it adds).
OPTIONS = {
    'ms-rcnn_quickstart_maskiou-study.py': (CORE_QUICKSTART, {}, {}),
    'ms-rcnn_quickstart_maskiou-all-pred.py':
    (CORE_QUICKSTART,
     dict(train_rois='all', train_class='pred', max_neg_ratio=1.0), {}),
    'ms-rcnn_quickstart_maskiou-detached.py':
    (CORE_QUICKSTART, dict(detach_inputs=True), {}),
    'ms-rcnn_quickstart_maskiou-detections.py':
    (CORE_QUICKSTART, dict(add_detections=True, target_bins=10),
     dict(mask_iou_detections=dict(
         score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5),
         max_per_img=32))),
    'ms-rcnn_r50-caffe_fpn_maskiou-all-pred_1x_coco.py':
    (str(CORE_COCO),
     dict(train_rois='all', train_class='pred', max_neg_ratio=1.0), {}),
}


def test_every_config_is_named():
    assert sorted(p.name for p in CONFIGS.glob('*.py')) == sorted(OPTIONS)
    # mim finds configs by name: none is the name of another one.
    others = [
        p.name for p in ROOT.glob('**/configs/**/*.py')
        if CONFIGS not in p.parents and 'work_dirs' not in p.parts
    ]
    assert not set(OPTIONS) & set(others)


@pytest.mark.parametrize('name', sorted(OPTIONS))
def test_config_is_the_cores_but_the_study_heads_and_their_options(name):
    core_path, options, rcnn = OPTIONS[name]
    ours = Config.fromfile(str(CONFIGS / name)).to_dict()
    core = Config.fromfile(core_path).to_dict()
    assert ours.pop('custom_imports') == IMPORTS
    head = ours['model']['roi_head']
    assert head.pop('type') == 'StudyMaskScoringRoIHead'
    core['model']['roi_head'].pop('type')
    iou_head = head['mask_iou_head']
    assert iou_head.pop('type') == 'StudyMaskIoUHead'
    core['model']['roi_head']['mask_iou_head'].pop('type')
    assert {k: iou_head.pop(k) for k in options} == options
    assert {k: ours['model']['train_cfg']['rcnn'].pop(k)
            for k in rcnn} == rcnn
    assert ours == core


@pytest.mark.parametrize('name', sorted(OPTIONS))
def test_config_builds_the_study_heads(name):
    cfg = Config.fromfile(str(CONFIGS / name))
    cfg.model.backbone.init_cfg = None  # no download
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    assert type(model.roi_head) is StudyMaskScoringRoIHead
    assert type(model.roi_head.mask_iou_head) is StudyMaskIoUHead
    for key, value in OPTIONS[name][1].items():
        assert getattr(model.roi_head.mask_iou_head, key) == value


def load_run_tool():
    path = ROOT / 'projects' / 'mask_score_study' / 'tools' / \
        'run_quickstart.py'
    spec = importlib.util.spec_from_file_location('run_quickstart', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_quickstart_trains_the_named_configs_beside_earlier_runs(
        tmp_path, monkeypatch):
    tool = load_run_tool()
    assert sorted(tool.MODELS.values()) == sorted(
        n for n in OPTIONS if 'quickstart' in n)
    trained = []
    shapes = sys.modules['quickstart_shapes']
    # Every metric the summary reads, 0.25.
    metrics = dict.fromkeys(shapes.SUMMARY_KEYS.values(), 0.25)

    def train_and_evaluate(cfg):
        trained.append(cfg)
        return None, metrics, 10.0, 2.0

    monkeypatch.setattr(shapes, 'train_and_evaluate', train_and_evaluate)
    monkeypatch.setattr(shapes, 'ensure_shapes_dataset',
                        lambda *a, **k: None)
    (tmp_path / 'summary.json').write_text(json.dumps({'ms-rcnn': {}}))
    summary = tool.main([
        '--work-dir', str(tmp_path), '--data-root', 'data/x', '--seed', '2',
        '--models', 'ms-rcnn-detections', '--cfg-options',
        'model.roi_head.mask_iou_head.target_bins=5'
    ])
    cfg = trained[0]
    assert cfg.filename.endswith('ms-rcnn_quickstart_maskiou-detections.py')
    assert cfg.randomness == dict(seed=2)
    assert cfg.work_dir == str(tmp_path / 'ms-rcnn-detections')
    assert cfg.train_dataloader.dataset.data_root == 'data/x/'
    assert cfg.model.roi_head.mask_iou_head.target_bins == 5
    assert summary['ms-rcnn-detections']['segm_mAP'] == 0.25
    with open(tmp_path / 'summary.json') as f:
        assert set(json.load(f)) == {'ms-rcnn', 'ms-rcnn-detections'}
