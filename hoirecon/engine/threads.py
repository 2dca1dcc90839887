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

When the thread count is not fixed (no ``--threads`` / ``HOIRECON_NUM_THREADS``), the training and test tools also
adapt it while they run (:class:`ThreadGovernor`, through :class:`~hoirecon.engine.hooks.AdaptiveThreadsHook`): when
another program takes cores, torch uses one thread per core left free, so a step slows down in proportion to the CPU
taken instead of several times more.

The CPU default (``configs/stackflow_synthetic.py``) loads its data in the main process (``num_workers=0``): its
pipeline costs about 55 ms per batch of 32 there, while handing the ~600 small tensors of a batch from worker
processes to the main one cost about 0.2 s per batch in the main process (docs/benchmarks.md).
"""
import os
import platform
from typing import Optional, Tuple

import numpy as np
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


def _cpuinfo_field(name: str) -> str:
    try:
        with open('/proc/cpuinfo') as f:
            return next((line.split(':', 1)[1].strip() for line in f if line.startswith(name)), '')
    except OSError:
        return ''


def cpu_description() -> str:
    """``'<model> (<ISA>, <n> cores)'``: the CPU model as ``lscpu`` names it (else the platform's processor string),
    'AVX-512' / 'AVX2' / 'no AVX2' from its flags, and the cores this process may run on; for the reports of the
    benchmark and generation tools."""
    model = _cpuinfo_field('model name') or platform.processor() or 'unknown CPU'
    flags = _cpuinfo_field('flags').split()
    isa = 'AVX-512' if 'avx512f' in flags else 'AVX2' if 'avx2' in flags else 'no AVX2' if flags else 'unknown ISA'
    return f'{model} ({isa}, {available_cores()} cores)'


def thread_report() -> str:
    """One line: intra-op threads and the cores available."""
    return f'torch threads {torch.get_num_threads()} of {available_cores()} cores'


def _set_opencv_threads(count: int) -> None:
    try:
        import cv2
    except ImportError:
        return
    cv2.setNumThreads(count)


def _read_cpu_ticks() -> Tuple[float, float, float]:
    """(all CPUs busy ticks, all CPUs total ticks, this process and its children's busy ticks) from /proc."""
    with open('/proc/stat') as f:
        fields = [float(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    own = _process_ticks('self')
    me = os.getpid()
    for pid in os.listdir('/proc'):
        if pid.isdigit() and int(pid) != me:
            try:
                with open(f'/proc/{pid}/stat') as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(')', 1)[1].split()[1]) == me:  # ppid: a data-loader worker of this process
                own += _ticks_of(stat)
    return total - idle, total, own


def _process_ticks(pid: str) -> float:
    with open(f'/proc/{pid}/stat') as f:
        return _ticks_of(f.read())


def _ticks_of(stat: str) -> float:
    """utime + stime of a /proc/<pid>/stat line (the fields after the command name in parentheses)."""
    rest = stat.rsplit(')', 1)[1].split()
    return float(rest[11]) + float(rest[12])


def threads_for_load(other_cores: float, max_threads: int) -> int:
    """Intra-op threads that leave the cores other programs use to them: ``max_threads - round(other)``, >= 1.

    OpenMP threads wait at a barrier for the slowest one; a thread that shares its core with another program makes
    every operator wait for its time slice, so one thread per *free* core is faster than one per core.
    """
    return int(min(max_threads, max(1, max_threads - int(np.floor(other_cores + 0.3)))))


class ThreadGovernor:
    """Adapts torch's intra-op threads to the cores other programs leave free (Linux ``/proc``; a no-op elsewhere).

    Each :meth:`update` reads the CPU time of the whole machine and of this process (with its data-loader workers)
    since the previous call; the difference is the load of other programs, in cores, and
    :func:`threads_for_load` turns it into a thread count (between 1 and ``max_threads``).

    Args:
        max_threads: threads when the machine is otherwise idle (default: :func:`available_cores`).
        reader: returns ``(machine busy ticks, machine total ticks, own ticks)``; tests pass a fake.
        num_cpus: CPUs counted by the machine totals (default ``os.cpu_count()``).
    """

    def __init__(self, max_threads: Optional[int] = None, reader=None, num_cpus: Optional[int] = None):
        self.max_threads = int(max_threads or available_cores())
        self.num_cpus = int(num_cpus or os.cpu_count() or 1)
        self.reader = reader or _read_cpu_ticks
        self.other_cores = 0.0
        try:
            self._last = self.reader()
        except (OSError, ValueError, IndexError):
            self._last = None  # no /proc: nothing to adapt to

    @property
    def enabled(self) -> bool:
        return self._last is not None

    def update(self) -> int:
        """Measure the other programs' load since the last call and set (and return) the thread count."""
        if self._last is None:
            return torch.get_num_threads()
        now = self.reader()
        busy, total, own = (b - a for a, b in zip(self._last, now))
        self._last = now
        if total <= 0:
            return torch.get_num_threads()
        ticks_per_cpu = total / self.num_cpus
        self.other_cores = max(0.0, (busy - own) / ticks_per_cpu)
        threads = threads_for_load(self.other_cores, self.max_threads)
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
        return threads


def adapt_threads_by_default(num_threads: Optional[int]) -> bool:
    """Whether the tools should adapt the threads while running: not when ``--threads`` or
    ``HOIRECON_NUM_THREADS`` fixes them, nor in a multi-process launch (the peers would count as other programs)."""
    return (num_threads is None and os.environ.get(THREADS_ENV) is None
            and int(os.environ.get('LOCAL_WORLD_SIZE', '1')) == 1)
