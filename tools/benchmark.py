"""Run several methods on one test split and write one table (Markdown, CSV, bar chart).

Examples (from the repository root, with ``pip install -e .`` done)::

    python tools/benchmark.py configs/stackflow_synthetic.py configs/baselines/*_synthetic.py \\
        --checkpoint work_dirs/stackflow_synthetic/epoch_12.pth --out work_dirs/bench
    python tools/benchmark.py configs/stackflow_synthetic.py --refine --out work_dirs/bench   # + post-optimised rows
    python tools/benchmark.py configs/baselines/regression_head_synthetic.py=work_dirs/rh/epoch_12.pth ...
    python tools/benchmark.py CONFIG ... --train         # train the configs that have no checkpoint first
    # the CHORE-style fit starts from StackFLOW's network body, written first as k*.mocap.json estimates
    python tools/benchmark.py configs/baselines/chore_synthetic.py --train \\
        --body-estimates configs/stackflow_synthetic.py=work_dirs/stackflow_synthetic/epoch_12.pth
    python tools/benchmark.py CONFIG ... --meshes chore=work_dirs/chore_meshes --gt-meshes data/gt_meshes
    python tools/benchmark.py CONFIG ... --out work_dirs/bench --resume   # go on after a stop: finished rows are kept
    # one table from runs made elsewhere (other machines, other sessions; later files win a row both have)
    python tools/benchmark.py --merge work_dirs/bench_a/records.json work_dirs/bench_b/records.json --out work_dirs/all

A config's checkpoint: ``CONFIG=CKPT``, else its place in ``--checkpoints``, else the newest one that
``tools/train.py CONFIG`` left in ``<--train-root>/<config name>``, else ``--checkpoint`` when it fits the model
(every weight present with its shape). A config, checkpoint or mesh folder that is missing, or a run that fails,
gives a row with the reason; the other methods still run. Each run is a fresh process (its log in
``OUT/logs/``). Writes ``OUT/benchmark.md``, ``benchmark.csv``, ``benchmark.png`` and ``records.json``, again after
every row (a ``records.json`` from before is kept as ``records.<time>.json``).
See docs/evaluation.md, "One table for several methods".
"""
import argparse
import os.path as osp

import hoirecon  # noqa: F401  # isort: skip  (first: installs hoirecon's weights-only checkpoint loader)
from mmengine.config import DictAction

from hoirecon.apis.benchmark import benchmark_table, merge_records, run_benchmark, write_benchmark

