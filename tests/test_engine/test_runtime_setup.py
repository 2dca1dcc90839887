"""--amp and distributed launch adapt the config to the machine, or say why they cannot."""
import socket

import pytest
import torch.distributed as torch_dist
from mmengine.config import Config

from hoirecon.engine import enable_amp, setup_distributed
from hoirecon.engine import runtime_setup


def _cfg(**kwargs):
    return Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl')), **kwargs))


@pytest.fixture
def no_accelerator(monkeypatch):
    monkeypatch.setattr(runtime_setup, 'has_accelerator', lambda: False)


@pytest.fixture
def with_accelerator(monkeypatch):
    monkeypatch.setattr(runtime_setup, 'has_accelerator', lambda: True)


def test_amp_on_cpu_fails_with_a_clear_message(no_accelerator):
    with pytest.raises(RuntimeError, match=r'--amp needs a CUDA.*without --amp on a CPU'):
        enable_amp(_cfg(optim_wrapper=dict(type='NonFiniteSkipOptimWrapper')))


@pytest.mark.parametrize('before, after', [('NonFiniteSkipOptimWrapper', 'NonFiniteSkipAmpOptimWrapper'),
                                           ('OptimWrapper', 'AmpOptimWrapper'), ('AmpOptimWrapper', 'AmpOptimWrapper')])
def test_amp_switches_to_the_mixed_precision_wrapper(with_accelerator, before, after):
    cfg = _cfg(optim_wrapper=dict(type=before, optimizer=dict(type='AdamW', lr=1e-4)))
    enable_amp(cfg)
    assert cfg.optim_wrapper.type == after
    assert cfg.optim_wrapper.optimizer.lr == 1e-4
    if before != after:
        assert cfg.optim_wrapper.loss_scale == 'dynamic'


def test_amp_refuses_an_unknown_wrapper(with_accelerator):
    with pytest.raises(ValueError, match="'MyWrapper'"):
        enable_amp(_cfg(optim_wrapper=dict(type='MyWrapper')))


def test_no_launcher_or_an_accelerator_leaves_the_config_alone(with_accelerator):
    cfg = _cfg()
    setup_distributed(cfg, 'pytorch')
    setup_distributed(cfg, 'none')
    assert cfg.env_cfg.dist_cfg.backend == 'nccl' and 'model_wrapper_cfg' not in cfg


@pytest.mark.parametrize('launcher', ['slurm', 'mpi'])
def test_cpu_only_machines_support_only_the_pytorch_launcher(no_accelerator, launcher):
    with pytest.raises(RuntimeError, match='--launcher pytorch'):
        setup_distributed(_cfg(), launcher)


def test_cpu_pytorch_launcher_uses_gloo_and_cpu_ddp(no_accelerator, monkeypatch):
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    for name, value in dict(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK='0', WORLD_SIZE='1').items():
        monkeypatch.setenv(name, value)
    cfg = _cfg(find_unused_parameters=True)
    try:
        setup_distributed(cfg, 'pytorch')
        assert torch_dist.get_backend() == 'gloo'
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg == dict(type='MMDistributedDataParallel',
                                         broadcast_buffers=False,
                                         find_unused_parameters=True,
                                         device_ids=None)
