"""Write the licence-free surrogate SMPL / SMPL-H / SMPL-X model files (smplx layout) and print a summary.

Example::

    python tools/make_surrogate_body.py --out data/body_models_surrogate
    python tools/make_surrogate_body.py --out /tmp/sb --model-types smplh --genders male female
    python tools/make_surrogate_body.py --out /tmp/sb --model-types smplx --genders neutral

The files are a procedural mannequin with SMPL's interface, NOT SMPL: results obtained with them are not
comparable to SMPL / SMPL-H / SMPL-X numbers (see docs/body_models.md).
"""
import argparse
import os.path as osp
import pickle
import time

import numpy as np

from hoirecon.assets.surrogate_body import GENDERS, MODEL_TYPES, write_surrogate_body


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Write licence-free surrogate SMPL / SMPL-H / SMPL-X model files.')
    parser.add_argument('--out', required=True, help='output folder (gets smpl/, smplh/ and smplx/ sub-folders)')
    parser.add_argument('--model-types', nargs='+', default=list(MODEL_TYPES), choices=MODEL_TYPES)
    parser.add_argument('--genders', nargs='+', default=list(GENDERS), choices=GENDERS)
    parser.add_argument('--seed', type=int, default=0, help='random seed of the shape spaces')
    return parser.parse_args(argv)


def heights(struct: dict, beta0=(0.0, -2.0, 2.0)):
    """Standing height (y extent of the mesh, metres) at beta0 = each value, other betas 0."""
    return [float(np.ptp(struct['v_template'][:, 1] + b * struct['shapedirs'][:, 1, 0])) for b in beta0]


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    paths = write_surrogate_body(args.out, args.model_types, args.genders, seed=args.seed, progress=True)
    print(f'Wrote {len(paths)} files to {osp.abspath(args.out)} in {time.time() - start:.1f} s')
    print(f'{"file":<24}{"vertices":>9}{"faces":>7}{"joints":>7}  height m (beta0 = 0 / -2 / +2)')
    for path in paths:
        if path.endswith('.npz'):
            with np.load(path, allow_pickle=True) as archive:
                struct = {key: archive[key] for key in ('v_template', 'shapedirs', 'f', 'J_regressor')}
        elif path.endswith('.pkl'):
            with open(path, 'rb') as f:
                struct = pickle.load(f)
        else:
            continue
        h = heights(struct)
        print(f'{osp.basename(path):<24}{len(struct["v_template"]):>9}{len(struct["f"]):>7}'
              f'{struct["J_regressor"].shape[0]:>7}  {h[0]:.3f} / {h[1]:.3f} / {h[2]:.3f}')
    print('These are SURROGATE bodies (not SMPL); see docs/body_models.md.')


if __name__ == '__main__':
    main()