EVALUATE_MESHES = osp.join(osp.dirname(osp.abspath(__file__)), 'evaluate_meshes.py')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('configs', nargs='*', metavar='CONFIG[=CKPT]',
                        help='config files, each optionally with its checkpoint after "="')
    parser.add_argument('--checkpoint', help='checkpoint for every config that has none of its own and whose model '
                        'it fits (e.g. a StackFLOW checkpoint for the mean-relation baseline)')
    parser.add_argument('--checkpoints', nargs='+', metavar='CKPT',
                        help='one checkpoint per config, in the order of the configs ("-": none)')
    parser.add_argument('--out', default='work_dirs/bench', help='output folder (default: work_dirs/bench)')
    parser.add_argument('--refine', action='store_true',
                        help="also the post-optimised row of each config with a refiner (tools/test.py --refine)")
    parser.add_argument('--train', action='store_true',
                        help='train each config that has no checkpoint first, as tools/train.py does, into '
                        '<--train-root>/<config name>')
    parser.add_argument('--train-root', default='work_dirs',
                        help="where tools/train.py's work dirs are (default: work_dirs)")
    parser.add_argument('--meshes', nargs='+', default=[], metavar='NAME=DIR',
                        help="rows scored from other methods' exported meshes (tools/evaluate_meshes.py layout)")
    parser.add_argument('--gt-meshes', metavar='DIR', help='ground-truth meshes for --meshes')
    parser.add_argument('--mesh-visibility', metavar='JSON',
                        help='{frame key: visibility ratio} for the vis rows of --meshes')
    parser.add_argument('--mesh-suffixes', nargs=2, metavar=('HUMAN', 'OBJECT'),
                        help='file suffixes of the --meshes files (default: .human.ply .object.ply)')
    parser.add_argument('--body-estimates', metavar='CONFIG=CKPT',
                        help="write this body network's predictions as the split's k*.mocap.json body estimates "
                        'first (existing files kept): the start of the CHORE-style fit (docs/chore.md, "Body start")')
    parser.add_argument('--resume', action='store_true',
                        help="reuse the rows of OUT/records.json measured with the same config, checkpoint file, "
                        "--refine stage, options and code, instead of running them again")
    parser.add_argument('--merge', nargs='+', default=[], metavar='RECORDS_JSON',
                        help="put the rows of these records.json files (other runs of this tool) in the table too; a "
                        "row of this run, or of a later file, replaces one with the same method and "
                        "post-optimisation")
    parser.add_argument('--title', help='title above the Markdown table')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override entries of every config, e.g. test_dataloader.batch_size=8')
    parser.add_argument('--data-root', metavar='DIR', help="folder that stands for the configs' data/")
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads of each run')
    parser.add_argument('--in-process', action='store_true',
                        help='run the methods in this process (debugging; the peak memory is then the process\'s)')
    args = parser.parse_args(argv)
    if not args.configs and not args.meshes and not args.merge:
        parser.error('nothing to put in the table: give configs, --meshes or --merge')
    for path in args.merge:
        if not osp.isfile(path):
            parser.error(f'--merge: {path} not found (the records.json that tools/benchmark.py writes in its --out)')
    if args.meshes and not args.gt_meshes:
        parser.error('--meshes needs --gt-meshes')
    if args.body_estimates is not None and '=' not in args.body_estimates:
        parser.error(f'--body-estimates takes CONFIG=CKPT, got {args.body_estimates!r}')
    if args.checkpoints is not None and len(args.checkpoints) != len(args.configs):
        parser.error(f'--checkpoints gives {len(args.checkpoints)} checkpoints for {len(args.configs)} configs')
    return args


def methods_from_args(args: argparse.Namespace) -> list:
    methods = []
    for index, item in enumerate(args.configs):
        config, _, checkpoint = item.partition('=')
        if not checkpoint and args.checkpoints is not None and args.checkpoints[index] != '-':
            checkpoint = args.checkpoints[index]
        methods.append(dict(config=config, checkpoint=checkpoint or None))
    return methods


def body_estimates_from_args(args: argparse.Namespace):
    if args.body_estimates is None:
        return None
    config, _, checkpoint = args.body_estimates.partition('=')
    return dict(config=config, checkpoint=checkpoint)


def meshes_from_args(args: argparse.Namespace) -> list:
    extra = []
    if args.mesh_visibility:
        extra += ['--visibility', args.mesh_visibility]
    if args.mesh_suffixes:
        extra += ['--human-suffix', args.mesh_suffixes[0], '--object-suffix', args.mesh_suffixes[1]]
    entries = []
    for item in args.meshes:
        name, sep, folder = item.partition('=')
        if not sep:
            name, folder = osp.basename(osp.normpath(item)), item
        entries.append(dict(name=name, pred=folder, gt=args.gt_meshes, args=extra))
    return entries


def main(argv=None) -> list:
    args = parse_args(argv)
    try:
        merged = merge_records(args.merge)
    except ValueError as error:
        raise SystemExit(f'--merge: {error}')
    records = run_benchmark(methods_from_args(args), args.out, refine=args.refine, train=args.train,
                            shared_checkpoint=args.checkpoint, train_root=args.train_root,
                            cfg_options=args.cfg_options, data_root=args.data_root, threads=args.threads,
                            meshes=meshes_from_args(args), evaluate_meshes_tool=EVALUATE_MESHES,
                            isolate=not args.in_process, body_estimates=body_estimates_from_args(args),
                            resume=args.resume, merged=merged, title=args.title)
    paths = write_benchmark(records, args.out, args.title)
    print('\n' + benchmark_table(records, args.title) + '\n')
    print('written: ' + ', '.join(paths.values()))
    return records


if __name__ == '__main__':
    main()
