"""Toolbox checkpoints load with weights_only=True, resume exactly, and unsafe files are refused."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner

from hoirecon.engine import UnsafeCheckpointError
from hoirecon.engine.checkpoint_compat import UNSAFE_ENV
from hoirecon.testing import ToyDataset


@pytest.fixture
def four_epochs(toy_cfg):
    """An uninterrupted 4-epoch toy run (LR halves after epochs 1 and 3); checkpoints every epoch."""
    runner = Runner.from_cfg(toy_cfg('uninterrupted', **{'train_cfg.max_epochs': 4, 'train_cfg.val_interval': 2}))
    runner.train()
    return runner


def _state(runner):
    return dict(weights={
        k: v.clone()
        for k, v in runner.model.state_dict().items()
    },
                optimizer=runner.optim_wrapper.state_dict(),
                scheduler=runner.param_schedulers[0].state_dict(),
                loss_history=runner.message_hub.get_scalar('train/loss').data,
                lr_history=runner.message_hub.get_scalar('train/lr').data,
                counters=(runner.epoch, runner.iter))


def test_checkpoints_load_with_plain_weights_only_torch_load(four_epochs):
    paths = sorted(glob.glob(osp.join(four_epochs.work_dir, 'epoch_*.pth')))
    assert [osp.basename(p) for p in paths] == ['epoch_2.pth', 'epoch_3.pth', 'epoch_4.pth']  # max_keep_ckpts=3
    for epoch, path in zip((2, 3, 4), paths):
        checkpoint = torch.load(path, weights_only=True)
        assert set(checkpoint) == {'meta', 'state_dict', 'message_hub', 'optimizer', 'param_schedulers'}
        assert (checkpoint['meta']['epoch'], checkpoint['meta']['iter']) == (epoch, 8 * epoch)
        assert 'train/loss' in checkpoint['message_hub']['log_scalars']


def test_resume_continues_exactly_like_an_uninterrupted_run(four_epochs, toy_cfg):
    resumed = Runner.from_cfg(
        toy_cfg(
            'resumed', **{
                'train_cfg.max_epochs': 4,
                'train_cfg.val_interval': 2,
                'resume': True,
                'load_from': osp.join(four_epochs.work_dir, 'epoch_2.pth'),
            }))
    resumed.train()
    expected, actual = _state(four_epochs), _state(resumed)
    log = open(glob.glob(osp.join(resumed.work_dir, '*', '*.log'))[0]).read()
    assert 'resumed epoch: 2, iter: 16' in log
    assert 'dataset metainfo from the resumed checkpoint is different' not in log  # numpy meta came back exactly
    assert 'is not HistoryBuffer' not in log

    assert actual['counters'] == expected['counters'] == (4, 32)
    for key, value in expected['weights'].items():
        assert torch.equal(actual['weights'][key], value), key
    assert actual['optimizer']['param_groups'][0]['lr'] == expected['optimizer']['param_groups'][0]['lr'] == 0.0125
    for index, state in expected['optimizer']['state'].items():
        for key, value in state.items():
            assert torch.equal(actual['optimizer']['state'][index][key], value), (index, key)
    assert actual['scheduler'] == expected['scheduler']
    for key in ('loss_history', 'lr_history'):  # the resumed hub holds the first 2 epochs from the checkpoint
        for got, want in zip(actual[key], expected[key]):
            assert got.dtype == want.dtype and len(want) == 32
            np.testing.assert_array_equal(got, want)


def test_toolbox_checkpoint_tests_with_the_saved_weights(four_epochs, toy_cfg):
    checkpoint = osp.join(four_epochs.work_dir, 'epoch_4.pth')
    metrics = Runner.from_cfg(toy_cfg('test', load_from=checkpoint)).test()
    weights = torch.load(checkpoint, weights_only=True)['state_dict']
    data = ToyDataset(num_samples=8, seed=1)
    pred = data.inputs @ weights['linear.weight'].T + weights['linear.bias']
    expected_mse = ((pred - data.targets)**2).mean().item()
    assert metrics['toy/mse'] == pytest.approx(expected_mse, rel=1e-5)


class _PlantedPayload:
    """Unpickling this creates a marker file: stands in for arbitrary code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def test_load_from_a_malicious_file_is_refused_and_runs_nothing(four_epochs, toy_cfg, tmp_path):
    marker = tmp_path / 'payload_ran'
    evil = tmp_path / 'evil.pth'
    checkpoint = torch.load(osp.join(four_epochs.work_dir, 'epoch_4.pth'), weights_only=True)
    checkpoint['meta']['note'] = _PlantedPayload(str(marker))
    torch.save(checkpoint, evil)

    runner = Runner.from_cfg(toy_cfg('evil', load_from=str(evil)))
    with pytest.raises(UnsafeCheckpointError) as info:
        runner.test()
    assert str(evil) in str(info.value) and UNSAFE_ENV in str(info.value)
    assert not marker.exists()


def test_plain_mmengine_checkpoints_resume_only_with_the_opt_in(toy_cfg, monkeypatch):
    legacy_cfg = toy_cfg('legacy', **{'train_cfg.max_epochs': 1})
    legacy_cfg.default_hooks.pop('safe_checkpoint')  # writes what mmengine writes: HistoryBuffer, numpy values
    legacy = Runner.from_cfg(legacy_cfg)
    legacy.train()
    path = osp.join(legacy.work_dir, 'epoch_1.pth')
    resume = {'resume': True, 'load_from': path, 'train_cfg.max_epochs': 2}

    with pytest.raises(UnsafeCheckpointError, match='epoch_1.pth'):
        Runner.from_cfg(toy_cfg('legacy_refused', **resume)).train()

    monkeypatch.setenv(UNSAFE_ENV, '1')
    resumed = Runner.from_cfg(toy_cfg('legacy_trusted', **resume))
    resumed.train()
    assert resumed.epoch == 2
    assert isinstance(resumed.message_hub.get_scalar('train/loss'), HistoryBuffer)
    assert len(resumed.message_hub.get_scalar('train/loss').data[0]) == 16
