"""The quick-start MS R-CNN config on tiny data, and reading its logs."""
import itertools
import json
from pathlib import Path

from mmengine.config import Config

from ms_rcnn.data_checks.dataloader_cfgs import use_checked_loader

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / 'configs' / 'quickstart' / 'ms-rcnn_quickstart.py')
_names = itertools.count()


def tiny_cfg(data,
             work_dir,
             max_iters=4,
             ckpt_interval=2,
             batch_size=1,
             max_epochs=None):
    """The quick-start config on ``data``, small batches, logging every
    iteration's own losses.

    Iteration-based by default (``max_iters``, a checkpoint every
    ``ckpt_interval`` iterations, no validation); with ``max_epochs``
    epoch-based, with a checkpoint and a validation after every epoch.
    """
    cfg = Config.fromfile(CONFIG)
    root = data['data_root'] + '/'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = root
    for key in ('val_evaluator', 'test_evaluator'):
        cfg[key] = [dict(e, ann_file=data['val_ann']) for e in cfg[key]]
    cfg.train_dataloader.batch_size = batch_size
    cfg.param_scheduler = []
    if max_epochs is None:
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    else:
        cfg.train_cfg = dict(
            type='EpochBasedTrainLoop', max_epochs=max_epochs,
            val_interval=1)
        ckpt_interval = 1
    by_epoch = max_epochs is not None
    cfg.default_hooks.checkpoint = dict(
        type='SafeCheckpointHook',
        interval=ckpt_interval,
        by_epoch=by_epoch,
        max_keep_ckpts=1)
    cfg.default_hooks.logger.interval = 1
    # window_size 1: each logged loss is that iteration's, not a mean.
    cfg.log_processor = dict(
        type='LogProcessor', window_size=1, by_epoch=by_epoch)
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.work_dir = str(work_dir)
    # Two runs started in one second would share mmengine's named
    # instances (logger, message hub, visualizer) under the same name.
    cfg.experiment_name = f'robustness_{next(_names)}'
    return cfg


def read_losses(work_dir):
    """``{iteration: loss}`` from every run's vis_data/scalars.json."""
    losses = {}
    for path in sorted(Path(work_dir).glob('*/vis_data/scalars.json')):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            if 'loss' in entry:
                losses[entry['step']] = entry['loss']
    return losses


def write_json(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f)
    return str(path)


def load_coco(data, split='train'):
    with open(data[f'{split}_ann']) as f:
        return json.load(f)


def robust_pipelines(cfg):
    """The quick-start config with bad samples rejected by name in testing.

    Its training pipeline already loads images checked and sanitises the
    instances, skipping bad samples (checked here); the test pipeline keeps
    mmdet's loader, which the inferencers replace by name, so the test split
    gets the checked loader as tools/test.py sets it
    (:func:`use_checked_loader`) and the instance sanitiser with
    ``skip_bad=False``, as a user evaluating untrusted data would.
    """
    train = [dict(t) for t in cfg.train_dataloader.dataset.pipeline[:2]]
    assert [t['type'] for t in train] == [
        'CheckedLoadImageFromFile', 'SanitizeInstances'
    ]
    assert all(t.get('skip_bad', True) for t in train)
    if cfg.get('test_dataloader'):
        assert use_checked_loader(cfg, ('test_dataloader', )) == 1
        cfg.test_dataloader.dataset.pipeline.insert(
            1, dict(type='SanitizeInstances', skip_bad=False,
                    allow_empty=True))
    return cfg


def copy_data(data, dst):
    """A private copy of the tiny dataset that a test may break."""
    import shutil
    root = shutil.copytree(data['data_root'], str(dst))
    return dict(
        data,
        data_root=root,
        train_ann=data['train_ann'].replace(data['data_root'], root),
        val_ann=data['val_ann'].replace(data['data_root'], root),
        img_dir=data['img_dir'].replace(data['data_root'], root))
