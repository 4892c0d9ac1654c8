"""ms_rcnn.utils.tools: distributed start-up without CUDA."""
import pytest
import torch
from mmengine.config import Config

from ms_rcnn.utils.tools import setup_cpu_distributed


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU start-up only')
def test_cpu_ddp_keeps_the_configs_wrapper_options(monkeypatch):
    # The process group as if already started; DDP's wrapper gets no device
    # id, and the config's find_unused_parameters (which a frozen detector
    # needs) stays.
    monkeypatch.setattr(torch.distributed, 'is_initialized', lambda: True)
    cfg = Config(
        dict(
            launcher='pytorch',
            model_wrapper_cfg=dict(
                type='MMDistributedDataParallel',
                find_unused_parameters=True)))
    setup_cpu_distributed(cfg)
    assert cfg.model_wrapper_cfg == dict(
        type='MMDistributedDataParallel',
        device_ids=None,
        find_unused_parameters=True)
    # Without a launcher nothing changes.
    plain = Config(dict(launcher='none'))
    setup_cpu_distributed(plain)
    assert 'model_wrapper_cfg' not in plain
