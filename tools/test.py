"""Evaluate a checkpoint on the test set of a config.

Examples (from the repository root, with ``pip install -e .`` done)::

    python tools/test.py configs/stackflow_behave.py work_dirs/stackflow_behave/epoch_200.pth
    python tools/test.py CONFIG CHECKPOINT --out work_dirs/preds.pkl    # also dump the raw predictions
    python tools/test.py CONFIG CHECKPOINT --refine   # StackFLOW's post-optimisation; scores before AND after
    python tools/test.py configs/stackflow_synthetic_sequences.py CHECKPOINT --refine   # + sequence smoothing
    bash tools/dist_test.sh CONFIG CHECKPOINT 4

Checkpoints load with ``torch.load(weights_only=True)``; a file that needs
arbitrary unpickling is refused unless ``HOIRECON_ALLOW_UNSAFE_CHECKPOINTS=1``
is set (only for files you trust). See docs/training.md.
"""
import argparse

import hoirecon  # noqa: F401  # isort: skip  (first: installs hoirecon's weights-only checkpoint loader)
from mmengine.config import Config

from hoirecon.apis import refinement_table
from hoirecon.apis.cli import merge_test_args, parse_tool_args, place_metric_files, run_test_loop, tool_parser
from hoirecon.apis.refinement import test_evaluators
from hoirecon.engine import configure_threads


def parse_args(argv=None) -> argparse.Namespace:
    parser = tool_parser('Evaluate a hoirecon checkpoint.',
                         work_dir_help='folder for the logs and metrics (default: work_dirs/<config name>)')
    parser.add_argument('checkpoint', help='checkpoint file (.pth)')
    parser.add_argument('--out', help='also dump the raw predictions to this .pkl file (mmengine DumpResults)')
    parser.add_argument('--refine',
                        action='store_true',
                        help="apply the config's `refiner` (e.g. StackFLOWRefiner) and report the metrics before "
                        "and after refinement; with a `sequence_refiner` too (e.g. configs/stackflow_synthetic_"
                        "sequences.py), then smooth each camera of each sequence and report the three stages "
                        '(docs/refiners.md)')
    parser.add_argument('--show-dir',
                        help='save visualisations under this folder (the config needs a visualization hook)')
    return parse_tool_args(parser, argv, 'test_dataloader.batch_size=8', 'tools/dist_test.sh')


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line to ``cfg``: the shared arguments (``--cfg-options`` first), then the flags."""
    merge_test_args(cfg, args)
    place_metric_files(cfg)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out {args.out}: the predictions are dumped as a pickle, give a .pkl file name.')
        cfg.test_evaluator = [*test_evaluators(cfg), dict(type='DumpResults', out_file_path=args.out)]
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
    runner, metrics = run_test_loop(cfg, args)
    table = refinement_table(metrics or {})
    if table:
        runner.logger.info('\n' + table)
    return metrics


if __name__ == '__main__':
    main()
