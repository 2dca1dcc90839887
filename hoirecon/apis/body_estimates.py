"""Write a body network's predictions as FrankMocap-style body estimates (``k{k}.mocap.json``), the files the
CHORE-style fit starts its body from (docs/chore.md, "Body start"): what ``tools/misc/export_body_estimates.py`` and
``tools/benchmark.py --body-estimates`` run."""
import argparse
from typing import Dict, Optional

from mmengine.config import Config

from .cli import merge_test_args, run_test_loop


def estimate_export_config(cfg: Config, args: argparse.Namespace) -> Config:
    """The test run of ``cfg`` (the shared tool arguments and ``args.checkpoint`` applied, :func:`merge_test_args`)
    with one evaluator, :class:`~hoirecon.datasets.body_estimates.DumpBodyEstimates`, writing under ``args.out_root``
    (None: beside the images), keeping existing files unless ``args.overwrite``."""
    merge_test_args(cfg, args)
    data_root = cfg.test_dataloader.dataset.get('data_root')
    cfg.test_evaluator = dict(type='DumpBodyEstimates', out_root=args.out_root, data_root=data_root,
                              overwrite=args.overwrite)
    return cfg


def export_body_estimates(config: str, checkpoint: str, out_root: Optional[str] = None, overwrite: bool = False,
                          refine: bool = False, cfg_options: Optional[dict] = None, data_root: Optional[str] = None,
                          threads: Optional[int] = None, work_dir: Optional[str] = None,
                          launcher: str = 'none') -> Dict[str, float]:
    """Run ``config``'s test loop with ``checkpoint`` and write each image's body estimate.

    Args:
        config, checkpoint: a model that predicts a parametric body (e.g. ``configs/stackflow_synthetic.py``).
        out_root: write under this folder (the images' paths relative to the data root); None: beside the images.
        overwrite: replace existing files (else they are kept and counted as skipped).
        refine: write the body after the config's refiner.
        cfg_options, data_root, threads, work_dir, launcher: as the tools' ``--cfg-options``, ``--data-root``,
            ``--threads``, ``--work-dir`` and ``--launcher``.

    Returns:
        The metrics: ``body_estimates/written`` and ``body_estimates/skipped``.
    """
    from hoirecon.engine import configure_threads
    args = argparse.Namespace(config=config, checkpoint=checkpoint, out_root=out_root, overwrite=overwrite,
                              refine=refine, cfg_options=cfg_options, data_root=data_root, threads=threads,
                              work_dir=work_dir, launcher=launcher)
    configure_threads(threads)
    cfg = estimate_export_config(Config.fromfile(config), args)
    runner, metrics = run_test_loop(cfg, args)
    runner.logger.info(f"body estimates: {int(metrics.get('body_estimates/written', 0))} written, "
                       f"{int(metrics.get('body_estimates/skipped', 0))} kept (--overwrite replaces them), "
                       f"{'under ' + out_root if out_root else 'beside the images'}")
    return metrics
