"""tools/model_converters/maskscoring_rcnn_to_mmdet.py.

The converter is checked by a round trip: mmdet's own MS R-CNN state dict
(random values) is rewritten into the original code's maskrcnn-benchmark
layout by the independent renaming below, then converted back.
"""
import importlib.util
import re
from pathlib import Path

import pytest
import torch
from mmengine.hub import get_config
from mmengine.registry import init_default_scope

TOOLS = Path(__file__).parents[2] / 'tools' / 'model_converters'
MMDET_CFG = 'mmdet::ms_rcnn/ms-rcnn_r50-caffe_fpn_1x_coco.py'
BACKGROUND = 1e3  # value of the invented background entries


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


converter = _load_tool('maskscoring_rcnn_to_mmdet')

# mmdet name -> maskrcnn-benchmark name, written from the original code's
# module names rather than from the converter's rules.
TO_BENCHMARK = [
    (r'backbone\.(conv1|bn1)\.', lambda m: f'backbone.body.stem.{m[1]}.'),
    (r'backbone\.layer', lambda m: 'backbone.body.layer'),
    (r'neck\.lateral_convs\.(\d)\.conv\.',
     lambda m: f'backbone.fpn.fpn_inner{int(m[1]) + 1}.'),
    (r'neck\.fpn_convs\.(\d)\.conv\.',
     lambda m: f'backbone.fpn.fpn_layer{int(m[1]) + 1}.'),
    (r'rpn_head\.rpn_conv\.', lambda m: 'rpn.head.conv.'),
    (r'rpn_head\.rpn_cls\.', lambda m: 'rpn.head.cls_logits.'),
    (r'rpn_head\.rpn_reg\.', lambda m: 'rpn.head.bbox_pred.'),
    (r'roi_head\.bbox_head\.shared_fcs\.(\d)\.',
     lambda m: f'roi_heads.box.feature_extractor.fc{int(m[1]) + 6}.'),
    (r'roi_head\.bbox_head\.fc_cls\.',
     lambda m: 'roi_heads.box.predictor.cls_score.'),
    (r'roi_head\.bbox_head\.fc_reg\.',
     lambda m: 'roi_heads.box.predictor.bbox_pred.'),
    (r'roi_head\.mask_head\.convs\.(\d)\.conv\.',
     lambda m: f'roi_heads.mask.feature_extractor.mask_fcn{int(m[1]) + 1}.'),
    (r'roi_head\.mask_head\.upsample\.',
     lambda m: 'roi_heads.mask.predictor.conv5_mask.'),
    (r'roi_head\.mask_head\.conv_logits\.',
     lambda m: 'roi_heads.mask.predictor.mask_fcn_logits.'),
    (r'roi_head\.mask_iou_head\.convs\.(\d)\.', lambda m:
     f'roi_heads.maskiou.feature_extractor.maskiou_fcn{int(m[1]) + 1}.'),
    (r'roi_head\.mask_iou_head\.fcs\.(\d)\.', lambda m:
     f'roi_heads.maskiou.feature_extractor.maskiou_fc{int(m[1]) + 1}.'),
    (r'roi_head\.mask_iou_head\.fc_mask_iou\.',
     lambda m: 'roi_heads.maskiou.predictor.maskiou.'),
]


def to_benchmark(state_dict):
    """mmdet state dict -> what the original code would have saved."""
    out = {}
    for key, value in state_dict.items():
        if key.endswith('num_batches_tracked'):
            continue  # FrozenBatchNorm has none
        for pattern, repl in TO_BENCHMARK:
            new, count = re.subn('^' + pattern, repl, key)
            if count:
                break
        else:
            raise AssertionError(f'no benchmark name for {key}')
        if 'cls_score' in new:  # background last -> first
            value = torch.cat([value[-1:], value[:-1]])
        elif 'bbox_pred' in new and 'rpn' not in new:  # 4 background rows
            value = torch.cat(
                [value.new_full((4, ) + value.shape[1:], BACKGROUND), value])
        elif 'mask_fcn_logits' in new or 'predictor.maskiou' in new:
            value = torch.cat(
                [value.new_full((1, ) + value.shape[1:], BACKGROUND), value])
        out['module.' + new] = value  # saved from DataParallel
    for level in range(5):  # buffers of its anchor generator
        out[f'module.rpn.anchor_generator.cell_anchors.{level}'] = torch.zeros(
            3, 4)
    return out


@pytest.fixture(scope='module')
def mmdet_caffe_model():
    cfg = get_config(MMDET_CFG).model
    cfg.backbone.init_cfg = None
    init_default_scope('mmdet')
    from mmdet.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    with torch.no_grad():  # random values everywhere, so placement shows
        for value in model.state_dict().values():
            if value.is_floating_point():
                value.normal_()
    return model


