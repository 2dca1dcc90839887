"""Fit StackFLOW's offset PCA (the ``OffsetPCA`` relation encoder) on a BEHAVE-layout training split.

Reads ``split.json``, each training sequence's ``info.json`` (object, gender) and every frame's
``person/fit02/person_fit.pkl`` and ``<obj>/fit01/<obj>_fit.pkl`` (world frame), turns them into object poses
relative to the human, and writes the per-object PCA as one ``.npz`` (docs/relation_encoders.md).

Example::

    python tools/fit_relation_pca.py --data-root data/behave --out data/behave/behave_offset_pca_n32_64_d32.npz
"""
import argparse
import os.path as osp
from typing import Dict, List

import numpy as np
import torch
from tqdm import tqdm

from hoirecon.datasets import behave_io
from hoirecon.models.relation_encoders import fit_offset_pca, relative_object_pose, save_offset_pca
from hoirecon.models.utils import axis_angle_to_matrix
from hoirecon.objects import ObjectLibrary
from hoirecon.registry import BODY_MODELS

#: Axis-angle slice of the 21 body joints in BEHAVE's 156-D SMPL-H pose.
BODY_POSE_SLICE = slice(3, 66)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Fit the offset PCA of the OffsetPCA relation encoder.')
    parser.add_argument('--data-root', required=True, help='BEHAVE-layout root (split.json, sequences/, objects/)')
    parser.add_argument('--out', required=True, help='output .npz file')
    parser.add_argument('--split', default='train', choices=['train', 'test'], help='split of split.json to read')
    parser.add_argument('--template-dir',
                        help='object templates (default: DATA_ROOT/objects if present, else the '
                        'licence-free procedural templates)')
    parser.add_argument('--body-model-type', default='SMPLH', help='registered body model (BEHAVE: SMPLH)')
    parser.add_argument('--body-model-path', default='surrogate', help="body model folder, or 'surrogate'")
    parser.add_argument('--gender',
                        default='male',
                        help='gender of the body that carries the human anchors '
                        "(StackFLOW's predicted body: male for BEHAVE)")
    parser.add_argument('--pca-dim', type=int, default=32)
    parser.add_argument('--smpl-anchor-num', type=int, default=32, help='human anchors per body part')
    parser.add_argument('--object-anchor-num', type=int, default=64)
    parser.add_argument('--anchor-radius', type=float, default=0.02, help='object anchor spacing in metres')
    parser.add_argument('--max-samples-per-object', type=int, default=30000)
    parser.add_argument('--seed', type=int, default=7)
    args = parser.parse_args(argv)
    if not args.out.endswith('.npz'):
        parser.error(f'--out must end in .npz, got {args.out}')
    return args


def read_relative_poses(data_root: str, split: str, body_model_cfg: Dict) -> List[Dict]:
    """One training sample per frame (world-frame fits; kinect-independent) of the split's sequences.

    The root joint that defines the HOI frame comes from a body model of the sequence's gender:
    ``J0_world = J0_rest(betas) + trans``; ``R_rel = R_g^T R_obj``, ``t_rel = R_g^T (t_obj - J0_world)``.
    """
    sequences = behave_io.load_split(osp.join(data_root, 'split.json'))[split]
    root_models = {}
    samples = []
    for seq in tqdm(sequences, desc=f'reading {split} fits', unit='sequence'):
        seq_dir = osp.join(data_root, 'sequences', seq)
        info = behave_io.load_sequence_info(seq_dir)
        fits = []
        for frame in behave_io.list_frame_folders(seq_dir):
            frame_dir = osp.join(seq_dir, frame)
            person = behave_io.load_person_fit(osp.join(frame_dir, 'person', 'fit02', 'person_fit.pkl'))
            fits.append((person, behave_io.load_object_fit(behave_io.find_object_fit(frame_dir, info['cat']))))
        if not fits:
            continue
        if info['gender'] not in root_models:
            root_models[info['gender']] = BODY_MODELS.build(dict(body_model_cfg, gender=info['gender']))

        def stacked(source: int, key: str) -> torch.Tensor:
            return torch.as_tensor(np.stack([fit[source][key] for fit in fits]), dtype=torch.float64)

        pose, betas = stacked(0, 'pose'), stacked(0, 'betas')
        root = root_models[info['gender']].rest_root_joint(betas) + stacked(0, 'trans')
        rel_R, rel_t = relative_object_pose(axis_angle_to_matrix(pose[:, :3]), root,
                                            axis_angle_to_matrix(stacked(1, 'angle')), stacked(1, 'trans'))
        body_pose = axis_angle_to_matrix(pose[:, BODY_POSE_SLICE].reshape(len(fits), -1, 3))
        samples += [
            dict(object_name=info['cat'], rel_R=r.numpy(), rel_t=t.numpy(), betas=b.numpy(), body_pose=p.numpy())
            for r, t, b, p in zip(rel_R, rel_t, betas, body_pose)
        ]
    return samples


def summary_table(arrays: Dict[str, np.ndarray]) -> str:
    """Objects, samples, fitted components and explained variance at pca_dim, one row per object."""
    rows = [f'{"label":>5}  {"object":<18}{"samples":>8}{"components":>11}{"explained variance":>20}']
    for label, name in enumerate(arrays['object_names']):
        samples = int(arrays['num_samples'][label])
        explained = f'{100 * arrays["explained_variance_ratio"][label].sum():.2f} %' if samples else 'no PCA'
        rows.append(f'{label:>5}  {name:<18}{samples:>8}{int(arrays["num_components"][label]):>11}{explained:>20}')
    return '\n'.join(rows)


def main(argv=None) -> str:
    args = parse_args(argv)
    body_model_cfg = dict(type=args.body_model_type, model_path=args.body_model_path)
    template_dir = args.template_dir
    if template_dir is None and osp.isdir(osp.join(args.data_root, 'objects')):
        template_dir = osp.join(args.data_root, 'objects')
    library = ObjectLibrary('behave', template_dir)
    samples = read_relative_poses(args.data_root, args.split, body_model_cfg)
    if not samples:
        raise SystemExit(f'no frames found in the {args.split} split of {args.data_root}')
    arrays = fit_offset_pca(samples,
                            BODY_MODELS.build(dict(body_model_cfg, gender=args.gender)),
                            library,
                            pca_dim=args.pca_dim,
                            smpl_anchor_num=args.smpl_anchor_num,
                            object_anchor_num=args.object_anchor_num,
                            anchor_radius=args.anchor_radius,
                            max_samples_per_object=args.max_samples_per_object,
                            seed=args.seed)
    print(summary_table(arrays))
    path = save_offset_pca(args.out, arrays)
    print(f'{len(samples)} samples, pca_dim={args.pca_dim}, templates: {template_dir or "procedural"}; wrote {path}')
    return path


if __name__ == '__main__':
    main()
