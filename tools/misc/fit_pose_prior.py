"""Fit a Gaussian-mixture pose prior (SMPLify's form, CHORE's pose prior) to a config's training poses and write it as
``.npz`` (docs/chore.md, "Joint stage"; :class:`hoirecon.models.body_models.GMMPosePrior`).

Examples (from the repository root)::

    # the synthetic world's training bodies -> the prior chore_synthetic.py's joint stage may read (seconds)
    python tools/misc/fit_pose_prior.py configs/baselines/chore_synthetic.py --out work_dirs/pose_prior_synthetic.npz
    # then
    python tools/test.py configs/baselines/chore_synthetic.py work_dirs/chore_synthetic/epoch_6.pth \\
        --cfg-options model.fitting.pose_prior=work_dirs/pose_prior_synthetic.npz model.fitting.w_pose_prior=0.001

The poses are the ``body_pose`` of every image of the config's ``train_dataloader`` dataset (its annotation cache;
no image is read). On real data SMPLify's ``gmm_08.pkl`` can be given to the fit instead (it reads both).
"""
import argparse

import hoirecon  # noqa: F401  # isort: skip  (first: installs hoirecon's weights-only checkpoint loader)

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope
from tqdm import tqdm

from hoirecon.apis.cli import merge_common_args
from hoirecon.models.body_models import GMMPosePrior
from hoirecon.registry import DATASETS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Fit a Gaussian-mixture pose prior to the training poses of a config.')
    parser.add_argument('config', help='config file, e.g. configs/baselines/chore_synthetic.py')
    parser.add_argument('--out', required=True, help='the .npz file to write')
    parser.add_argument('--components', type=int, default=8, help='mixture components (SMPLify: 8)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the EM initialisation')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_dataloader.dataset.split=train')
    parser.add_argument('--data-root', metavar='DIR',
                        help="folder that stands for the config's data/ (default: $HOIRECON_DATA_ROOT, else ./data "
                        'when it exists, else the data/ of the hoirecon checkout)')
    # no run of its own: no threads, launcher or work dir to set (merge_common_args reads the last two)
    parser.set_defaults(work_dir=None, launcher='none')
    return parser.parse_args(argv)


def training_poses(cfg: Config) -> np.ndarray:
    """(N, J, 3, 3) the ``body_pose`` of every image of ``cfg.train_dataloader.dataset``."""
    with DefaultScope.overwrite_default_scope('hoirecon'):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    poses = []
    for index in tqdm(range(len(dataset)), desc='training poses', unit='image'):
        info = dataset.get_data_info(index)
        if 'body_pose' not in info:
            raise ValueError(f'{type(dataset).__name__} of {cfg.filename}: its images have no body_pose (a dataset '
                             'with an annotation cache of body parameters is needed, e.g. BEHAVE-layout frames).')
        poses.append(np.asarray(info['body_pose'], np.float64))
    return np.stack(poses)


def main(argv=None) -> GMMPosePrior:
    args = parse_args(argv)
    cfg = merge_common_args(Config.fromfile(args.config), args)
    poses = training_poses(cfg)
    prior = GMMPosePrior.fit(poses, num_components=args.components, seed=args.seed)
    prior.save(args.out)
    score = prior(torch.as_tensor(poses[:512]))
    print(f'{args.out}: {args.components} components over {prior.dim // 3} joints, fitted to {len(poses)} training '
          f'poses; prior on the first {len(score)}: median {float(score.median()):.1f}, max {float(score.max()):.1f}')
    return prior


if __name__ == '__main__':
    main()
