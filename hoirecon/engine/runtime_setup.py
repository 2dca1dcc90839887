"""Adapt a config to the machine it runs on: mixed precision and distributed launch.

Used by ``tools/train.py`` and ``tools/test.py``; both functions explain in
their error messages what to change when the machine cannot do what the
command line asks.
"""
import atexit
import datetime
import logging

import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.device import is_cuda_available, is_mlu_available, is_musa_available, is_npu_available
from mmengine.logging import print_log
from torch.nn.parallel import DistributedDataParallel

from hoirecon.registry import MODEL_WRAPPERS

#: Seconds a rank waits at exit for the others before tearing the CPU process group down.
EXIT_BARRIER_TIMEOUT_S = 60
#: fp32 optimizer wrapper type -> its mixed-precision counterpart.
AMP_WRAPPERS = {
    'OptimWrapper': 'AmpOptimWrapper',
    'NonFiniteSkipOptimWrapper': 'NonFiniteSkipAmpOptimWrapper',
}


def has_accelerator() -> bool:
    """Whether mmengine can train on a CUDA, NPU, MLU or MUSA device here."""
    return is_cuda_available() or is_npu_available() or is_mlu_available() or is_musa_available()


def enable_amp(cfg: Config) -> None:
    """Switch ``cfg.optim_wrapper`` to automatic mixed precision, in place.

    ``OptimWrapper`` becomes ``AmpOptimWrapper`` and
    ``NonFiniteSkipOptimWrapper`` becomes ``NonFiniteSkipAmpOptimWrapper``,
    with a dynamic loss scale unless the config sets one.

    Raises:
        RuntimeError: No CUDA/NPU/MLU/MUSA device: mmengine's mixed-precision
            wrapper does not run on CPUs.
        ValueError: The config has no ``optim_wrapper`` or one of a type this
            function cannot convert.
    """
    if not has_accelerator():
        raise RuntimeError('--amp needs a CUDA (or NPU/MLU/MUSA) device: mmengine 0.10.7 implements mixed precision '
                           'only there (AmpOptimWrapper), and this machine has none. Train without --amp on a CPU.')
    optim_wrapper = cfg.get('optim_wrapper')
    if optim_wrapper is None:
        raise ValueError(f'--amp: the config {cfg.filename} has no optim_wrapper to switch to mixed precision.')
    wrapper_type = optim_wrapper.get('type', 'OptimWrapper')
    if wrapper_type in AMP_WRAPPERS.values():
        print_log(f'--amp: optim_wrapper is already {wrapper_type}.', logger='current')
        return
    if wrapper_type not in AMP_WRAPPERS:
        raise ValueError(f'--amp: cannot switch optim_wrapper type {wrapper_type!r} to mixed precision (known: '
                         f'{sorted(AMP_WRAPPERS)}). Set a mixed-precision wrapper in the config instead.')
    optim_wrapper.type = AMP_WRAPPERS[wrapper_type]
    optim_wrapper.setdefault('loss_scale', 'dynamic')


def fix_dataloader_workers(cfg: Config) -> None:
    """Make every dataloader of ``cfg`` consistent with its ``num_workers`` (in place).

    * ``num_workers=0``: ``persistent_workers`` is turned off. The base configs set
      ``persistent_workers=num_workers > 0`` when they are read, so a derived config or
      ``--cfg-options ...num_workers=0`` would otherwise keep ``persistent_workers=True``, which torch refuses
      ("persistent_workers option needs num_workers > 0").
    * ``num_workers > 0`` and no ``worker_init_fn``: the workers get :func:`hoirecon.engine.threads.worker_init`
      (mmengine's seeding with ``cfg.randomness.seed``, then one thread per worker), so that workers and the main
      process's intra-op threads do not oversubscribe the cores.
    """
    seed = (cfg.get('randomness') or {}).get('seed')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if not isinstance(loader, dict):
            continue
        workers = loader.get('num_workers', 0)
        if workers == 0 and loader.get('persistent_workers'):
            loader['persistent_workers'] = False
        if workers > 0 and loader.get('worker_init_fn') is None:
            loader['worker_init_fn'] = dict(type='hoirecon.worker_init', num_workers=workers, seed=seed)


def _destroy_process_group() -> None:
    """Tear the gloo group down at exit, after all ranks got there.

    A rank that destroys its group while a peer still talks to it (rank 0 saving the last checkpoint, say) makes the
    peer abort ("terminate called without an active exception", exit -6), so the ranks first meet at a monitored
    barrier; when a peer is gone (it crashed), the barrier times out and the group is torn down anyway.
    """
    if not torch_dist.is_initialized():
        return
    try:
        torch_dist.monitored_barrier(timeout=datetime.timedelta(seconds=EXIT_BARRIER_TIMEOUT_S))
    except RuntimeError as err:
        print_log(f'distributed exit: not all ranks reached the final barrier ({err}); leaving anyway.',
                  logger='current', level=logging.WARNING)
    torch_dist.destroy_process_group()


def setup_distributed(cfg: Config, launcher: str) -> None:
    """Let ``launcher`` run on CPU-only machines (in place on ``cfg``).

    With an accelerator, or with ``launcher='none'``, nothing changes. On a
    CPU-only machine mmengine 0.10.7 cannot start a distributed run by
    itself (it calls ``torch.cuda.set_device`` and hands DDP a GPU index), so
    this function

    * sets ``env_cfg.dist_cfg.backend = 'gloo'`` (the runtime default is
      ``nccl``, which needs GPUs),
    * initialises the gloo process group from the ``torchrun`` environment
      (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``); the
      ``Runner`` then finds it initialised and keeps it,
    * wraps the model in ``MMDistributedDataParallel`` with
      ``device_ids=None`` (CPU replicas).

    Raises:
        RuntimeError: ``launcher`` is ``'slurm'`` or ``'mpi'`` on a machine
            without an accelerator (only ``'pytorch'`` is supported there).
    """
    if launcher == 'none' or has_accelerator():
        return
    if launcher != 'pytorch':
        raise RuntimeError(f'--launcher {launcher} needs GPUs with mmengine 0.10.7. On a CPU-only machine start the '
                           'processes with torchrun and --launcher pytorch (tools/dist_train.sh CONFIG NPROC), which '
                           'uses the gloo backend.')
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') != 'gloo':
        print_log(f"No GPU: using the gloo backend instead of {dist_cfg.get('backend', 'nccl')!r}.", logger='current')
        dist_cfg['backend'] = 'gloo'
    if not torch_dist.is_initialized():
        kwargs = {k: v for k, v in dist_cfg.items() if k not in ('backend', 'init_backend')}
        if 'timeout' in kwargs:
            kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
        torch_dist.init_process_group(backend='gloo', **kwargs)
        # A gloo group still alive at interpreter exit can abort the process ("terminate called without an
        # active exception"): tear it down first.
        atexit.register(_destroy_process_group)
    wrapper_cfg = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel',
                                                       broadcast_buffers=False,
                                                       find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper_cfg.setdefault('type', 'MMDistributedDataParallel')
    if issubclass(MODEL_WRAPPERS.get(wrapper_cfg['type']), DistributedDataParallel):
        wrapper_cfg['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper_cfg
