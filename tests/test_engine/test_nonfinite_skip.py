"""Non-finite losses or gradients skip the optimizer step and are counted; weights stay clean."""
import glob
import json
import os.path as osp
import uuid
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.runner import Runner

from hoirecon.engine import NONFINITE_COUNTER, NonFiniteSkipOptimWrapper
from hoirecon.engine.optim_wrappers import nonfinite_skip
from hoirecon.testing import ToyDataset


@pytest.fixture
def hub():
    """A fresh message hub; wrappers built afterwards report to it."""
    return MessageHub.get_instance(f'nonfinite_{uuid.uuid4().hex}')


@pytest.fixture
def warnings_logged(monkeypatch):
    messages = []
    monkeypatch.setattr(nonfinite_skip, 'print_log', lambda msg, **kwargs: messages.append(msg))
    return messages


def _wrapper(**kwargs):
    param = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    return NonFiniteSkipOptimWrapper(optimizer=torch.optim.SGD([param], lr=0.1), **kwargs), param


def test_nonfinite_loss_skips_the_step(hub, warnings_logged):
    wrapper, param = _wrapper()
    wrapper.update_params((param * float('nan')).sum())
    assert torch.equal(param.detach(), torch.tensor([1.0, -2.0]))
    assert param.grad is None  # zeroed
    assert hub.get_scalar(NONFINITE_COUNTER).current() == 1
    assert len(warnings_logged) == 1 and 'Non-finite loss' in warnings_logged[0]

    wrapper.update_params((param**2).sum())  # a finite step still updates: 1 - 0.1 * 2 * 1
    assert torch.allclose(param.detach(), torch.tensor([0.8, -1.6]))
    assert hub.get_scalar(NONFINITE_COUNTER).current() == 1


def test_nonfinite_gradients_with_a_finite_loss_skip_the_step(hub, warnings_logged):
    wrapper, param = _wrapper(clip_grad=dict(max_norm=10.0))
    loss = torch.sqrt(param * 0).sum()  # 0, but d/dx sqrt(x) at 0 is inf, times 0: NaN
    assert torch.isfinite(loss)
    wrapper.update_params(loss)
    assert torch.equal(param.detach(), torch.tensor([1.0, -2.0]))
    assert hub.get_scalar(NONFINITE_COUNTER).current() == 1
    assert 'Non-finite gradients' in warnings_logged[0]


def test_warnings_are_rate_limited_but_the_counter_is_exact(hub, warnings_logged):
    wrapper, param = _wrapper()
    for _ in range(9):
        wrapper.update_params((param * float('inf')).sum())
    assert hub.get_scalar(NONFINITE_COUNTER).current() == 9
    assert len(warnings_logged) == 4  # skips 1, 2, 4 and 8
    assert '(8 step(s) skipped so far' in warnings_logged[-1]


def test_a_bad_micro_batch_skips_its_whole_accumulation_window(hub, warnings_logged):
    wrapper, param = _wrapper(accumulative_counts=2)
    wrapper.update_params((param * float('nan')).sum())
    wrapper.update_params((param**2).sum())  # finite, but it would step on the NaN-polluted sum
    assert torch.equal(param.detach(), torch.tensor([1.0, -2.0]))
    assert hub.get_scalar(NONFINITE_COUNTER).current() == 1
    wrapper.update_params((param**2).sum())
    wrapper.update_params((param**2).sum())
    assert torch.allclose(param.detach(), torch.tensor([0.8, -1.6]))  # mean of two identical gradients


@pytest.mark.filterwarnings('ignore:.*GradScaler.*:FutureWarning')
def test_amp_wrapper_skips_a_nonfinite_loss(hub, warnings_logged):
    # mmengine's AmpOptimWrapper refuses to exist without CUDA; pretend, its GradScaler then disables itself.
    amp_module = 'mmengine.optim.optimizer.amp_optimizer_wrapper'
    with mock.patch(f'{amp_module}.is_cuda_available', return_value=True), pytest.warns(UserWarning, match='CUDA'):
        from hoirecon.engine import NonFiniteSkipAmpOptimWrapper
        param = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        wrapper = NonFiniteSkipAmpOptimWrapper(optimizer=torch.optim.SGD([param], lr=0.1))
    wrapper.update_params((param * float('nan')).sum())
    assert torch.equal(param.detach(), torch.tensor([1.0, -2.0]))
    assert hub.get_scalar(NONFINITE_COUNTER).current() == 1


def _reference_weights(bad_indices, epochs, batch_size=2):
    """AdamW + grad-norm clip over the toy data in order, never seeing a batch with a bad sample."""
    data = ToyDataset(num_samples=16)
    linear = torch.nn.Linear(4, 1)
    torch.nn.init.zeros_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    optimizer = torch.optim.AdamW(linear.parameters(), lr=0.05, weight_decay=1e-4)
    for _ in range(epochs):
        for start in range(0, len(data), batch_size):
            indices = range(start, start + batch_size)
            if any(i in bad_indices for i in indices):
                continue
            loss = F.mse_loss(linear(data.inputs[start:start + batch_size]), data.targets[start:start + batch_size])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(linear.parameters(), max_norm=10.0)
            optimizer.step()
            optimizer.zero_grad()
    return linear.weight.detach(), linear.bias.detach()


def test_runner_with_nan_batches_matches_a_run_without_them(toy_cfg):
    bad_indices = (2, 3, 9)  # batches [2, 3] and [8, 9] of 2: two bad steps per epoch
    cfg = toy_cfg(
        'nan_batches', **{
            'train_dataloader.dataset.nonfinite_indices': bad_indices,
            'train_dataloader.sampler.shuffle': False,
            'param_scheduler': [],
            'train_cfg.val_interval': 10,
        })
    runner = Runner.from_cfg(cfg)
    runner.train()

    weight, bias = _reference_weights(set(bad_indices), epochs=2)
    torch.testing.assert_close(runner.model.linear.weight.detach(), weight)
    torch.testing.assert_close(runner.model.linear.bias.detach(), bias)
    assert runner.message_hub.get_scalar(NONFINITE_COUNTER).current() == 4

    scalars = [json.loads(line) for line in open(glob.glob(osp.join(cfg.work_dir, '*', 'vis_data', 'scalars.json'))[0])]
    assert [s['nonfinite_skipped'] for s in scalars if 'nonfinite_skipped' in s] == [1, 1, 2, 2, 3, 3, 4, 4]
    log = open(glob.glob(osp.join(cfg.work_dir, '*', '*.log'))[0]).read()
    assert 'nonfinite_skipped: 4' in log
    assert log.count('Non-finite loss at iteration') == 3  # skips 1, 2 and 4
