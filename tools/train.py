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
import sys

import hoirecon  # noqa: F401  # isort: skip  (first: installs hoirecon's weights-only checkpoint loader)
from mmengine.config import Config
from mmengine.runner import Runner

from hoirecon.apis import prepare_experiment
from hoirecon.apis.cli import merge_common_args, parse_tool_args, register_adaptive_threads, tool_parser
from hoirecon.engine import (configure_threads, enable_amp, hoirecon_checkpoint_loading, setup_distributed,
                             thread_report)
from hoirecon.engine.graceful_stop import StopRequested, install_stop_handlers, make_checkpoints_uninterruptible


def parse_args(argv=None) -> argparse.Namespace:
    parser = tool_parser('Train a hoirecon model.',
                         work_dir_help='folder for logs and checkpoints (default: work_dirs/<config name>)')
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
    return parse_tool_args(parser, argv, 'train_cfg.max_epochs=10 "train_dataloader.batch_size=16"',
                           'tools/dist_train.sh')


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line to ``cfg``: the shared arguments (``--cfg-options`` first), then the flags."""
    merge_common_args(cfg, args)
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
        adapt = register_adaptive_threads(runner, args.threads)  # --threads N fixes them
        runner.logger.info(f'CPU threads: {thread_report()}' + (', adapted to the free cores' if adapt else ''))
        make_checkpoints_uninterruptible(runner)
        with hoirecon_checkpoint_loading():
            runner.train()
    except StopRequested as stop:
        print(f'{stop}: training stopped. Continue from the last complete checkpoint with '
              f'`python tools/train.py {args.config} --work-dir {cfg.work_dir} --resume`.', file=sys.stderr)
        sys.exit(130)


if __name__ == '__main__':
    main()
