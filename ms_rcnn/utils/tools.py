"""What tools/train.py and tools/test.py share: flags, config loading and
distributed start-up without CUDA."""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """``--work-dir``, ``--cfg-options``, ``--launcher``, ``--local-rank``."""
    parser.add_argument('--work-dir', help='where logs and outputs go')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. train_cfg.max_epochs=1')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or
    # --local_rank (older); torchrun sets LOCAL_RANK itself.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_tool_config(args: argparse.Namespace) -> Config:
    """``args.config`` with the common flags applied.

    The work dir defaults to ``./work_dirs/<config name>``, as in mmdet.
    """
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def setup_cpu_distributed(cfg: Config) -> None:
    """Start gloo and keep DDP on the CPU when CUDA is not available.

    mmengine's pytorch launcher calls ``torch.cuda.set_device`` and gives DDP
    a CUDA device id, so a multi-process run without CUDA (e.g. a try on a
    laptop, or CI) fails. Here the process group is started with gloo (the
    Runner then skips its own) and DDP gets no device id. With CUDA, or
    without a launcher, nothing changes.

    Args:
        cfg (Config): The config, with ``launcher`` set; updated in place.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')
    # The config's own wrapper options (e.g. find_unused_parameters) stay.
    cfg.model_wrapper_cfg = dict(
        cfg.get('model_wrapper_cfg') or {},
        type='MMDistributedDataParallel',
        device_ids=None)
