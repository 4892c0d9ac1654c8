"""NonFiniteLossHook: stop before saving, or undo the step."""
import math

import pytest
import torch
from toy_runner import params, toy_runner

from ms_rcnn.engine.hooks import NonFiniteLossError
from ms_rcnn.engine.hooks.non_finite_loss_hook import non_finite_terms


def test_non_finite_terms():
    outputs = dict(
        loss=torch.tensor(float('nan')),
        acc=torch.tensor(90.),
        loss_a=torch.tensor(1.),
        loss_b=float('inf'))
    bad = non_finite_terms(outputs)
    assert list(bad) == ['loss', 'loss_b']
    assert math.isnan(bad['loss']) and bad['loss_b'] == float('inf')
    assert non_finite_terms(None) == {}


def test_stop_names_iteration_and_terms_and_keeps_checkpoint(tmp_path):
    runner = toy_runner(
        tmp_path, 4, nan_at={3}, custom_hooks=[dict(type='NonFiniteLossHook')])
    with pytest.raises(NonFiniteLossError) as info:
        runner.train()
    message = str(info.value)
    assert message.startswith('non-finite loss at iteration 3 (epoch 1): ')
    # The total and the term that caused it; the finite term is not named.
    assert 'loss_aux=nan' in message and 'loss=nan' in message
    assert 'loss_main' not in message
    assert f'the last checkpoint {tmp_path / "iter_2.pth"} is intact' \
        in message
    # Nothing of iteration 3 was saved: iter_2 is the last checkpoint.
    assert sorted(p.name for p in tmp_path.glob('*.pth*')) == ['iter_2.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path /
                                                             'iter_2.pth')
    # ...its weights are finite, and training resumes from it.
    resumed = toy_runner(tmp_path, 4, resume=True)
    resumed.train()
    assert resumed.iter == 4
    assert all(torch.isfinite(v).all() for v in params(resumed).values())


def _optimizer_state(runner):
    """AdamW's step counts and moments, by parameter index."""
    return {(i, name): value.clone()
            for i, state in runner.optim_wrapper.state_dict()['state'].items()
            for name, value in state.items()}


def test_skip_undoes_the_step(tmp_path):
    # Iteration 3 is NaN and undone: the weights and AdamW's state after 3
    # iterations are those after 2. Left in place, the NaN gradients of
    # iteration 3 would have made both NaN.
    skipped = toy_runner(
        tmp_path / 'skip',
        3,
        nan_at={3},
        custom_hooks=[dict(type='NonFiniteLossHook', action='skip')])
    with pytest.warns(
            RuntimeWarning,
            match='non-finite loss at iteration 3 '
            r'\(epoch 1\): loss=nan, loss_aux=nan; the step was '
            r'undone \(1 in a row, at most 3\)'):
        skipped.train()
    clean = toy_runner(tmp_path / 'clean', 2)
    clean.train()
    after_skip, after_two = params(skipped), params(clean)
    assert after_skip.keys() == after_two.keys()
    assert all(torch.equal(after_skip[k], after_two[k]) for k in after_two)
    state_skip, state_two = _optimizer_state(skipped), _optimizer_state(clean)
    assert sorted(state_two) == [(0, 'exp_avg'), (0, 'exp_avg_sq'),
                                 (0, 'step'), (1, 'exp_avg'),
                                 (1, 'exp_avg_sq'), (1, 'step')]
    assert state_skip.keys() == state_two.keys()
    assert all(
        torch.equal(state_skip[k], state_two[k]) for k in state_two)
    assert state_two[(0, 'step')].item() == 2
    assert skipped.iter == 3


def test_skip_stops_after_max_skips(tmp_path):
    runner = toy_runner(
        tmp_path,
        8,
        nan_at={3, 4, 5},
        custom_hooks=[
            dict(type='NonFiniteLossHook', action='skip', max_skips=2)
        ])
    with pytest.warns(RuntimeWarning), pytest.raises(
            NonFiniteLossError, match='at iteration 5 '):
        runner.train()


def test_bad_action():
    from ms_rcnn.engine.hooks import NonFiniteLossHook
    with pytest.raises(ValueError, match="'stop' or 'skip', got halt"):
        NonFiniteLossHook(action='halt')
