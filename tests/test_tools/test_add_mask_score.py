"""tools/add_mask_score.py: the MS R-CNN config it builds from a Mask
R-CNN's, what it refuses before writing anything, and a run whose
detector stays as loaded."""
import importlib
import json
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.registry import init_default_scope

import ms_rcnn
from ms_rcnn.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TWIN = osp.join(ROOT, 'configs', 'quickstart', 'mask-rcnn_quickstart.py')
MS = osp.join(ROOT, 'configs', 'quickstart', 'ms-rcnn_quickstart.py')
HEAD = 'roi_head.mask_iou_head.'


def load_tool(name='add_mask_score'):
    """A module of tools/ (its folder goes on sys.path, as when the script
    runs)."""
    tools = osp.join(ROOT, 'tools')
    if tools not in sys.path:
        sys.path.insert(0, tools)
    return importlib.import_module(name)


def save_model(config, path, **model_options):
    """Random weights of ``config``'s model (with ``model_options``) saved
    as a checkpoint at ``path``; returns its state dict."""
    ms_rcnn.register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config)
    cfg.model.update(model_options)
    init_default_scope('ms_rcnn')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    state = model.state_dict()
    torch.save(dict(state_dict=state, meta={}), path)
    return state


def test_head_is_sized_like_the_mask_head():
    tool = load_tool()
    cfg = tool.mask_score_config(Config.fromfile(TWIN), 'twin.pth', 'wd')
    # The quick start's mask head has 2 convs of 64 channels: the head is
    # the one the jointly trained twin has, which is sized the same way.
    head = dict(cfg.model.roi_head.mask_iou_head)
    ours = dict(Config.fromfile(MS).model.roi_head.mask_iou_head)
    for key in ('num_convs', 'roi_feat_size', 'in_channels',
                'conv_out_channels', 'fc_out_channels', 'num_classes'):
        assert head[key] == ours[key], key
    # mmdet's Mask R-CNN: FCNMaskHead's defaults (4 convs of 256), the
    # paper's head (fcs of 1024).
    coco = tool.mask_score_config(
        get_config('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'),
        'coco.pth', 'wd')
    head = coco.model.roi_head.mask_iou_head
    assert (head.num_convs, head.in_channels, head.conv_out_channels,
            head.fc_out_channels, head.num_classes,
            head.roi_feat_size) == (4, 256, 256, 1024, 80, 14)


def test_config_freezes_the_detector_and_halves_the_schedule():
    tool = load_tool()
    twin = Config.fromfile(TWIN)
    cfg = tool.mask_score_config(twin, '/ckpt/twin.pth', '/wd')
    # Our classes by their qualified names: an mmdet:: base would resolve
    # the plain names to mmdet's.
    assert cfg.model.type == 'ms_rcnn.MaskScoringRCNN'
    assert cfg.model.roi_head.type == 'ms_rcnn.MaskScoringRoIHead'
    assert cfg.model.frozen_detector is True
    assert cfg.load_from == '/ckpt/twin.pth' and cfg.work_dir == '/wd'
    assert cfg.custom_hooks[-1] == dict(
        type='ms_rcnn.TrainOnlyHook', prefixes=['roi_head.mask_iou_head'])
    assert cfg.custom_hooks[:-1] == twin.custom_hooks
    # Several processes: DDP told that the frozen part gets no gradient.
    assert cfg.model_wrapper_cfg == dict(
        type='MMDistributedDataParallel', find_unused_parameters=True)
    assert cfg.train_cfg.max_epochs == twin.train_cfg.max_epochs // 2
    assert cfg.default_hooks.checkpoint.interval == cfg.train_cfg.max_epochs
    # The twin's warm-up, then a cosine over the head's epochs.
    assert cfg.param_scheduler[0] == twin.param_scheduler[0]
    assert cfg.param_scheduler[1].T_max == cfg.train_cfg.max_epochs
    # Everything the detector predicts with is the twin's.
    for key in ('backbone', 'neck', 'rpn_head', 'test_cfg',
                'data_preprocessor'):
        assert cfg.model[key] == twin.model[key], key
    for key in ('bbox_head', 'mask_head', 'bbox_roi_extractor',
                'mask_roi_extractor'):
        assert cfg.model.roi_head[key] == twin.model.roi_head[key], key
    assert cfg.test_dataloader == twin.test_dataloader
    assert tool.mask_score_config(twin, 'x', 'y', 3).train_cfg.max_epochs == 3


@pytest.mark.parametrize('base, refusal', [
    ('mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py',
     r'CascadeRCNN \(Cascade Mask R-CNN\) is not supported: '
     'projects/cascade_ms_rcnn'),
    ('mmdet::htc/htc_r50_fpn_1x_coco.py',
     r'HybridTaskCascade \(HTC\) is not supported'),
    ('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
     r'the model \(FasterRCNN\) has no mask head'),
    ('mmdet::point_rend/point-rend_r50-caffe_fpn_ms-1x_coco.py',
     'PointRend with PointRendRoIHead is not a Mask R-CNN'),
])
def test_refuses_other_detectors_by_name(base, refusal):
    tool = load_tool()
    with pytest.raises(ValueError, match=refusal):
        tool.mask_score_config(get_config(base), 'x.pth', 'wd')


