"""TrainOnlyHook: the named part trains, the rest keeps its loaded values."""
import pytest
import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel
from toy_runner import params, toy_runner

from ms_rcnn.engine.hooks.train_only_hook import under


def _trained_checkpoint(tmp_path):
    """The toy model after 2 steps, saved as iter_2.pth."""
    first = toy_runner(tmp_path / 'first', 2)
    first.train()
    return str(tmp_path / 'first' / 'iter_2.pth'), params(first)


def _second(tmp_path, ckpt, prefixes, max_iters=4, **kwargs):
    return toy_runner(
        tmp_path / 'second',
        max_iters,
        load_from=ckpt,
        custom_hooks=[dict(type='TrainOnlyHook', prefixes=prefixes)],
        **kwargs)


def test_only_the_named_parameters_change(tmp_path):
    ckpt, loaded = _trained_checkpoint(tmp_path)
    runner = _second(tmp_path, ckpt, ['linear.bias'])
    runner.train()
    after = params(runner)
    # The frozen weight is the checkpoint's, bit for bit (AdamW's weight
    # decay would have shrunk it had it stepped); the bias moved.
    assert torch.equal(after['linear.weight'], loaded['linear.weight'])
    assert not torch.equal(after['linear.bias'], loaded['linear.bias'])
    assert not runner.model.linear.weight.requires_grad
    assert runner.model.linear.bias.requires_grad


def test_prefixes_are_module_paths():
    assert under('roi_head.mask_iou_head.fc.weight', 'roi_head.mask_iou_head')
    assert under('roi_head.mask_iou_head', 'roi_head.mask_iou_head')
    assert not under('roi_head.mask_iou_head_x.weight',
                     'roi_head.mask_iou_head')


def test_overlapping_prefixes_both_count(tmp_path):
    ckpt, loaded = _trained_checkpoint(tmp_path)
    runner = _second(tmp_path, ckpt, ['linear', 'linear.weight'])
    runner.train()
    after = params(runner)
    assert not torch.equal(after['linear.weight'], loaded['linear.weight'])
    assert not torch.equal(after['linear.bias'], loaded['linear.bias'])


def test_refuses_a_run_that_loads_nothing(tmp_path):
    runner = toy_runner(
        tmp_path,
        2,
        custom_hooks=[dict(type='TrainOnlyHook', prefixes='linear.bias')])
    with pytest.raises(ValueError, match='TrainOnlyHook trains only '
                       'linear.bias .* the run loads no checkpoint: set '
                       r'load_from \(e.g. --cfg-options load_from=CKPT\) or '
                       '--resume this stage'):
        runner.train()


def test_resumes_its_own_stage_and_refuses_an_earlier_one(tmp_path):
    ckpt, _ = _trained_checkpoint(tmp_path)
    # The first stage's checkpoint resumed (not loaded) would continue the
    # first stage's schedule and optimizer state.
    runner = _second(tmp_path, ckpt, ['linear.bias'], resume=True)
    with pytest.raises(ValueError, match='the resumed checkpoint was not '
                       'saved by this stage'):
        runner.train()
    # This stage's own checkpoint (iteration 2 of 4) resumes.
    stage = _second(tmp_path, ckpt, ['linear.bias'], max_iters=2)
    stage.train()
    resumed = toy_runner(
        tmp_path / 'second',
        4,
        resume=True,
        custom_hooks=[dict(type='TrainOnlyHook', prefixes=['linear.bias'])])
    resumed.train()
    assert resumed.iter == 4
    assert not resumed.model.linear.weight.requires_grad


def test_refuses_a_checkpoint_lacking_a_frozen_parameter(tmp_path):
    ckpt, _ = _trained_checkpoint(tmp_path)
    state = torch.load(ckpt, weights_only=False)
    del state['state_dict']['linear.weight']
    torch.save(state, tmp_path / 'partial.pth')
    runner = _second(tmp_path, str(tmp_path / 'partial.pth'), ['linear.bias'])
    with pytest.raises(ValueError, match=r'the loaded checkpoint lacks 1 '
                       r'frozen parameter\(s\), or has them in another '
                       'shape, e.g. linear.weight'):
        runner.train()


def test_refuses_a_prefix_that_names_no_parameter(tmp_path):
    ckpt, _ = _trained_checkpoint(tmp_path)
    runner = _second(tmp_path, ckpt, ['linear', 'roi_head.mask_iou_head'])
    with pytest.raises(ValueError, match='TrainOnlyHook: NoisyToyModel has '
                       'no trainable parameter under roi_head.mask_iou_head'):
        runner.train()


@pytest.mark.parametrize('find_unused', [False, True])
def test_ddp_needs_find_unused_parameters_and_keeps_the_frozen_part(
        tmp_path, monkeypatch, find_unused):
    ckpt, loaded = _trained_checkpoint(tmp_path)
    for name, value in dict(RANK=0, LOCAL_RANK=0, WORLD_SIZE=1).items():
        monkeypatch.setenv(name, str(value))
    # One process of a gloo group: the Runner wraps the model in DDP, as
    # with several processes, before any hook runs.
    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path / "init"}', rank=0,
        world_size=1)
    try:
        runner = _second(
            tmp_path,
            ckpt, ['linear.bias'],
            max_iters=2,
            launcher='pytorch',
            cfg=dict(
                model_wrapper_cfg=dict(
                    type='MMDistributedDataParallel',
                    device_ids=None,
                    find_unused_parameters=find_unused)))
        assert isinstance(runner.model, MMDistributedDataParallel)
        if not find_unused:
            with pytest.raises(ValueError, match='find_unused_parameters='
                               'True'):
                runner.train()
            return
        runner.train()
        after = {
            k[len('module.'):]: v
            for k, v in params(runner).items()
        }
        # Two steps through DDP: the weight as loaded, the bias moved.
        assert torch.equal(after['linear.weight'], loaded['linear.weight'])
        assert not torch.equal(after['linear.bias'], loaded['linear.bias'])
    finally:
        dist.destroy_process_group()
