"""Give a trained Mask R-CNN a mask score: train a MaskIoU head on it, the
detector frozen.

    python tools/add_mask_score.py CONFIG CHECKPOINT --work-dir DIR \\
        [--epochs N] [--cfg-options KEY=VALUE ...]

CONFIG and CHECKPOINT are a trained Mask R-CNN's (mmdet's ``MaskRCNN`` with
a ``StandardRoIHead``, in mmdet's scope or ms_rcnn's; an MS R-CNN's too).
The tool writes ``DIR/<config name>_mask-score.py``: the same model, data
and ``test_cfg`` as an MS R-CNN (``MaskScoringRCNN`` with a MaskIoU head
sized like the mask head) whose detector is frozen
(``frozen_detector=True``, ``TrainOnlyHook``), loading CHECKPOINT; trains
the MaskIoU head alone for N epochs (half the config's schedule unless
given) on the detector's own test-time detections, evaluates once, and
prints one JSON line naming the config and the checkpoint it wrote, which
``tools/test.py``, ``mim test``, the inferencer
and ``tools/deployment/pytorch2onnx.py`` take as they are.

Everything is checked before anything is written: the model type, the
checkpoint's keys and shapes (every parameter and buffer but the MaskIoU
head's), and that DIR is new or empty. An MS R-CNN checkpoint keeps its
MaskIoU head as the starting point, which is trained on.
"""
import argparse
import copy
import json
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import CheckpointLoader, Runner, find_latest_checkpoint

import ms_rcnn

HEAD = 'roi_head.mask_iou_head'
# Model types refused by name, and what to use instead.
CASCADES = {
    'CascadeRCNN': 'Cascade Mask R-CNN',
    'HybridTaskCascade': 'HTC',
}
# RoI heads whose mask head the tool puts a MaskIoU head beside.
ROI_HEADS = ('StandardRoIHead', 'MasknessRoIHead', 'MaskScoringRoIHead')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train a MaskIoU head on a trained, frozen Mask R-CNN')
    parser.add_argument('config', help='the Mask R-CNN config')
    parser.add_argument('checkpoint', help='its trained checkpoint')
    parser.add_argument(
        '--work-dir', required=True, help='a new or empty folder for the '
        'config, the logs and the checkpoint')
    parser.add_argument(
        '--epochs',
        type=int,
        help='epochs of the MaskIoU head (default: half of the config\'s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides of the written config, KEY=VALUE')
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error('--epochs must be >= 1')
    return args


def type_name(cfg: dict) -> str:
    """A config's ``type`` without its scope (``mmdet.MaskRCNN``)."""
    name = cfg.get('type', '')
    return name.split('.')[-1] if isinstance(name, str) else name.__name__


def mask_iou_head(roi_head: dict) -> dict:
    """The MaskIoU head for ``roi_head``'s mask head: as many 3x3 convs of
    as many channels, fcs 4 times as wide (mmdet's 4 x 256 and 1024), the
    mask RoI extractor's input size and channels, one IoU per class.
    FCNMaskHead's defaults fill what the config leaves out."""
    mask_head = roi_head.mask_head
    extractor = roi_head.get('mask_roi_extractor', {})
    channels = mask_head.get('conv_out_channels', 256)
    return dict(
        type='ms_rcnn.MaskIoUHead',
        num_convs=mask_head.get('num_convs', 4),
        roi_feat_size=extractor.get('roi_layer', {}).get('output_size', 14),
        in_channels=mask_head.get('in_channels', 256),
        conv_out_channels=channels,
        fc_out_channels=4 * channels,
        num_classes=mask_head.get('num_classes', 80))