def test_rename_known_keys():
    cases = {
        'module.backbone.body.stem.conv1.weight':
        'backbone.conv1.weight',
        'backbone.body.stem.bn1.running_mean':
        'backbone.bn1.running_mean',
        'backbone.body.layer3.5.bn2.bias':
        'backbone.layer3.5.bn2.bias',
        'backbone.body.layer1.0.downsample.1.running_var':
        'backbone.layer1.0.downsample.1.running_var',
        'backbone.fpn.fpn_inner1.weight':
        'neck.lateral_convs.0.conv.weight',
        'backbone.fpn.fpn_layer4.bias':
        'neck.fpn_convs.3.conv.bias',
        'rpn.head.cls_logits.weight':
        'rpn_head.rpn_cls.weight',
        'roi_heads.box.feature_extractor.fc7.weight':
        'roi_head.bbox_head.shared_fcs.1.weight',
        'roi_heads.mask.feature_extractor.mask_fcn4.bias':
        'roi_head.mask_head.convs.3.conv.bias',
        'roi_heads.maskiou.feature_extractor.maskiou_fcn4.weight':
        'roi_head.mask_iou_head.convs.3.weight',
        'roi_heads.maskiou.feature_extractor.maskiou_fc2.bias':
        'roi_head.mask_iou_head.fcs.1.bias',
    }
    for old, new in cases.items():
        assert converter.rename(old)[0] == new, old
    assert converter.rename('rpn.anchor_generator.cell_anchors.4') is None
    with pytest.raises(
            KeyError,
            match=r'2 keys have no mmdet name: '
            r'roi_heads.maskiou.feature_extractor.maskiou_fcn1.0'):
        converter.convert({  # the GroupNorm variant of the MaskIoU head
            'roi_heads.maskiou.feature_extractor.maskiou_fcn1.0.weight': 0,
            'roi_heads.maskiou.feature_extractor.maskiou_fcn1.1.weight': 0,
        })


def test_round_trip_matches_mmdet(mmdet_caffe_model):
    expected = mmdet_caffe_model.state_dict()
    benchmark = to_benchmark(expected)
    assert benchmark['module.roi_heads.box.predictor.cls_score.weight'].shape \
        == (81, 1024)
    assert benchmark['module.roi_heads.box.predictor.bbox_pred.weight'].shape \
        == (324, 1024)
    converted = converter.convert(benchmark)

    assert set(converted) == set(expected)
    for key, value in expected.items():
        assert converted[key].shape == value.shape, key
        assert torch.equal(converted[key], value), key
    # Background: row 0 of cls_score became the last row of fc_cls ...
    old = benchmark['module.roi_heads.box.predictor.cls_score.bias']
    new = converted['roi_head.bbox_head.fc_cls.bias']
    assert new[80] == old[0] and torch.equal(new[:80], old[1:])
    # ... and nothing of the invented background rows survived elsewhere.
    for key in ('roi_head.bbox_head.fc_reg.weight',
                'roi_head.mask_head.conv_logits.weight',
                'roi_head.mask_iou_head.fc_mask_iou.bias'):
        assert not (converted[key] == BACKGROUND).any(), key
    mmdet_caffe_model.load_state_dict(converted, strict=True)


def test_converter_cli(tmp_path):
    weight = torch.arange(64 * 3 * 7 * 7.).view(64, 3, 7, 7)
    cls_score = torch.arange(81.)
    src = tmp_path / 'model_final.pth'
    torch.save(
        {
            'model': {
                'module.backbone.body.stem.conv1.weight': weight,
                'module.backbone.body.stem.bn1.running_var': torch.ones(64),
                'module.roi_heads.box.predictor.cls_score.bias': cls_score,
                'module.rpn.anchor_generator.cell_anchors.0': torch.zeros(
                    3, 4),
            },
            'iteration': 90000,
        }, src)
    converter.main([str(src), str(tmp_path / 'out.pth'), '--to-rgb'])
    out = torch.load(tmp_path / 'out.pth', weights_only=True)
    sd = out['state_dict']
    assert sorted(sd) == [
        'backbone.bn1.num_batches_tracked', 'backbone.bn1.running_var',
        'backbone.conv1.weight', 'roi_head.bbox_head.fc_cls.bias'
    ]
    assert torch.equal(sd['backbone.conv1.weight'][:, 0], weight[:, 2])
    assert torch.equal(sd['backbone.conv1.weight'][:, 2], weight[:, 0])
    assert sd['roi_head.bbox_head.fc_cls.bias'].tolist() == list(range(
        1, 81)) + [0]
    assert sd['backbone.bn1.num_batches_tracked'].item() == 0
    assert out['meta']['converted_from'] == 'model_final.pth'
