"""The settings an export records (read off the configs by hand) and the
refusal of a config that differs in any of them but those that act after
the graph."""
import json

import pytest

from ms_rcnn.deploy.settings import (check_settings, load_config,
                                     output_names, settings)

from deploy_testing import QUICKSTART, ROOT

MS_RCNN = ROOT / 'configs' / 'ms_rcnn'


def quickstart(name='ms-rcnn_quickstart.py'):
    return load_config(str(QUICKSTART / name))


def test_quickstart_settings_are_the_configs():
    # Values as written in configs/quickstart/mask-rcnn_quickstart.py and
    # ms-rcnn_quickstart.py.
    assert settings(quickstart()) == {
        'model.data_preprocessor.mean': [123.675, 116.28, 103.53],
        'model.data_preprocessor.std': [58.395, 57.12, 57.375],
        'model.data_preprocessor.bgr_to_rgb': True,
        'model.data_preprocessor.pad_size_divisor': 32,
        'model.test_cfg.rpn.nms_pre': 1000,
        'model.test_cfg.rpn.max_per_img': 300,
        'model.test_cfg.rpn.nms.type': 'nms',
        'model.test_cfg.rpn.nms.iou_threshold': 0.7,
        'model.test_cfg.rpn.min_bbox_size': 0,
        'model.test_cfg.rcnn.score_thr': 0.05,
        'model.test_cfg.rcnn.nms.type': 'nms',
        'model.test_cfg.rcnn.nms.iou_threshold': 0.5,
        'model.test_cfg.rcnn.max_per_img': 100,
        'model.test_cfg.rcnn.mask_thr_binary': 0.5,
        'model.roi_head.bbox_head.num_classes': 3,
        'model.roi_head.mask_iou_head.overwrite_scores': False,
        'classes': ['ellipse', 'triangle', 'cross'],
    }


def test_classes_come_from_the_dataset_class_without_metainfo():
    # The COCO configs name no classes: CocoDataset's 80.
    classes = settings(load_config(
        str(MS_RCNN / 'ms-rcnn_r50-caffe_fpn_1x_coco.py')))['classes']
    assert len(classes) == 80
    assert classes[:3] == ['person', 'bicycle', 'car']


def test_caffe_export_under_a_pytorch_normalised_config_is_refused():
    caffe = json.dumps(settings(load_config(
        str(MS_RCNN / 'ms-rcnn_r50-caffe_fpn_1x_coco.py'))))
    pytorch = load_config(str(MS_RCNN / 'ms-rcnn_r50_fpn_1x_coco.py'))
    with pytest.raises(ValueError) as error:
        check_settings(caffe, pytorch, 'caffe.onnx', 'r50_fpn.py')
    message = str(error.value)
    assert message.startswith('caffe.onnx does not fit r50_fpn.py')
    assert ('model.data_preprocessor.mean: [103.53, 116.28, 123.675] in '
            'the file, [123.675, 116.28, 103.53] in the config') in message
    assert ('model.data_preprocessor.std: [1.0, 1.0, 1.0] in the file, '
            '[58.395, 57.12, 57.375] in the config') in message
    assert ('model.data_preprocessor.bgr_to_rgb: False in the file, True '
            'in the config') in message
    assert len(message.splitlines()) == 4  # those three, nothing else


def test_a_frozen_test_setting_is_refused_by_its_key():
    recorded = json.dumps(settings(quickstart()))
    cfg = quickstart()
    cfg.model.test_cfg.rcnn.score_thr = 0.3
    cfg.model.test_cfg.rpn.nms.iou_threshold = 0.6
    with pytest.raises(ValueError) as error:
        check_settings(recorded, cfg, 'x.onnx', 'cfg.py')
    assert str(error.value).splitlines()[1:] == [
        '  model.test_cfg.rcnn.score_thr: 0.05 in the file, 0.3 in the '
        'config',
        '  model.test_cfg.rpn.nms.iou_threshold: 0.7 in the file, 0.6 in '
        'the config',
    ]
    # A key that only one side has.
    cfg = quickstart()
    cfg.model.test_cfg.rcnn.nms.class_agnostic = True
    with pytest.raises(ValueError, match=r"rcnn.nms.class_agnostic: "
                       r"'\(absent\)' in the file, True in the config"):
        check_settings(recorded, cfg, 'x.onnx', 'cfg.py')


def test_where_the_mask_scores_go_is_recorded_with_its_default():
    cfg = quickstart()
    cfg.model.roi_head.mask_iou_head.pop('overwrite_scores')
    recorded = json.dumps(settings(cfg))
    assert json.loads(recorded)[
        'model.roi_head.mask_iou_head.overwrite_scores'] is False
    cfg.model.roi_head.mask_iou_head.overwrite_scores = True
    with pytest.raises(ValueError, match=r'overwrite_scores: False in the '
                       r'file, True in the config'):
        check_settings(recorded, cfg, 'x.onnx', 'cfg.py')


def test_settings_that_act_after_the_graph_are_the_configs_to_choose():
    recorded = json.dumps(settings(quickstart()))
    cfg = quickstart()
    cfg.model.test_cfg.rcnn.mask_thr_binary = 0.4
    cfg.model.test_cfg.rcnn.mask2polygon = dict(mode='quad')
    check_settings(recorded, cfg, 'x.onnx', 'cfg.py')


def test_file_without_settings_is_refused():
    with pytest.raises(ValueError, match='x.onnx records no export '
                       'settings .*export it again'):
        check_settings(None, quickstart(), 'x.onnx', 'cfg.py')


def test_output_names_with_and_without_a_maskiou_head():
    assert output_names(quickstart().model) == (
        'boxes', 'labels', 'scores', 'mask_scores', 'mask_probs')
    assert output_names(quickstart('mask-rcnn_quickstart.py').model) == (
        'boxes', 'labels', 'scores', 'mask_probs')


def test_model_options_that_the_file_does_not_record_are_refused():
    # The graph holds the exported backbone and box head: these options
    # would change nothing. Each is named with its value; the options that
    # apply or are compared by value pass.
    recorded = json.dumps(settings(quickstart()))
    options = {
        'model.backbone.depth': 101,
        'model.roi_head': dict(bbox_head=dict(reg_class_agnostic=True)),
        'model.test_cfg.rcnn.mask_thr_binary': 0.4,  # after the graph
        'model.data_preprocessor.pad_value': 0,  # before the graph
        'model.test_cfg.rcnn.max_per_img': 100,  # recorded, the same
        'test_dataloader.batch_size': 2,  # not the model's
    }
    cfg = quickstart()
    cfg.merge_from_dict(options)
    with pytest.raises(ValueError) as error:
        check_settings(recorded, cfg, 'x.onnx', 'cfg.py', options)
    assert str(error.value).splitlines() == [
        'x.onnx holds the model as exported and records no setting for '
        'these options, which would be ignored (export again with them):',
        '  model.backbone.depth=101',
        '  model.roi_head.bbox_head.reg_class_agnostic=True',
    ]
    del options['model.backbone.depth'], options['model.roi_head']
    check_settings(recorded, cfg, 'x.onnx', 'cfg.py', options)
