"""Evaluate a checkpoint on the test set of a config.

Examples (from the repository root, with ``pip install -e .`` done)::

    python tools/test.py configs/stackflow_behave.py work_dirs/stackflow_behave/epoch_200.pth
    python tools/test.py CONFIG CHECKPOINT --out work_dirs/preds.pkl    # also dump the raw predictions
    python tools/test.py CONFIG CHECKPOINT --refine   # StackFLOW's post-optimisation; scores before AND after
    bash tools/dist_test.sh CONFIG CHECKPOINT 4

Checkpoints load with ``torch.load(weights_only=True)``; a file that needs
arbitrary unpickling is refused unless ``HOIRECON_ALLOW_UNSAFE_CHECKPOINTS=1``
is set (only for files you trust). See docs/training.md.
"""
import argparse
import os
import os.path as osp

import hoirecon  # noqa: F401  # isort: skip  (first: installs the weights-only checkpoint loader)
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from hoirecon.apis import configure_refinement, prepare_experiment, refinement_table
from hoirecon.engine import adapt_threads_by_default, configure_threads, fix_dataloader_workers, setup_distributed
from hoirecon.engine.hooks import AdaptiveThreadsHook
from hoirecon.utils.paths import resolve_data_paths


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a hoirecon checkpoint.')
    parser.add_argument('config', help='config file, e.g. configs/stackflow_behave.py')
    parser.add_argument('checkpoint', help='checkpoint file (.pth)')
    parser.add_argument('--work-dir', help='folder for the logs and metrics (default: work_dirs/<config name>)')
    parser.add_argument('--out', help='also dump the raw predictions to this .pkl file (mmengine DumpResults)')
    parser.add_argument('--refine',
                        action='store_true',
                        help="apply the config's `refiner` (e.g. StackFLOWRefiner) and report the metrics before "
                        'and after refinement (docs/refiners.md)')
    parser.add_argument('--show-dir',
                        help='save visualisations under this folder (the config needs a visualization hook)')
    parser.add_argument('--cfg-options',
                        nargs='+',
                        action=DictAction,
                        help='override config entries, e.g. test_dataloader.batch_size=8')
    parser.add_argument('--data-root', metavar='DIR',
                        help="folder that stands for the config's data/ (default: $HOIRECON_DATA_ROOT, else ./data "
                        'when it exists, else the data/ of the hoirecon checkout)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads of this process (default: HOIRECON_NUM_THREADS, else every core it '
                        'may use); data-loader workers always run one thread each')
    parser.add_argument('--launcher',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none',
                        help='how the processes were started; tools/dist_test.sh uses pytorch (torchrun)')
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
    cfg.load_from = args.checkpoint
    cfg.resume = False
    configure_refinement(cfg, args.refine)
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
    for evaluator in evaluators:  # metric files go next to the logs
        if evaluator.get('out_file') and not osp.isabs(evaluator['out_file']):
            evaluator['out_file'] = osp.join(cfg.work_dir, evaluator['out_file'])
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out {args.out}: the predictions are dumped as a pickle, give a .pkl file name.')
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = [*evaluators, dict(type='DumpResults', out_file_path=args.out)]
    if args.show_dir is not None:
        visualization = cfg.default_hooks.get('visualization')
        if visualization is None:
            raise ValueError(f'--show-dir: the config {args.config} has no default_hooks.visualization hook, so '
                             'there is nothing to draw with.')
        visualization.update(enable=True, out_dir=args.show_dir)
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_threads(args.threads)
    cfg = merge_args(Config.fromfile(args.config), args)
    setup_distributed(cfg, args.launcher)
    prepare_experiment(cfg, args.checkpoint)  # synthetic data on first use; the PCA from the checkpoint
    runner = Runner.from_cfg(cfg)
    if adapt_threads_by_default(args.threads):  # fewer threads while other programs take cores
        runner.register_hook(AdaptiveThreadsHook())
    metrics = runner.test()
    table = refinement_table(metrics or {})
    if table:
        runner.logger.info('\n' + table)
    return metrics


if __name__ == '__main__':
    main()
