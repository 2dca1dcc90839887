"""CPU threads of the training / test processes and their data-loader workers: one budget, no oversubscription.

A training step on a CPU runs three kinds of threads on the same cores: torch's intra-op pool (OpenMP) in the main
process, the data-loader worker processes, and the thread pools that OpenCV, OpenBLAS and torch may start inside
each worker. Left at their defaults they ask for several times as many threads as there are cores, and OpenMP
threads that wait at a barrier for a descheduled peer turn every small operator into a scheduler time slice: a step
slows down far more than in proportion when another program takes part of the machine.

The rules applied by :func:`configure_threads` (main process) and :func:`limit_worker_threads` (each worker):

* the main process uses one intra-op thread per core it may run on (``os.sched_getaffinity``), divided among the
  processes of a ``torchrun`` launch on this machine (``LOCAL_WORLD_SIZE``), or ``HOIRECON_NUM_THREADS`` / the
  ``--threads`` value of the tools;
* every worker runs single-threaded: torch 1 thread, OpenCV 0 (no pool), OpenBLAS / MKL / OpenMP 1 thread
  (:func:`worker_init`, put into every data loader with workers by
  :func:`hoirecon.engine.fix_dataloader_workers`).

The CPU default (``configs/stackflow_synthetic.py``) loads its data in the main process (``num_workers=0``): its
pipeline costs about 55 ms per batch of 32 there, while handing the ~600 small tensors of a batch from worker
processes to the main one cost about 0.2 s per batch in the main process (docs/benchmarks.md).
"""
import os
from typing import Optional

import torch
from mmengine.dataset import worker_init_fn as mmengine_worker_init_fn
from mmengine.dist import get_rank

from hoirecon.registry import FUNCTIONS

#: Environment variable that fixes the main process's intra-op threads (default: the cores this process may use).
THREADS_ENV = 'HOIRECON_NUM_THREADS'
#: Thread-count variables of the native libraries, set to 1 in the data-loader workers.
WORKER_THREAD_VARS = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS')


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity; ``os.cpu_count()`` where affinity is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def configure_threads(num_threads: Optional[int] = None) -> int:
    """Set the main process's torch intra-op threads and OpenCV pool; return the intra-op thread count.

    Args:
        num_threads: intra-op threads; None reads ``HOIRECON_NUM_THREADS`` and falls back to
            :func:`available_cores` divided by ``LOCAL_WORLD_SIZE`` (processes of this machine in a torchrun launch).

    Raises:
        ValueError: ``num_threads`` or ``HOIRECON_NUM_THREADS`` is not a positive integer.
    """
    if num_threads is None:
        value = os.environ.get(THREADS_ENV)
        if value is not None:
            try:
                num_threads = int(value)
            except ValueError:
                raise ValueError(f'{THREADS_ENV}={value!r} is not an integer; set it to the number of threads, e.g. '
                                 f'{THREADS_ENV}=2, or unset it to use every core.') from None
        else:
            num_threads = max(1, available_cores() // int(os.environ.get('LOCAL_WORLD_SIZE', '1')))
    if num_threads < 1:
        raise ValueError(f'the number of threads must be >= 1, got {num_threads}')
    torch.set_num_threads(num_threads)
    _set_opencv_threads(0)  # the main process only decodes images for the demo: no OpenCV pool beside torch's
    return num_threads


def limit_worker_threads() -> None:
    """Make the calling data-loader worker single-threaded (torch, OpenCV, BLAS, OpenMP).

    Environment variables are set too, so that a process the worker starts inherits the limit.
    """
    for var in WORKER_THREAD_VARS:
        os.environ[var] = '1'
    torch.set_num_threads(1)
    _set_opencv_threads(0)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl comes with scikit-learn; without it the variables above still apply
        return
    threadpool_limits(limits=1)


@FUNCTIONS.register_module()
def worker_init(worker_id: int, num_workers: int, seed: Optional[int] = None) -> None:
    """Data-loader ``worker_init_fn``: mmengine's per-worker seeding (when ``seed`` is set), then one thread."""
    if seed is not None:
        mmengine_worker_init_fn(worker_id, num_workers=num_workers, rank=get_rank(), seed=seed)
    limit_worker_threads()


def thread_report() -> str:
    """One line: intra-op threads and the cores available."""
    return f'torch threads {torch.get_num_threads()} of {available_cores()} cores'


def _set_opencv_threads(count: int) -> None:
    try:
        import cv2
    except ImportError:
        return
    cv2.setNumThreads(count)