def mask_score_config(cfg: Config, checkpoint: str, work_dir: str,
                      epochs: int = None) -> Config:
    """The config of ``cfg``'s Mask R-CNN with a MaskIoU head trained alone
    on it (the detector frozen, loading ``checkpoint``).

    Raises:
        ValueError: ``cfg`` is not a Mask R-CNN (no mask head, a cascade,
            another RoI head), or has no epoch-based schedule and no
            ``epochs`` is given.
    """
    model = cfg.model
    kind = type_name(model)
    if kind in CASCADES:
        raise ValueError(
            f'add_mask_score: {kind} ({CASCADES[kind]}) is not supported: '
            'projects/cascade_ms_rcnn trains Cascade MS R-CNN and HTC-MS '
            'with their MaskIoU head')
    roi_head = model.get('roi_head') or {}
    if 'mask_head' not in roi_head:
        raise ValueError(f'add_mask_score: the model ({kind}) has no mask '
                         'head (roi_head.mask_head) to score')
    if kind not in ('MaskRCNN', 'MaskScoringRCNN') or type_name(
            roi_head) not in ROI_HEADS:
        raise ValueError(
            f'add_mask_score: {kind} with {type_name(roi_head)} is not a '
            'Mask R-CNN (MaskRCNN with a StandardRoIHead)')
    if epochs is None:
        if 'max_epochs' not in cfg.train_cfg:
            raise ValueError(
                'add_mask_score: the config trains by iterations; give '
                '--epochs')
        epochs = max(1, cfg.train_cfg.max_epochs // 2)

    out = copy.deepcopy(cfg)
    head = roi_head.get('mask_iou_head') or mask_iou_head(roi_head)
    out.model.update(
        type='ms_rcnn.MaskScoringRCNN',
        frozen_detector=True,
        roi_head=dict(
            roi_head,
            type='ms_rcnn.MaskScoringRoIHead',
            mask_iou_head=dict(head, type='ms_rcnn.MaskIoUHead')))
    # The MaskIoU targets binarise the predicted masks at this probability.
    out.model.train_cfg.rcnn.setdefault('mask_thr_binary', 0.5)
    out.load_from = checkpoint
    out.resume = False
    out.work_dir = work_dir
    out.train_cfg = dict(
        type='EpochBasedTrainLoop', max_epochs=epochs, val_interval=epochs)
    # The config's warm-up, then a cosine decay to 1 % over the epochs.
    warmup = [
        s for s in out.get('param_scheduler', [])
        if type_name(s) == 'LinearLR' and not s.get('by_epoch', True)
    ]
    out.param_scheduler = warmup + [
        dict(
            type='CosineAnnealingLR',
            by_epoch=True,
            begin=0,
            end=epochs,
            T_max=epochs,
            eta_min_ratio=0.01)
    ]
    out.default_hooks.checkpoint.update(interval=epochs)
    out.custom_hooks = list(out.get('custom_hooks', [])) + [
        dict(type='ms_rcnn.TrainOnlyHook', prefixes=[HEAD])
    ]
    # With several processes DDP must not wait for the frozen parameters'
    # gradients (TrainOnlyHook refuses otherwise).
    out.model_wrapper_cfg = dict(
        out.get('model_wrapper_cfg') or
        dict(type='MMDistributedDataParallel'),
        find_unused_parameters=True)
    return out


def check_checkpoint(cfg: Config, checkpoint: str) -> str:
    """Refuse a checkpoint that lacks a parameter or buffer of ``cfg``'s
    model, or has one in another shape (the MaskIoU head's excepted).

    Returns:
        str: what becomes of the MaskIoU head (a fresh one, or the
        checkpoint's, trained on).
    """
    from mmdet.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    loaded = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    loaded = loaded.get('state_dict', loaded)
    loaded = {k[7:] if k.startswith('module.') else k: v
              for k, v in loaded.items()}
    wrong = []
    for name, value in model.state_dict().items():
        if name.endswith('num_batches_tracked'):
            continue  # not used in eval mode, absent from some checkpoints
        head = name.startswith(HEAD + '.')
        if name not in loaded:
            if not head:
                wrong.append(f'{name} is missing')
        elif tuple(loaded[name].shape) != tuple(value.shape):
            wrong.append(f'{name} has shape {tuple(loaded[name].shape)} '
                         f'there, {tuple(value.shape)} in the model')
    if wrong:
        more = f' (and {len(wrong) - 1} more)' if len(wrong) > 1 else ''
        raise ValueError(
            f'add_mask_score: {checkpoint} does not fit the config\'s '
            f'model: {wrong[0]}{more}; another number of classes or '
            'another model?')
    if any(k.startswith(HEAD + '.') for k in loaded):
        return ('the checkpoint holds a MaskIoU head (an MS R-CNN): it is '
                'kept as the starting point and trained on')
    return 'a new MaskIoU head is trained'


def check_work_dir(work_dir: str) -> None:
    """Refuse a work dir that holds anything: another run's files would
    mix with this one's."""
    if osp.isdir(work_dir) and os.listdir(work_dir):
        held = ', '.join(sorted(os.listdir(work_dir))[:3])
        raise ValueError(
            f'add_mask_score: {work_dir} holds another run ({held}); give a '
            'new or empty --work-dir')
    if osp.exists(work_dir) and not osp.isdir(work_dir):
        raise ValueError(f'add_mask_score: {work_dir} is a file')


def prepare(args) -> Config:
    """Check everything and return the config to train; writes nothing."""
    if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
        raise ValueError(f'add_mask_score: no checkpoint at '
                         f'{args.checkpoint}')
    if not osp.isfile(args.config):
        raise ValueError(f'add_mask_score: no config at {args.config}')
    check_work_dir(args.work_dir)
    checkpoint = args.checkpoint if '://' in args.checkpoint else \
        osp.abspath(args.checkpoint)
    cfg = mask_score_config(
        Config.fromfile(args.config), checkpoint, osp.abspath(args.work_dir),
        args.epochs)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    print(check_checkpoint(cfg, checkpoint), flush=True)
    return cfg


def write_config(cfg: Config) -> str:
    """Write ``cfg`` to ``<work_dir>/<name>_mask-score.py`` (``name``: its
    source file's); returns the path, the file that ``tools/test.py``, the
    inferencer and the ONNX export take."""
    name = osp.splitext(osp.basename(cfg.filename or 'model'))[0]
    os.makedirs(cfg.work_dir, exist_ok=True)
    path = osp.join(cfg.work_dir, f'{name}_mask-score.py')
    cfg.dump(path)
    return path


def main(argv=None) -> dict:
    args = parse_args(argv)
    ms_rcnn.register_all_modules(init_default_scope=False)
    try:
        cfg = prepare(args)
    except ValueError as e:
        raise SystemExit(f'error: {e}')
    path = write_config(cfg)
    runner = Runner.from_cfg(Config.fromfile(path))
    runner.train()
    written = dict(
        config=path, checkpoint=find_latest_checkpoint(cfg.work_dir))
    print(json.dumps(written), flush=True)
    return written


if __name__ == '__main__':
    main()
