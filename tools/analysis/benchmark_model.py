"""Throughput of a reconstructor: training images/s and inference images/s, on random crops.

Builds the config's model (the relation encoder's PCA file must exist, e.g. after one training run, or pass
``--direct-relation`` to time the model with the DirectRelativePose encoder), feeds batches of random crops with
self-consistent targets (:func:`hoirecon.testing.hoi_batch.make_hoi_batch`) and prints images per second for a
training step (forward, backward, AdamW step) and for ``predict``. Data loading is not included.

    python tools/analysis/benchmark_model.py configs/stackflow_synthetic.py --batch-size 32
    python tools/analysis/benchmark_model.py configs/stackflow_behave.py --device cuda --batch-size 32
    python tools/analysis/benchmark_model.py configs/stackflow_synthetic.py --busy 1   # and with a busy core

``--busy N`` times the training step again while N busy-loop programs run beside it and prints the slowdown against
the idle timing of the same run (a fair share of one of two cores would give x2): once with the threads fixed, and
once with the threads adapted to the free cores as ``tools/train.py`` / ``tools/test.py`` do unless ``--threads`` is
given (:class:`hoirecon.engine.ThreadGovernor`).
"""
import argparse
import os
import signal
import subprocess
import sys
import time

import hoirecon  # noqa: F401  # isort: skip
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from hoirecon.engine import ThreadGovernor, configure_threads, thread_report
from hoirecon.objects import ObjectLibrary
from hoirecon.registry import MODELS
from hoirecon.testing.hoi_batch import make_hoi_batch


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Training and inference throughput of a hoirecon model.')
    parser.add_argument('config')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--iters', type=int, default=10, help='timed iterations (after --warmup)')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: as tools/train.py, every core this process may use)')
    parser.add_argument('--busy', type=int, default=0, metavar='N',
                        help='also time the training step beside N busy-loop processes (CPU contention)')
    parser.add_argument('--direct-relation', action='store_true',
                        help='use the DirectRelativePose encoder (no PCA file needed)')
    return parser.parse_args(argv)


def timed(step, iters: int, warmup: int, device: str) -> float:
    """Seconds per call of ``step`` after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / iters


def main(argv=None):
    args = parse_args(argv)
    configure_threads(args.threads)
    init_default_scope('hoirecon')
    cfg = Config.fromfile(args.config)
    if args.direct_relation:
        cfg.model.relation_encoder = dict(type='DirectRelativePose')
        cfg.model.losses.pop('offsets', None)
    model = MODELS.build(cfg.model).to(args.device)
    crop = next(t['img_size'] for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'HOICrop')
    inputs, samples = make_hoi_batch(model.body_model, ObjectLibrary('behave'), args.batch_size, crop_size=crop)
    data = dict(inputs=list(inputs), data_samples=samples)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def train_step():
        batch = model.data_preprocessor(data, True)
        loss = sum(model(**batch, mode='loss').values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def predict_step():
        with torch.no_grad():
            model(**model.data_preprocessor(data, False), mode='predict')

    model.train()
    train_s = timed(train_step, args.iters, args.warmup, args.device)
    busy_s = timed_beside_busy_loops(train_step, args) if args.busy else None
    adaptive = timed_beside_busy_loops(train_step, args, adaptive=True) if args.busy and args.threads is None \
        else None
    model.eval()
    test_s = timed(predict_step, args.iters, args.warmup, args.device)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f'config {args.config} | device {args.device} | {thread_report()} | batch {args.batch_size} '
          f'| crop {crop} px | {params:.1f} M parameters')
    print(f'train:     {args.batch_size / train_s:8.1f} images/s ({1000 * train_s:.0f} ms per step)')
    if busy_s is not None:
        print(f'train beside {args.busy} busy process(es): {args.batch_size / busy_s:8.1f} images/s '
              f'({1000 * busy_s:.0f} ms per step, x{busy_s / train_s:.2f} the idle step)')
    if adaptive is not None:
        seconds, threads = adaptive
        print(f'  with adaptive threads ({threads} thread(s), as train.py/test.py): {args.batch_size / seconds:8.1f} '
              f'images/s ({1000 * seconds:.0f} ms per step, x{seconds / train_s:.2f} the idle step)')
    print(f'inference: {args.batch_size / test_s:8.1f} images/s ({1000 * test_s:.0f} ms per batch)')


def start_busy_loops(count: int) -> list:
    """Start ``count`` busy-loop programs that are not children of this process (as another user's job would be:
    the adaptive threads count this process's own children as its own load); returns their pids."""
    pids = []
    for _ in range(count):
        shell = f'{sys.executable} -c "while True: pass" >/dev/null 2>&1 & echo $!'
        pids.append(int(subprocess.run(['sh', '-c', shell], capture_output=True, text=True, check=True).stdout))
    return pids


def timed_beside_busy_loops(step, args, adaptive: bool = False):
    """Seconds per ``step`` while ``args.busy`` programs spin on the CPU (they are ended afterwards); with
    ``adaptive``, :class:`ThreadGovernor` sets the threads before every step: (seconds, final threads)."""
    pids = start_busy_loops(args.busy)
    threads = torch.get_num_threads()
    try:
        time.sleep(1.0)  # let the scheduler settle
        if not adaptive:
            return timed(step, args.iters, 1, args.device)
        governor = ThreadGovernor(threads)
        time.sleep(1.0)

        def governed_step():
            governor.update()
            step()

        seconds = timed(governed_step, args.iters, 2, args.device)
        return seconds, torch.get_num_threads()
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        torch.set_num_threads(threads)


if __name__ == '__main__':
    main()
