"""Distributed training without CUDA."""
import torch
from mmengine.config import Config


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
    cfg.model_wrapper_cfg = dict(
        type='MMDistributedDataParallel', device_ids=None)
