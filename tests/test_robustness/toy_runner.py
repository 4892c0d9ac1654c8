"""A toy model and Runner for hook tests: fast, random, optionally NaN."""
import itertools
import random

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

import ms_rcnn

_names = itertools.count()


class NoisyToyModel(BaseModel):
    """A linear model whose loss draws from torch's, numpy's and Python's
    random generators (as RoI sampling and data augmentation do) and turns
    NaN at the forward calls in ``nan_at``."""

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
        noise = torch.rand(out.shape) * (1 + np.random.rand() +
                                         random.random())
        loss_aux = (out * noise).abs().mean()
        if self.calls in self.nan_at:
            loss_aux = loss_aux * float('nan')
        return dict(loss_main=(out**2).mean(), loss_aux=loss_aux)


class MeanOutput(BaseMetric):
    """The mean of the model's outputs over the validation set."""

    def process(self, data_batch, data_samples):
        self.results += [float(out.mean()) for out in data_samples]

    def compute_metrics(self, results):
        return dict(mean_output=sum(results) / len(results))


class Killed(Exception):
    """What :class:`KillAt` raises."""


class KillAt(Hook):
    """Stops training before iteration ``at`` (1-based), as a kill would:
    nothing of this iteration runs or is saved."""

    def __init__(self, at):
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at:
            raise Killed(f'killed before iteration {self.at}')


class RecordLosses(Hook):
    """``losses[iteration] = total loss`` of every training step."""

    def __init__(self):
        self.losses = {}

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        self.losses[runner.iter + 1] = outputs['loss'].item()


def toy_runner(work_dir,
               max_iters=None,
               nan_at=(),
               custom_hooks=(),
               resume=False,
               checkpoint=None,
               max_epochs=None,
               validate=False,
               load_from=None,
               **runner_kwargs):
    """A Runner over 16 samples in batches of 2 (8 iterations an epoch).

    Iteration-based (``max_iters``) it checkpoints every 2 iterations and
    samples with an ``InfiniteSampler``; epoch-based (``max_epochs``) it
    checkpoints every epoch. ``validate`` validates every 8 iterations (every
    epoch), as the shipped configs validate between checkpoints.
    """
    ms_rcnn.register_all_modules(init_default_scope=False)
    torch.manual_seed(0)
    by_epoch = max_epochs is not None
    data = [dict(inputs=torch.tensor([i / 8, 1. - i / 8])) for i in range(16)]
    loader = dict(
        dataset=data,
        sampler=dict(
            type='DefaultSampler' if by_epoch else 'InfiniteSampler',
            shuffle=True),
        batch_size=2,
        collate_fn=dict(type='default_collate'))
    if by_epoch:
        train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
    else:
        train_cfg = dict(by_epoch=False, max_iters=max_iters, val_interval=8)
    val = dict(
        val_dataloader=dict(loader, sampler=dict(type='DefaultSampler',
                                                 shuffle=False)),
        val_cfg=dict(),
        val_evaluator=[MeanOutput()]) if validate else {}
    return Runner(
        model=NoisyToyModel(nan_at),
        work_dir=str(work_dir),
        experiment_name=f'toy_{next(_names)}',
        train_dataloader=loader,
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.1)),
        train_cfg=train_cfg,
        default_hooks=dict(
            checkpoint=checkpoint or dict(
                type='SafeCheckpointHook',
                interval=1 if by_epoch else 2,
                by_epoch=by_epoch,
                max_keep_ckpts=1),
            logger=dict(type='LoggerHook', interval=1)),
        log_processor=dict(window_size=1, by_epoch=by_epoch),
        custom_hooks=list(custom_hooks),
        resume=resume,
        load_from=load_from,
        randomness=dict(seed=0),
        default_scope='ms_rcnn',
        **val,
        **runner_kwargs)


def params(runner):
    return {k: v.clone() for k, v in runner.model.state_dict().items()}
