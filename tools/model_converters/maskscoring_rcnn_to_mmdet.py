"""Convert a checkpoint of the original Mask Scoring R-CNN code to mmdet.

    python tools/model_converters/maskscoring_rcnn_to_mmdet.py SRC DST

SRC is a checkpoint of the authors' code, built on maskrcnn-benchmark
(``{'model': state_dict, ...}`` or a bare state dict, keys optionally prefixed
with ``module.``). DST is an mmengine checkpoint (``state_dict`` + ``meta``)
for mmdet's / ms_rcnn's ``MaskScoringRCNN`` with a caffe-style ResNet-FPN,
e.g. ``ms-rcnn_r50-caffe_fpn_1x_coco.py`` (stride in the 1x1 conv, as
maskrcnn-benchmark's default ``STRIDE_IN_1X1=True``).

Mapped (maskrcnn-benchmark -> mmdet):

- ``backbone.body.stem.{conv1,bn1}`` -> ``backbone.{conv1,bn1}``;
  ``backbone.body.layerS.B.{convK,bnK,downsample.0/1}`` ->
  ``backbone.layerS.B.{convK,bnK,downsample.0/1}``.
  FrozenBatchNorm ``weight/bias/running_mean/running_var`` keep their names and
  ``num_batches_tracked = 0`` is added, which mmdet's ``BN`` has.
- ``backbone.fpn.fpn_innerI`` / ``fpn_layerI`` (I = 1..4, C2..C5) ->
  ``neck.lateral_convs.{I-1}.conv`` / ``neck.fpn_convs.{I-1}.conv``.
- ``rpn.head.{conv,cls_logits,bbox_pred}`` -> ``rpn_head.{rpn_conv,rpn_cls,
  rpn_reg}``. Both codes order the 3 anchors of a location by aspect ratio
  (h/w = 0.5, 1, 2) and use sigmoid objectness, so channels map one to one.
- ``roi_heads.box.feature_extractor.fc6/fc7`` -> ``roi_head.bbox_head.
  shared_fcs.0/1``; ``roi_heads.box.predictor.cls_score`` -> ``fc_cls``,
  ``bbox_pred`` -> ``fc_reg``.
- ``roi_heads.mask.feature_extractor.mask_fcnI`` -> ``roi_head.mask_head.
  convs.{I-1}.conv``; ``predictor.conv5_mask`` -> ``upsample``;
  ``predictor.mask_fcn_logits`` -> ``conv_logits``.
- ``roi_heads.maskiou.feature_extractor.maskiou_fcnI`` -> ``roi_head.
  mask_iou_head.convs.{I-1}``; ``maskiou_fc1/2`` -> ``fcs.0/1``;
  ``roi_heads.maskiou.predictor.maskiou`` -> ``fc_mask_iou``.

Classes: maskrcnn-benchmark puts background at index 0 (81 COCO outputs) and
its contiguous ids follow the sorted COCO category ids, as mmdet's do. mmdet
puts background *last* in ``fc_cls`` (so row 0 moves to the end) and has no
background in ``fc_reg`` (the first 4 rows are dropped; a class-agnostic
``bbox_pred`` of 8 rows keeps rows 4..7), ``conv_logits`` and
``fc_mask_iou`` (row / channel 0 dropped).

Dropped: ``rpn.anchor_generator.cell_anchors.*`` (buffers; mmdet makes its
anchors from the config) and the background entries above. Any other key is
an error, so nothing is lost silently (e.g. GroupNorm variants).

Input colours: maskrcnn-benchmark's caffe (MSRA) models take BGR 0..255
(``INPUT.TO_BGR255``), mean ``[102.98, 115.95, 122.77]``, std 1; mmdet's
caffe configs also take BGR (``bgr_to_rgb=False``), mean
``[103.53, 116.28, 123.675]``, std 1. So ``conv1`` is copied as is; set the
original means in ``data_preprocessor`` for exact parity. ``--to-rgb`` flips
``conv1``'s input channels for a config that feeds RGB.

Not weights, but worth knowing for parity: maskrcnn-benchmark's RoIAlign is
the unaligned one (mmcv ``aligned=False``) with ``sampling_ratio=2``; its
FrozenBatchNorm has no eps (mmdet adds 1e-5 to ``running_var``, negligible
for the usual ``running_var = 1``); its box coder weights (10, 10, 5, 5) are
mmdet's ``target_stds`` (0.1, 0.1, 0.2, 0.2), but it adds 1 to box widths.
"""
import argparse
import os.path as osp
import re
from collections import OrderedDict

import torch

