"""Train a hoirecon model from a config.

Examples (from the repository root, with ``pip install -e .`` done)::

    python tools/train.py configs/stackflow_behave.py
    python tools/train.py CONFIG --work-dir work_dirs/run1 --resume          # continue the latest checkpoint
    python tools/train.py CONFIG --cfg-options train_cfg.max_epochs=50 optim_wrapper.optimizer.lr=2e-4
    python tools/train.py CONFIG --threads 1                                 # leave a core to something else
    bash tools/dist_train.sh CONFIG 4                                        # 4 processes (GPUs, or CPU with gloo)

Ctrl-C or SIGTERM stops the run after the checkpoint being written (if any) is complete, with no data-loader
worker left behind; ``--resume`` continues from the last complete checkpoint. See docs/training.md.
"""
import argparse
import os
import os.path as osp
import sys

import hoirecon  # noqa: F401  # isort: skip  (first: installs the weights-only checkpoint loader)
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from hoirecon.apis import prepare_experiment
from hoirecon.engine import (adapt_threads_by_default, configure_threads, enable_amp, fix_dataloader_workers,
                             setup_distributed, thread_report)
from hoirecon.engine.graceful_stop import StopRequested, install_stop_handlers, make_checkpoints_uninterruptible
from hoirecon.engine.hooks import AdaptiveThreadsHook
from hoirecon.utils.paths import resolve_data_paths


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a hoirecon model.')
    parser.add_argument('config', help='config file, e.g. configs/stackflow_behave.py')
    parser.add_argument('--work-dir', help='folder for logs and checkpoints (default: work_dirs/<config name>)')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        metavar='PATH',
        help='resume training (weights, optimizer, LR schedule, counters) from the checkpoint PATH; with no PATH, '
        'from the latest checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision; needs a CUDA device (on a CPU the command stops with an error)')
    parser.add_argument('--cfg-options',
                        nargs='+',
                        action=DictAction,
                        help='override config entries, e.g. train_cfg.max_epochs=10 "train_dataloader.batch_size=16"')
    parser.add_argument('--data-root', metavar='DIR',
                        help="folder that stands for the config's data/ (default: $HOIRECON_DATA_ROOT, else ./data "
                        'when it exists, else the data/ of the hoirecon checkout)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads of this process (default: HOIRECON_NUM_THREADS, else every core it '
                        'may use); data-loader workers always run one thread each')
    parser.add_argument('--launcher',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none',
                        help='how the processes were started; tools/dist_train.sh uses pytorch (torchrun)')
    # Set by the legacy torch.distributed.launch; torchrun sets the LOCAL_RANK variable instead.
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line to ``cfg``: ``--cfg-options`` first, then the flags."""
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    resolve_data_paths(cfg, args.data_root)
    fix_dataloader_workers(cfg)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.amp:
        enable_amp(cfg)
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    install_stop_handlers()
    configure_threads(args.threads)
    cfg = merge_args(Config.fromfile(args.config), args)
    setup_distributed(cfg, args.launcher)
    try:
        prepare_experiment(cfg)  # synthetic data and relation PCA on first use
        runner = Runner.from_cfg(cfg)
        adapt = adapt_threads_by_default(args.threads)
        if adapt:  # fewer threads while other programs take cores (--threads N fixes them)
            runner.register_hook(AdaptiveThreadsHook())
        runner.logger.info(f'CPU threads: {thread_report()}' + (', adapted to the free cores' if adapt else ''))
        make_checkpoints_uninterruptible(runner)
        runner.train()
    except StopRequested as stop:
        print(f'{stop}: training stopped. Continue from the last complete checkpoint with '
              f'`python tools/train.py {args.config} --work-dir {cfg.work_dir} --resume`.', file=sys.stderr)
        sys.exit(130)


if __name__ == '__main__':
    main()
