"""CPU thread budget (main process and data-loader workers) and clean stops of tools/train.py."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from torch.utils.data import Dataset

from hoirecon.engine import configure_threads, fix_dataloader_workers
from hoirecon.engine.graceful_stop import StopRequested, defer_stop, install_stop_handlers

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_CONFIG = osp.join('tests', 'data', 'configs', 'toy_regression.py')


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_configure_threads_explicit_env_and_torchrun(monkeypatch, restore_threads):
    assert configure_threads(1) == 1 and torch.get_num_threads() == 1
    monkeypatch.setenv('HOIRECON_NUM_THREADS', '2')
    assert configure_threads() == 2 and torch.get_num_threads() == 2
    monkeypatch.setenv('HOIRECON_NUM_THREADS', 'two')
    with pytest.raises(ValueError, match='HOIRECON_NUM_THREADS=.*two.*not an integer'):
        configure_threads()
    monkeypatch.delenv('HOIRECON_NUM_THREADS')
    cores = len(os.sched_getaffinity(0))
    assert configure_threads() == cores
    monkeypatch.setenv('LOCAL_WORLD_SIZE', str(cores))  # one process per core: one thread each
    assert configure_threads() == 1
    with pytest.raises(ValueError, match='>= 1'):
        configure_threads(0)


class ThreadProbe(Dataset):
    """Each item reports the thread settings of the process that loads it and one draw of numpy's global RNG."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        info = torch.utils.data.get_worker_info()
        return dict(worker=info.id, torch_threads=torch.get_num_threads(), cv2_threads=cv2.getNumThreads(),
                    omp=os.environ.get('OMP_NUM_THREADS'), draw=np.random.rand())


def test_workers_run_one_thread_and_keep_mmengine_seeding():
    init_default_scope('hoirecon')
    cfg = Config(dict(randomness=dict(seed=5),
                      train_dataloader=dict(batch_size=1, num_workers=2, persistent_workers=False,
                                            sampler=dict(type='DefaultSampler', shuffle=False),
                                            collate_fn=dict(type='pseudo_collate'), dataset=ThreadProbe())))
    fix_dataloader_workers(cfg)
    assert cfg.train_dataloader.worker_init_fn == dict(type='hoirecon.worker_init', num_workers=2, seed=5)
    loader = Runner.build_dataloader(cfg.train_dataloader.to_dict(), seed=5)
    items = [{key: values[0] for key, values in batch.items()} for batch in loader]  # pseudo_collate: dict of lists
    assert {item['worker'] for item in items} == {0, 1}
    for item in items:
        assert item['torch_threads'] == 1 and item['omp'] == '1'
        assert item['cv2_threads'] in (0, 1)  # OpenCV reports 1 when its pool is off
    # mmengine's seeding: worker w of rank 0 seeds numpy with num_workers * 0 + w + seed; its first draw is item 0
    # of that worker (the sampler gives items 0, 2 to worker 0 and 1, 3 to worker 1)
    for worker in (0, 1):
        first = next(item for item in items if item['worker'] == worker)
        assert first['draw'] == np.random.RandomState(worker + 5).rand()


