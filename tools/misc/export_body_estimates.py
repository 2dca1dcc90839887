"""Write a body network's predictions as FrankMocap-style body estimates (``k{k}.mocap.json``) beside the test images,
the files CHORE starts its body fit from (BEHAVE ships FrankMocap's; docs/chore.md, "Body start").

Examples (from the repository root)::

    # StackFLOW's network body as the "FrankMocap" of the synthetic world's test split (~1 min on 2 CPU cores)
    python tools/misc/export_body_estimates.py configs/stackflow_synthetic.py \\
        work_dirs/stackflow_synthetic/epoch_12.pth
    # then the CHORE-style fit starts from them (its test pipeline loads them when present)
    python tools/test.py configs/baselines/chore_synthetic.py work_dirs/chore_synthetic/epoch_6.pth

    # into another folder (same relative layout) instead of beside the images; replace existing files
    python tools/misc/export_body_estimates.py CONFIG CHECKPOINT --out-root work_dirs/estimates --overwrite

It runs the config's test loop (its split, its ``--cfg-options``) with one evaluator that writes the files; existing
files are kept unless ``--overwrite``. With ``--refine`` the config's refiner runs and its refined body is written.
"""
import argparse

import hoirecon  # noqa: F401  # isort: skip  (first: installs hoirecon's weights-only checkpoint loader)
from mmengine.config import Config

from hoirecon.apis.cli import merge_test_args, parse_tool_args, run_test_loop, tool_parser
from hoirecon.engine import configure_threads


def parse_args(argv=None) -> argparse.Namespace:
    parser = tool_parser('Write a body network\'s predictions as FrankMocap-style k*.mocap.json body estimates.',
                         work_dir_help='folder for the logs (default: work_dirs/<config name>)')
    parser.add_argument('checkpoint', help='checkpoint of a model that predicts a parametric body (.pth)')
    parser.add_argument('--out-root', metavar='DIR',
                        help='write under this folder (the images\' paths relative to the data root) instead of '
                        'beside the images')
    parser.add_argument('--overwrite', action='store_true', help='replace existing estimate files')
    parser.add_argument('--refine', action='store_true', help="write the body after the config's refiner")
    return parse_tool_args(parser, argv, 'test_dataloader.dataset.indices=16', 'tools/dist_test.sh')


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """The test run of ``cfg`` with the estimate writer as its only evaluator."""
    merge_test_args(cfg, args)
    data_root = cfg.test_dataloader.dataset.get('data_root')
    cfg.test_evaluator = dict(type='DumpBodyEstimates', out_root=args.out_root, data_root=data_root,
                              overwrite=args.overwrite)
    return cfg


def main(argv=None) -> dict:
    args = parse_args(argv)
    configure_threads(args.threads)
    cfg = merge_args(Config.fromfile(args.config), args)
    runner, metrics = run_test_loop(cfg, args)
    runner.logger.info(f"body estimates: {int(metrics.get('body_estimates/written', 0))} written, "
                       f"{int(metrics.get('body_estimates/skipped', 0))} kept (--overwrite replaces them), "
                       f"{'under ' + args.out_root if args.out_root else 'beside the images'}")
    return metrics


if __name__ == '__main__':
    main()
