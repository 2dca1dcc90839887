"""The command line that ``tools/train.py`` and ``tools/test.py`` share, and how it enters the config.

A tool builds its parser in three steps, so that ``--help`` lists the common arguments around its own::

    parser = tool_parser('Train a hoirecon model.', work_dir_help='folder for logs and checkpoints (...)')
    parser.add_argument('--resume', ...)                       # the tool's own arguments
    args = parse_tool_args(parser, argv, 'train_cfg.max_epochs=10', 'tools/dist_train.sh')  # + the shared ones

and applies them with :func:`merge_common_args` before its own flags.
"""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config, DictAction

from hoirecon.engine import adapt_threads_by_default, fix_dataloader_workers
from hoirecon.engine.hooks import AdaptiveThreadsHook
from hoirecon.utils.config_choices import check_config_choices
from hoirecon.utils.paths import resolve_data_paths
from .refinement import test_evaluators

#: Values of ``--launcher`` (mmengine's launchers).
LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def tool_parser(description: str, work_dir_help: str) -> argparse.ArgumentParser:
    """A parser with the ``config`` argument and ``--work-dir``; add the tool's own arguments next.

    Args:
        description: First line of ``--help``.
        work_dir_help: What the tool writes to ``--work-dir`` and its default.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help='config file, e.g. configs/stackflow_behave.py')
    parser.add_argument('--work-dir', help=work_dir_help)
    return parser


def add_run_arguments(parser: argparse.ArgumentParser, cfg_options_example: str, launcher_script: str) -> None:
    """Add ``--cfg-options``, ``--data-root``, ``--threads``, ``--launcher`` and the hidden ``--local-rank``.

    Args:
        parser: The tool's parser (call this after the tool's own arguments).
        cfg_options_example: Overrides shown in the help of ``--cfg-options``.
        launcher_script: The tool's multi-process script, shown in the help of ``--launcher``.
    """
    parser.add_argument('--cfg-options',
                        nargs='+',
                        action=DictAction,
                        help=f'override config entries, e.g. {cfg_options_example}')
    parser.add_argument('--data-root', metavar='DIR',
                        help="folder that stands for the config's data/ (default: $HOIRECON_DATA_ROOT, else ./data "
                        'when it exists, else the data/ of the hoirecon checkout)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads of this process (default: HOIRECON_NUM_THREADS, else every core it '
                        'may use); data-loader workers always run one thread each')
    parser.add_argument('--launcher',
                        choices=list(LAUNCHERS),
                        default='none',
                        help=f'how the processes were started; {launcher_script} uses pytorch (torchrun)')
    # Set by the legacy torch.distributed.launch; torchrun sets the LOCAL_RANK variable instead.
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0, help=argparse.SUPPRESS)


def parse_tool_args(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]], cfg_options_example: str,
                    launcher_script: str) -> argparse.Namespace:
    """Add the shared run arguments (:func:`add_run_arguments`) after the tool's own and parse ``argv``.

    Args:
        parser: From :func:`tool_parser`, with the tool's own arguments.
        argv: The arguments, or None for ``sys.argv``.
        cfg_options_example, launcher_script: See :func:`add_run_arguments`.

    Returns:
        The parsed arguments; ``LOCAL_RANK`` is exported unless it is set (as torchrun would).
    """
    add_run_arguments(parser, cfg_options_example, launcher_script)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def place_metric_files(cfg: Config) -> Config:
    """Put every test metric's relative ``out_file`` in ``cfg.work_dir`` (next to the logs), in place."""
    for evaluator in test_evaluators(cfg):
        if evaluator.get('out_file') and not osp.isabs(evaluator['out_file']):
            evaluator['out_file'] = osp.join(cfg.work_dir, evaluator['out_file'])
    return cfg


def merge_common_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the shared arguments to ``cfg``: ``--cfg-options`` first, then the data root, ``--launcher``, work dir.

    ``--data-root`` resolves the config's ``data/`` paths (:func:`~hoirecon.utils.paths.resolve_data_paths`), the
    data loaders are made consistent with their worker counts (:func:`~hoirecon.engine.fix_dataloader_workers`),
    and ``--work-dir`` wins over the config's ``work_dir``, which wins over ``work_dirs/<config name>``.
    A config whose built parts disagree with its choices (e.g. ``--cfg-options img_size=128`` alone, which does not
    rebuild the pipelines) is refused with the list of stale entries
    (:func:`~hoirecon.utils.config_choices.check_config_choices`, docs/configs.md).
    """
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    check_config_choices(cfg)
    resolve_data_paths(cfg, args.data_root)
    fix_dataloader_workers(cfg)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def register_adaptive_threads(runner, threads: Optional[int]) -> bool:
    """Give ``runner`` an :class:`AdaptiveThreadsHook` unless ``--threads`` (or HOIRECON_NUM_THREADS) fixes them.

    Returns:
        Whether the hook was registered (fewer threads while other programs take cores).
    """
    adapt = adapt_threads_by_default(threads)
    if adapt:
        runner.register_hook(AdaptiveThreadsHook())
    return adapt


def merge_test_args(cfg: Config, args: argparse.Namespace) -> Config:
    """What every test-loop tool applies first: the shared arguments, ``args.checkpoint`` loaded (no resume) and the
    config's refiner switched by ``args.refine`` (``tools/test.py``, ``tools/misc/export_body_estimates.py``)."""
    from .refinement import configure_refinement
    merge_common_args(cfg, args)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    configure_refinement(cfg, args.refine)
    return cfg


def run_test_loop(cfg: Config, args: argparse.Namespace):
    """Run the test loop of a merged ``cfg``: the launcher, the experiment's data and PCA prepared, the checkpoint
    loaded under hoirecon's loading policy, adaptive threads. Returns ``(runner, metrics)``."""
    from mmengine.runner import Runner

    from hoirecon.engine import hoirecon_checkpoint_loading, setup_distributed
    from .prepare import prepare_experiment
    setup_distributed(cfg, args.launcher)
    prepare_experiment(cfg, args.checkpoint)  # synthetic data on first use; the PCA from the checkpoint
    runner = Runner.from_cfg(cfg)
    register_adaptive_threads(runner, args.threads)  # fewer threads while other programs take cores
    with hoirecon_checkpoint_loading():
        metrics = runner.test()
    return runner, metrics