def test_defer_stop_raises_after_the_protected_block():
    install_stop_handlers()
    try:
        finished = False
        with pytest.raises(StopRequested, match='SIGTERM.*after the checkpoint'):
            with defer_stop():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
                finished = True
        assert finished
        with pytest.raises(StopRequested, match='SIGTERM'):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _children(pid: int) -> set:
    found = set()
    for task in os.listdir(f'/proc/{pid}/task'):
        with open(f'/proc/{pid}/task/{task}/children') as f:
            found.update(int(p) for p in f.read().split())
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().split()[2] != 'Z'
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not osp.isdir('/proc/self/task'), reason='reads child processes from /proc (Linux)')
def test_sigterm_stops_training_cleanly_and_resume_continues(tmp_path):
    """SIGTERM mid-run: exit 130 with a resume hint, the data-loader workers are gone, every checkpoint on disk loads,
    and --resume continues from the last complete one."""
    work_dir = str(tmp_path / 'work')
    env = dict(os.environ, PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'])
    options = ['train_dataloader.num_workers=2', 'train_dataloader.persistent_workers=True',
               'train_dataloader.dataset.num_samples=4000', 'train_cfg.val_interval=1000']
    log = tmp_path / 'train.log'  # a file, not a pipe: an unread pipe would block the run's logging
    with open(log, 'w') as out:
        proc = subprocess.Popen([sys.executable, 'tools/train.py', TOY_CONFIG, '--work-dir', work_dir, '--cfg-options',
                                 'train_cfg.max_epochs=1000', *options], cwd=REPO_ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 120
            while not osp.isfile(osp.join(work_dir, 'last_checkpoint')) and time.time() < deadline:
                assert proc.poll() is None, log.read_text()[-3000:]
                time.sleep(0.2)
            workers = _children(proc.pid)
            assert len(workers) >= 2, 'expected the two persistent data-loader workers'
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    output = log.read_text()
    assert proc.returncode == 130, output[-3000:]
    assert 'stopped by signal SIGTERM' in output and '--resume' in output
    deadline = time.time() + 10
    while any(_alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers), 'data-loader workers outlived the stopped run'

    checkpoints = sorted(f for f in os.listdir(work_dir) if f.endswith('.pth'))
    for name in checkpoints:  # none is half-written
        torch.load(osp.join(work_dir, name), map_location='cpu', weights_only=True)
    assert checkpoints, (os.listdir(work_dir), output[-2000:])
    last = int(max(checkpoints, key=lambda n: int(n[6:-4]))[6:-4])
    result = subprocess.run([sys.executable, 'tools/train.py', TOY_CONFIG, '--work-dir', work_dir, '--resume',
                             '--cfg-options', f'train_cfg.max_epochs={last + 1}', *options], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert f'resumed epoch: {last}' in result.stdout + result.stderr
    assert osp.isfile(osp.join(work_dir, f'epoch_{last + 1}.pth'))


# ---------------------------------------------------------------------------------------------- adaptive threads
class FakeMachine:
    """/proc readings of a 4-CPU machine: each tick() adds ``other`` + ``own`` busy CPUs over 100 ticks per CPU."""

    def __init__(self):
        self.busy = self.total = self.own = 0.0
        self.other, self.mine = 0.0, 2.0

    def tick(self):
        self.total += 4 * 100
        self.busy += 100 * (self.other + self.mine)
        self.own += 100 * self.mine

    def __call__(self):
        return self.busy, self.total, self.own


def test_threads_for_load_leaves_busy_cores_to_others():
    from hoirecon.engine.threads import threads_for_load
    assert [threads_for_load(load, 2) for load in (0.0, 0.4, 0.7, 1.0, 1.9, 3.0)] == [2, 2, 1, 1, 1, 1]
    assert [threads_for_load(load, 8) for load in (0.0, 2.0, 2.6, 2.7, 7.5)] == [8, 6, 6, 5, 1]


def test_governor_follows_other_programs_and_ignores_its_own_load(restore_threads):
    from hoirecon.engine import ThreadGovernor
    machine = FakeMachine()
    governor = ThreadGovernor(max_threads=4, reader=machine, num_cpus=4)
    machine.mine = 4.0  # this process alone uses every core: no reason to shrink
    machine.tick()
    assert governor.update() == 4 and governor.other_cores == pytest.approx(0.0)
    machine.other, machine.mine = 2.0, 2.0  # another program takes two cores
    machine.tick()
    assert governor.update() == 2 and governor.other_cores == pytest.approx(2.0)
    assert torch.get_num_threads() == 2
    machine.other = 0.0  # it ends: back to every core
    machine.tick()
    assert governor.update() == 4 and torch.get_num_threads() == 4


def test_governor_without_proc_is_a_no_op(restore_threads):
    from hoirecon.engine import ThreadGovernor

    def missing():
        raise OSError('no /proc here')

    torch.set_num_threads(1)
    governor = ThreadGovernor(max_threads=2, reader=missing)
    assert not governor.enabled and governor.update() == 1


@pytest.mark.skipif(not osp.exists('/proc/stat'), reason='reads Linux /proc')
def test_proc_reader_counts_this_process_and_its_children():
    from hoirecon.engine.threads import _process_ticks, _read_cpu_ticks
    child = subprocess.Popen([sys.executable, '-c', 'import time\nt = time.time()\nwhile time.time() - t < 3: pass'])
    try:
        time.sleep(0.3)
        busy0, total0, own0 = _read_cpu_ticks()
        self0 = _process_ticks('self')
        time.sleep(0.8)  # the child spins, this process sleeps
        busy1, total1, own1 = _read_cpu_ticks()
        self1 = _process_ticks('self')
    finally:
        child.kill()
        child.wait()
    assert total1 > total0 and busy1 > busy0
    assert own1 - own0 > self1 - self0  # the child's CPU time counts as this process's own


def test_tools_adapt_only_when_threads_are_not_fixed(monkeypatch):
    from hoirecon.engine import adapt_threads_by_default
    monkeypatch.delenv('HOIRECON_NUM_THREADS', raising=False)
    monkeypatch.delenv('LOCAL_WORLD_SIZE', raising=False)
    assert adapt_threads_by_default(None)
    assert not adapt_threads_by_default(2)
    monkeypatch.setenv('HOIRECON_NUM_THREADS', '1')
    assert not adapt_threads_by_default(None)
    monkeypatch.delenv('HOIRECON_NUM_THREADS')
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '2')
    assert not adapt_threads_by_default(None)