def test_iteration_based_config_needs_epochs():
    tool = load_tool()
    cfg = Config.fromfile(TWIN)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1000)
    with pytest.raises(ValueError, match='trains by iterations; give '
                       '--epochs'):
        tool.mask_score_config(cfg, 'x.pth', 'wd')
    assert tool.mask_score_config(cfg, 'x.pth', 'wd',
                                  2).train_cfg.max_epochs == 2


def test_checkpoint_of_another_model_is_refused_by_key(tmp_path):
    tool = load_tool()
    cfg = tool.mask_score_config(Config.fromfile(TWIN), 'x', 'wd')
    # Another number of classes: the classifier's shape.
    other = str(tmp_path / 'five.pth')
    save_model(TWIN, other, roi_head=dict(
        bbox_head=dict(num_classes=5), mask_head=dict(num_classes=5)))
    with pytest.raises(ValueError, match=r'five.pth does not fit the '
                       r"config's model: roi_head.bbox_head.fc_cls.weight "
                       r'has shape \(6, 256\) there, \(4, 256\) in the '
                       r'model \(and \d+ more\); another number of '
                       'classes'):
        tool.check_checkpoint(cfg, other)
    # A missing parameter (and a BatchNorm statistic: the frozen detector
    # runs in eval mode on them).
    state = save_model(TWIN, str(tmp_path / 'twin.pth'))
    for key in ('backbone.conv1.weight', 'backbone.bn1.running_var'):
        partial = {k: v for k, v in state.items() if k != key}
        torch.save(dict(state_dict=partial), tmp_path / 'partial.pth')
        with pytest.raises(ValueError, match=f'{key} is missing'):
            tool.check_checkpoint(cfg, str(tmp_path / 'partial.pth'))


def test_says_what_becomes_of_the_maskiou_head(tmp_path):
    tool = load_tool()
    cfg = tool.mask_score_config(Config.fromfile(TWIN), 'x', 'wd')
    save_model(TWIN, str(tmp_path / 'twin.pth'))
    assert tool.check_checkpoint(
        cfg, str(tmp_path / 'twin.pth')) == 'a new MaskIoU head is trained'
    # An MS R-CNN checkpoint has a head of the same shapes: kept, trained on.
    save_model(MS, str(tmp_path / 'ms.pth'))
    assert 'kept as the starting point and trained on' in \
        tool.check_checkpoint(cfg, str(tmp_path / 'ms.pth'))


def test_bad_input_is_refused_before_anything_is_written(tmp_path):
    tool = load_tool()
    ckpt = str(tmp_path / 'twin.pth')
    save_model(TWIN, ckpt)
    work = tmp_path / 'work'
    with pytest.raises(SystemExit, match='no checkpoint at .*nope.pth'):
        tool.main([TWIN, str(tmp_path / 'nope.pth'), '--work-dir',
                   str(work)])
    with pytest.raises(SystemExit, match='no config at .*nope.py'):
        tool.main([str(tmp_path / 'nope.py'), ckpt, '--work-dir', str(work)])
    assert not work.exists()
    # A work dir holding another run's files.
    work.mkdir()
    (work / 'epoch_4.pth').write_text('another run')
    with pytest.raises(SystemExit, match=r'holds another run \(epoch_4.pth'
                       r'\); give a new or empty --work-dir'):
        tool.main([TWIN, ckpt, '--work-dir', str(work)])
    assert [p.name for p in work.iterdir()] == ['epoch_4.pth']
    # A checkpoint of another number of classes.
    five = str(tmp_path / 'five.pth')
    save_model(TWIN, five, roi_head=dict(
        bbox_head=dict(num_classes=5), mask_head=dict(num_classes=5)))
    with pytest.raises(SystemExit, match='another number of classes'):
        tool.main([TWIN, five, '--work-dir', str(tmp_path / 'new')])
    assert not (tmp_path / 'new').exists()


@pytest.mark.slow
def test_trains_the_head_alone_and_writes_what_test_takes(
        tiny_shapes, tmp_path, capsys):
    tool = load_tool()
    ckpt = str(tmp_path / 'twin.pth')
    loaded = save_model(TWIN, ckpt)
    root = tiny_shapes['data_root'] + '/'
    ann = root + 'annotations/val.json'
    work = tmp_path / 'work'
    written = tool.main([
        TWIN, ckpt, '--work-dir', str(work), '--epochs', '1',
        '--cfg-options', f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.0.ann_file={ann}', f'val_evaluator.1.ann_file={ann}',
        f'test_evaluator.0.ann_file={ann}', f'test_evaluator.1.ann_file={ann}'
    ])
    # One JSON line naming the config and the checkpoint.
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == written == dict(
        config=str(work / 'mask-rcnn_quickstart_mask-score.py'),
        checkpoint=str(work / 'epoch_1.pth'))
    state = torch.load(written['checkpoint'],
                       weights_only=False)['state_dict']
    # Every parameter and statistic of the detector as loaded, bit for bit;
    # the head trained (it is not in the loaded checkpoint at all).
    assert {k for k in state if not k.startswith(HEAD)} == set(loaded)
    for key, value in loaded.items():
        assert torch.equal(state[key], value), key
    assert any(k.startswith(HEAD) for k in state)
    # tools/test.py takes the written config and checkpoint as they are.
    test = load_tool('test')
    metrics = test.main([written['config'], written['checkpoint'],
                         '--work-dir', str(tmp_path / 'test')])
    assert metrics['calib/num_preds'] > 0
    assert metrics['calib/segm_mAP_mask'] is not None
