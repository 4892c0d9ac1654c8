"""Runner checkpoints save and resume under torch's weights_only loading."""
import pickle

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner, load_checkpoint
from torch import nn

import ms_rcnn
from ms_rcnn.utils.checkpoint import load_trusted_local


@pytest.fixture(autouse=True, scope='module')
def trusted_loader():
    ms_rcnn.register_all_modules(init_default_scope=False)


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)
        return dict(loss=(out**2).mean()) if mode == 'loss' else out


def _runner(work_dir, max_iters, resume=False, load_from=None):
    torch.manual_seed(0)
    data = [dict(inputs=torch.tensor([i, 1. - i])) for i in range(8)]
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        experiment_name=f'toy_{max_iters}_{resume}',
        train_dataloader=dict(
            dataset=data,
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=dict(
            type='MultiStepLR', milestones=[2], by_epoch=False),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=2,
                            by_epoch=False)),
        resume=resume,
        load_from=load_from,
        default_scope='mmengine')


def test_checkpoint_needs_more_than_weights_only(tmp_path):
    runner = _runner(tmp_path, 2)
    runner.train()
    ckpt = tmp_path / 'iter_2.pth'
    # What torch >= 2.6 does by default: refused.
    with pytest.raises(pickle.UnpicklingError):
        torch.load(ckpt, weights_only=True)
    state = load_trusted_local(str(ckpt))
    assert state['meta']['iter'] == 2
    assert 'train/loss' in state['message_hub']['log_scalars']


def test_resume_restores_iteration_and_optimizer(tmp_path):
    first = _runner(tmp_path, 4)
    first.train()
    expected_optim = first.optim_wrapper.state_dict()
    expected_weight = first.model.linear.weight.detach().clone()

    resumed = _runner(
        tmp_path, 4, resume=True, load_from=str(tmp_path / 'iter_4.pth'))
    resumed.train()  # resumes, then has no iteration left to run
    assert resumed.iter == 4
    torch.testing.assert_close(resumed.model.linear.weight, expected_weight)
    got = resumed.optim_wrapper.state_dict()
    assert got['param_groups'][0]['lr'] == pytest.approx(0.01)
    for key, value in expected_optim['state'].items():
        torch.testing.assert_close(got['state'][key]['momentum_buffer'],
                                   value['momentum_buffer'])
    hub = resumed.message_hub.get_scalar('train/loss')
    assert len(hub.data[0]) == 4  # the loss history came back too


def test_load_checkpoint_of_a_local_file(tmp_path):
    runner = _runner(tmp_path, 2)
    runner.train()
    model = ToyModel()
    load_checkpoint(model, str(tmp_path / 'iter_2.pth'))
    torch.testing.assert_close(model.linear.weight, runner.model.linear.weight)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_checkpoint(model, str(tmp_path / 'missing.pth'))
