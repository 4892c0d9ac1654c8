"""Train a detector with mmengine's Runner (the flags of mmdet's train.py).

    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--resume [CKPT]]
        [--auto-scale-lr] [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm,mpi}]
"""
import argparse

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import ms_rcnn
from ms_rcnn.data_checks.dataloader_cfgs import (check_dataloader_cfgs,
                                                 use_checked_loader)
from ms_rcnn.utils.registry_hints import registry_hints
from ms_rcnn.utils.tools import (add_common_args, load_tool_config,
                                 setup_cpu_distributed)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by total batch size / '
        'auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from CKPT, or from the latest checkpoint of the work '
        'dir when no path is given')
    add_common_args(parser)
    return parser.parse_args(argv)


def build_cfg(args) -> Config:
    """The config with the command-line overrides applied."""
    cfg = load_tool_config(args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise ValueError(
                f'{args.config} has no auto_scale_lr.base_batch_size: '
                '--auto-scale-lr needs the batch size its lr was set for')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main(argv=None):
    args = parse_args(argv)
    # Registers ms_rcnn (and mmdet) without touching the config's scope.
    ms_rcnn.register_all_modules(init_default_scope=False)
    cfg = build_cfg(args)
    setup_cpu_distributed(cfg)
    # Annotation files are checked before mmdet parses them, and an unknown
    # `type` (built lazily, also inside train/test) gets close matches.
    check_dataloader_cfgs(cfg, ('train_dataloader', 'val_dataloader'))
    # A broken validation image stops the run with its name.
    use_checked_loader(cfg, ('val_dataloader', ))
    with registry_hints():
        runner = (Runner.from_cfg(cfg)
                  if 'runner_type' not in cfg else RUNNERS.build(cfg))
        runner.train()


if __name__ == '__main__':
    main()