# (pattern, replacement, class fix). Where the replacement has '{}', group 1
# is a 1-based layer number (mask_fcn1..4); the fix says what happens to the
# background entries.
RULES = [
    (r'backbone\.body\.stem\.(conv1|bn1)\.', r'backbone.\1.', None),
    (r'backbone\.body\.(layer\d\.\d+\.(?:conv\d|bn\d|downsample\.[01]))\.',
     r'backbone.\1.', None),
    (r'backbone\.fpn\.fpn_inner(\d)\.', 'neck.lateral_convs.{}.conv.', None),
    (r'backbone\.fpn\.fpn_layer(\d)\.', 'neck.fpn_convs.{}.conv.', None),
    (r'rpn\.head\.conv\.', 'rpn_head.rpn_conv.', None),
    (r'rpn\.head\.cls_logits\.', 'rpn_head.rpn_cls.', None),
    (r'rpn\.head\.bbox_pred\.', 'rpn_head.rpn_reg.', None),
    (r'roi_heads\.box\.feature_extractor\.fc6\.',
     'roi_head.bbox_head.shared_fcs.0.', None),
    (r'roi_heads\.box\.feature_extractor\.fc7\.',
     'roi_head.bbox_head.shared_fcs.1.', None),
    (r'roi_heads\.box\.predictor\.cls_score\.', 'roi_head.bbox_head.fc_cls.',
     'background_last'),
    (r'roi_heads\.box\.predictor\.bbox_pred\.', 'roi_head.bbox_head.fc_reg.',
     'drop_background_box'),
    (r'roi_heads\.mask\.feature_extractor\.mask_fcn(\d)\.',
     'roi_head.mask_head.convs.{}.conv.', None),
    (r'roi_heads\.mask\.predictor\.conv5_mask\.',
     'roi_head.mask_head.upsample.', None),
    (r'roi_heads\.mask\.predictor\.mask_fcn_logits\.',
     'roi_head.mask_head.conv_logits.', 'drop_background'),
    (r'roi_heads\.maskiou\.feature_extractor\.maskiou_fcn(\d)\.',
     'roi_head.mask_iou_head.convs.{}.', None),
    (r'roi_heads\.maskiou\.feature_extractor\.maskiou_fc(\d)\.',
     'roi_head.mask_iou_head.fcs.{}.', None),
    (r'roi_heads\.maskiou\.predictor\.maskiou\.',
     'roi_head.mask_iou_head.fc_mask_iou.', 'drop_background'),
]
DROPPED = [r'rpn\.anchor_generator\.cell_anchors\.\d+$']


def rename(key):
    """mmdet name and class fix of one maskrcnn-benchmark key.

    Returns:
        tuple[str, str | None] | None: None for a key that is dropped.

    Raises:
        KeyError: for a key no rule knows.
    """
    key = key[len('module.'):] if key.startswith('module.') else key
    if any(re.match(pattern, key) for pattern in DROPPED):
        return None
    for pattern, repl, fix in RULES:
        match = re.match(pattern, key)
        # The rest must be one parameter name: a deeper module (e.g. the
        # GroupNorm variant's 'maskiou_fcn1.0.weight') has no mmdet match.
        if not match or '.' in key[match.end():]:
            continue
        if '{}' in repl:  # 1-based layer number -> 0-based index
            new = repl.format(int(match.group(1)) - 1)
        else:
            new = match.expand(repl)
        return new + key[match.end():], fix
    raise KeyError(key)


def fix_classes(value, fix):
    """Move or drop the background entries along dim 0 (see the docstring)."""
    if fix == 'background_last':
        return torch.cat([value[1:], value[:1]])
    if fix == 'drop_background':
        return value[1:]
    if fix == 'drop_background_box':  # (K + 1) * 4 deltas, background first
        return value[4:]
    return value


def convert(state_dict, to_rgb=False):
    """maskrcnn-benchmark state dict -> mmdet state dict (a new dict).

    Args:
        state_dict (dict[str, Tensor]): The original model's weights.
        to_rgb (bool): Flip ``backbone.conv1`` from BGR to RGB input.

    Raises:
        KeyError: listing every key that no rule maps.
    """
    converted, unknown = OrderedDict(), []
    for key, value in state_dict.items():
        try:
            renamed = rename(key)
        except KeyError:
            unknown.append(key)
            continue
        if renamed is None:
            continue
        new_key, fix = renamed
        if new_key in converted:
            raise KeyError(f'two keys map to {new_key} (one is {key})')
        converted[new_key] = fix_classes(value, fix)
        if new_key.endswith('.running_var'):
            # FrozenBatchNorm has no counter; mmdet's BN saves one.
            counter = new_key[:-len('running_var')] + 'num_batches_tracked'
            converted[counter] = torch.tensor(0, dtype=torch.long)
    if unknown:
        raise KeyError(f'{len(unknown)} keys have no mmdet name: ' +
                       ', '.join(unknown))
    if to_rgb:
        conv1 = converted['backbone.conv1.weight']
        converted['backbone.conv1.weight'] = conv1[:, [2, 1, 0]].contiguous()
    return converted


def load_source(path, unsafe=False):
    """The model weights of a maskrcnn-benchmark checkpoint."""
    # Its checkpoints hold tensors, numbers and strings only, so the safe
    # loader works; --unsafe is for files that pickled other objects.
    checkpoint = torch.load(path, map_location='cpu', weights_only=not unsafe)
    if isinstance(checkpoint, dict) and 'model' in checkpoint:
        checkpoint = checkpoint['model']
    if not isinstance(checkpoint, dict):
        raise TypeError(f'{path} holds a {type(checkpoint).__name__}, '
                        'not a state dict')
    return checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an original Mask Scoring R-CNN '
        '(maskrcnn-benchmark) checkpoint to mmdet names.')
    parser.add_argument('src', help='maskrcnn-benchmark checkpoint')
    parser.add_argument('dst', help='output mmengine checkpoint')
    parser.add_argument(
        '--to-rgb',
        action='store_true',
        help='flip conv1 input channels for a config that feeds RGB')
    parser.add_argument(
        '--unsafe',
        action='store_true',
        help='load SRC with full unpickling (only for files you trust)')
    args = parser.parse_args(argv)
    state_dict = convert(load_source(args.src, args.unsafe), args.to_rgb)
    meta = dict(
        converted_from=osp.basename(args.src),
        source_layout='maskrcnn-benchmark (Mask Scoring R-CNN)')
    torch.save(dict(state_dict=state_dict, meta=meta), args.dst)
    print(f'{len(state_dict)} tensors saved to {args.dst}')


if __name__ == '__main__':
    main()
