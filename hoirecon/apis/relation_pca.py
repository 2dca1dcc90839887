"""Fit the offset PCA of a BEHAVE, BEHAVE-extended or InterCap dataset (the data side of
``tools/fit_relation_pca.py``)."""
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import torch
from tqdm import tqdm

from hoirecon.datasets import annotations
from hoirecon.datasets.frame_sources import frame_source
from hoirecon.models.relation_encoders import fit_offset_pca, save_offset_pca
from hoirecon.models.utils import axis_angle_to_matrix, hoi_frame
from hoirecon.objects import ObjectLibrary
from hoirecon.registry import BODY_MODELS

#: Axis-angle slice of the 21 body joints in BEHAVE's 156-D SMPL-H pose.
BODY_POSE_SLICE = slice(3, 66)


#: Which betas pose the human anchors of the PCA samples (docs/fidelity.md row 9).
FIT_BETAS = ('refitted_male', 'raw')


def read_relative_poses(data_root: str, split: str, body_model_cfg: Dict, betas: str = 'refitted_male',
                        fit_cfg: Optional[Dict] = None, layout: str = 'behave') -> List[Dict]:
    """One training sample per frame (world-frame fits; kinect-independent) of the split's sequences.

    The root joint that defines the HOI frame comes from a body model of the sequence's gender:
    ``J0_world = J0_rest(betas) + trans``; ``R_rel = R_g^T R_obj``, ``t_rel = R_g^T (t_obj - J0_world)``.

    Args:
        data_root: BEHAVE-layout root.
        split: split of ``split.json``.
        body_model_cfg: BODY_MODELS config without ``gender`` (the family and files of the predicted body).
        betas: the betas stored with each sample, with which the fit poses the human anchors on the predicted
            (male) body: ``'refitted_male'`` (StackFLOW, and what training encodes with: a non-male subject's
            shape refitted to the male model, :func:`hoirecon.datasets.annotations.fit_male_betas`, the annotation
            cache's ``betas_male``) or ``'raw'`` (the subject's own betas used on the male body).
        fit_cfg: overrides of the male-betas fit settings (:data:`hoirecon.datasets.annotations.DEFAULT_FIT_CFG`).
        layout: the dataset's on-disk layout, ``'behave'`` (1 fps frames), ``'behave_extended'`` (30 fps fits) or
            ``'intercap'`` (SMPL-X fits; the predicted body is then the neutral SMPL-X and 'refitted_male' means
            the betas refitted to it) (:mod:`hoirecon.datasets.frame_sources`).
    """
    if betas not in FIT_BETAS:
        raise ValueError(f'read_relative_poses: betas must be one of {FIT_BETAS}, got {betas!r}.')
    source = frame_source(layout, data_root)
    if hasattr(source, 'bind_body_model'):  # InterCap reads the hand PCA basis from the body model's files
        source.bind_body_model(body_model_cfg)
    # the predicted body's gender: male SMPL-H (BEHAVE), neutral SMPL-X (InterCap)
    training_gender = annotations.TRAINING_BODY_MODELS.get(body_model_cfg.get('type'), 'male')
    names = source.split_sequences(split)
    sequences = [source.read_sequence(name, kinects=())
                 for name in tqdm(names, desc=f'reading {split} fits', unit='sequence')]
    sequences = [seq for seq in sequences if seq.frames]
    male_betas = {}
    if betas == 'refitted_male' and any(seq.gender != training_gender for seq in sequences):
        models = annotations.BodyModelSet(dict(body_model_cfg, gender=training_gender))
        male_betas, _ = annotations.fit_male_betas(models, sequences,
                                                   dict(annotations.DEFAULT_FIT_CFG, **(fit_cfg or {})))
    root_models = {}
    samples = []
    for seq in sequences:
        if seq.gender not in root_models:
            root_models[seq.gender] = BODY_MODELS.build(dict(body_model_cfg, gender=seq.gender))
        pose = torch.as_tensor(seq.pose, dtype=torch.float64)
        root = hoi_frame.hoi_root(root_models[seq.gender], torch.as_tensor(seq.betas, dtype=torch.float64),
                                  torch.as_tensor(seq.trans, dtype=torch.float64))
        rel_R, rel_t = hoi_frame.decompose_object_pose(
            axis_angle_to_matrix(pose[:, :3]), root,
            axis_angle_to_matrix(torch.as_tensor(seq.object_angle, dtype=torch.float64)),
            torch.as_tensor(seq.object_trans, dtype=torch.float64))
        body_pose = axis_angle_to_matrix(pose[:, BODY_POSE_SLICE].reshape(len(seq.frames), -1, 3))
        shape = seq.betas
        if male_betas and seq.gender != training_gender:
            shape = np.stack([male_betas[(seq.gender, b.tobytes())] for b in seq.betas.astype(np.float32)])
        samples += [
            dict(object_name=seq.object_name, rel_R=r.numpy(), rel_t=t.numpy(), betas=np.asarray(b, np.float64),
                 body_pose=p.numpy())
            for r, t, b, p in zip(rel_R, rel_t, shape, body_pose)
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
                     betas: str = 'refitted_male',
                     layout: str = 'behave',
                     **fit_kwargs) -> str:
    """Read the relative poses of a split and write the offset-PCA file of :class:`OffsetPCA`.

    Args:
        data_root: BEHAVE-layout dataset (real or synthetic).
        out_file: ``.npz`` to write.
        body_model: BODY_MODELS config of the predicted body (its ``gender`` poses the human anchors; the HOI frame
            of each sequence uses a body of the sequence's own gender).
        split: split of ``split.json`` to read.
        template_dir: object templates; default ``<data_root>/objects`` (InterCap: ``<data_root>/objs``) if it
            exists, else procedural templates.
        betas: ``'refitted_male'`` (StackFLOW) or ``'raw'``: see :func:`read_relative_poses`.
        layout: ``'behave'``, ``'behave_extended'`` or ``'intercap'``: see :func:`read_relative_poses`.
        **fit_kwargs: :func:`hoirecon.models.relation_encoders.fit_offset_pca` options (``pca_dim``, ...).

    Returns:
        The written path.
    """
    dataset, folder = ('intercap', 'objs') if layout == 'intercap' else ('behave', 'objects')
    if template_dir is None and osp.isdir(osp.join(data_root, folder)):
        template_dir = osp.join(data_root, folder)
    library = ObjectLibrary(dataset, template_dir)
    root_model_cfg = {key: value for key, value in body_model.items() if key != 'gender'}
    samples = read_relative_poses(data_root, split, root_model_cfg, betas=betas, layout=layout)
    if not samples:
        raise ValueError(f'no frames found in the {split} split of {data_root}')
    arrays = fit_offset_pca(samples, BODY_MODELS.build(body_model), library, **fit_kwargs)
    print(summary_table(arrays))
    path = save_offset_pca(out_file, arrays)
    print(f'{len(samples)} samples, betas: {betas}, templates: {template_dir or "procedural"}; wrote {path}')
    return path
