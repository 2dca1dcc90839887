"""Fit the offset PCA of a BEHAVE-layout dataset (the data side of ``tools/fit_relation_pca.py``)."""
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import torch
from tqdm import tqdm

from hoirecon.datasets import behave_io
from hoirecon.models.relation_encoders import fit_offset_pca, save_offset_pca
from hoirecon.models.utils import axis_angle_to_matrix, hoi_frame
from hoirecon.objects import ObjectLibrary
from hoirecon.registry import BODY_MODELS

#: Axis-angle slice of the 21 body joints in BEHAVE's 156-D SMPL-H pose.
BODY_POSE_SLICE = slice(3, 66)


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
        root = hoi_frame.hoi_root(root_models[info['gender']], betas, stacked(0, 'trans'))
        rel_R, rel_t = hoi_frame.decompose_object_pose(axis_angle_to_matrix(pose[:, :3]), root,
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


def fit_relation_pca(data_root: str,
                     out_file: str,
                     body_model: Dict,
                     split: str = 'train',
                     template_dir: Optional[str] = None,
                     **fit_kwargs) -> str:
    """Read the relative poses of a split and write the offset-PCA file of :class:`OffsetPCA`.

    Args:
        data_root: BEHAVE-layout dataset (real or synthetic).
        out_file: ``.npz`` to write.
        body_model: BODY_MODELS config of the predicted body (its ``gender`` poses the human anchors; the HOI frame
            of each sequence uses a body of the sequence's own gender).
        split: split of ``split.json`` to read.
        template_dir: object templates; default ``<data_root>/objects`` if it exists, else procedural templates.
        **fit_kwargs: :func:`hoirecon.models.relation_encoders.fit_offset_pca` options (``pca_dim``, ...).

    Returns:
        The written path.
    """
    if template_dir is None and osp.isdir(osp.join(data_root, 'objects')):
        template_dir = osp.join(data_root, 'objects')
    library = ObjectLibrary('behave', template_dir)
    root_model_cfg = {key: value for key, value in body_model.items() if key != 'gender'}
    samples = read_relative_poses(data_root, split, root_model_cfg)
    if not samples:
        raise ValueError(f'no frames found in the {split} split of {data_root}')
    arrays = fit_offset_pca(samples, BODY_MODELS.build(body_model), library, **fit_kwargs)
    print(summary_table(arrays))
    path = save_offset_pca(out_file, arrays)
    print(f'{len(samples)} samples, templates: {template_dir or "procedural"}; wrote {path}')
    return path
