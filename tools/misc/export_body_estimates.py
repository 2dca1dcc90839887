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

from hoirecon.apis.body_estimates import export_body_estimates
from hoirecon.apis.cli import parse_tool_args, tool_parser


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


def main(argv=None) -> dict:
    args = parse_args(argv)
    return export_body_estimates(args.config, args.checkpoint, out_root=args.out_root, overwrite=args.overwrite,
                                 refine=args.refine, cfg_options=args.cfg_options, data_root=args.data_root,
                                 threads=args.threads, work_dir=args.work_dir, launcher=args.launcher)


if __name__ == '__main__':
    main()
