"""Where a training step's time goes: data pipeline, backbone, heads/flows, body model, losses, backward, optimizer.

Runs the config's real training data pipeline in this process (no workers) and the real training step on its
batches, and prints seconds per batch of each part, so that a slow step can be traced to its cause before anything
is tuned. Module times come from forward hooks (exact on a CPU, where calls are synchronous); ``losses and glue`` is
the rest of the forward pass (decoding, projections, loss terms).

    python tools/analysis/profile_training.py configs/stackflow_synthetic.py --batches 6
    python tools/analysis/profile_training.py configs/stackflow_synthetic.py --threads 1

The dataset must exist (run the main command once, or ``tools/make_synthetic_dataset.py``), and so must the
relation encoder's PCA file. The figures depend on the machine and its load: report them with the CPU model
(``lscpu``) and the load average (``uptime``).
"""
import argparse
import collections
import os
import time

import hoirecon  # noqa: F401  # isort: skip
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from hoirecon.engine.threads import configure_threads, cpu_description, thread_report
from hoirecon.registry import MODELS

PARTS = ('backbone', 'shape_head', 'head', 'body_model', 'relation_encoder')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Per-part timing of a training step on the real data pipeline.')
    parser.add_argument('config')
    parser.add_argument('--batches', type=int, default=6, help='timed batches (after one warm-up batch)')
    parser.add_argument('--threads', type=int, default=None, help='torch intra-op threads (default: all cores)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries')
    return parser.parse_args(argv)


class ModuleTimer:
    """Wall-clock seconds spent in the forward passes of named submodules (outermost call only)."""

    def __init__(self, model: torch.nn.Module, names):
        self.seconds = collections.Counter()
        self._start = {}
        for name in names:
            module = getattr(model, name, None)
            if module is not None:
                module.register_forward_pre_hook(self._pre(name))
                module.register_forward_hook(self._post(name))

    def _pre(self, name):
        def hook(module, args):
            self._start.setdefault(name, time.perf_counter())
        return hook

    def _post(self, name):
        def hook(module, args, output):
            self.seconds[name] += time.perf_counter() - self._start.pop(name)
        return hook


def main(argv=None):
    args = parse_args(argv)
    configure_threads(args.threads)
    init_default_scope('hoirecon')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    loader_cfg = dict(cfg.train_dataloader, num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    model = MODELS.build(cfg.model)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    timer = ModuleTimer(model, PARTS)
    totals = collections.Counter()
    batches = iter(loader)
    for step in range(args.batches + 1):
        if step == 1:  # the first batch initialises ActNorm and warms the allocator: not timed
            timer.seconds.clear()
            totals.clear()
        start = time.perf_counter()
        data = next(batches)
        totals['data pipeline (1 process)'] += time.perf_counter() - start
        start = time.perf_counter()
        batch = model.data_preprocessor(data, True)
        totals['preprocessor'] += time.perf_counter() - start
        start = time.perf_counter()
        losses = model(**batch, mode='loss')
        loss = sum(losses.values())
        totals['forward'] += time.perf_counter() - start
        start = time.perf_counter()
        optimizer.zero_grad()
        loss.backward()
        totals['backward'] += time.perf_counter() - start
        start = time.perf_counter()
        optimizer.step()
        totals['optimizer step'] += time.perf_counter() - start

    n = args.batches
    modules = sum(timer.seconds.values())
    print(f'config {args.config} | batch {loader_cfg["batch_size"]} | {n} batches | {thread_report()}')
    print(f'cpu: {cpu_description()}; torch uses {torch.backends.cpu.get_cpu_capability()} | load average '
          f'{os.getloadavg()[0]:.2f}')
    rows = [('data pipeline (1 process)', totals['data pipeline (1 process)']),
            ('preprocessor', totals['preprocessor'])]
    rows += [(f'  forward: {name}', timer.seconds[name]) for name in PARTS if name in timer.seconds]
    rows += [('  forward: losses and glue', totals['forward'] - modules), ('forward (total)', totals['forward']),
             ('backward', totals['backward']), ('optimizer step', totals['optimizer step'])]
    step_s = totals['forward'] + totals['backward'] + totals['optimizer step'] + totals['preprocessor']
    for name, seconds in rows:
        print(f'{name:32s} {1000 * seconds / n:9.1f} ms per batch')
    print(f'{"model step (no data)":32s} {1000 * step_s / n:9.1f} ms per batch')


if __name__ == '__main__':
    main()
