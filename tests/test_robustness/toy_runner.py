"""A toy model and Runner for hook tests: fast, random, optionally NaN."""
import itertools

import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

import ms_rcnn

_names = itertools.count()


class NoisyToyModel(BaseModel):
    """A linear model whose loss draws from torch's random generator (like
    RoI sampling does) and turns NaN at the forward calls in ``nan_at``."""

    def __init__(self, nan_at=()):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.nan_at = set(nan_at)
        self.calls = 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)
        if mode != 'loss':
            return out
        self.calls += 1
        noise = torch.rand(out.shape)
        loss_aux = (out * noise).abs().mean()
        if self.calls in self.nan_at:
            loss_aux = loss_aux * float('nan')
        return dict(loss_main=(out**2).mean(), loss_aux=loss_aux)


def toy_runner(work_dir,
               max_iters,
               nan_at=(),
               custom_hooks=(),
               resume=False,
               checkpoint=None):
    """A Runner over 16 samples, batches of 2, checkpoints every 2 iters."""
    ms_rcnn.register_all_modules(init_default_scope=False)
    torch.manual_seed(0)
    data = [dict(inputs=torch.tensor([i / 8, 1. - i / 8])) for i in range(16)]
    return Runner(
        model=NoisyToyModel(nan_at),
        work_dir=str(work_dir),
        experiment_name=f'toy_{next(_names)}',
        train_dataloader=dict(
            dataset=data,
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=2,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=checkpoint or dict(
                type='SafeCheckpointHook',
                interval=2,
                by_epoch=False,
                max_keep_ckpts=1),
            logger=dict(type='LoggerHook', interval=1)),
        log_processor=dict(window_size=1, by_epoch=False),
        custom_hooks=list(custom_hooks),
        resume=resume,
        randomness=dict(seed=0),
        default_scope='ms_rcnn')


def params(runner):
    return {k: v.clone() for k, v in runner.model.state_dict().items()}
