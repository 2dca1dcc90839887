"""Fit the offset PCA of :class:`~.offset_pca.OffsetPCA` from training relative poses."""
import warnings
from collections import defaultdict
from typing import Dict, Iterable, Mapping

import numpy as np
import torch
from tqdm import tqdm

from hoirecon.models.utils import hoi_frame
from .anchors import NUM_BODY_PARTS, sample_human_anchor_indices
from .offset_space import fit_anchor_space_pca
from .pca_file import OFFSET_PCA_FORMAT_VERSION

#: Fields of one training sample and their shapes (None: any size).
SAMPLE_FIELDS = {'rel_R': (3, 3), 'rel_t': (3, ), 'betas': (None, ), 'body_pose': (None, 3, 3)}


def _group_by_object(samples: Iterable[Mapping], object_names) -> Dict[str, Dict[str, np.ndarray]]:
    """Check the samples and stack their fields per object: name -> field -> (N, ...) float64."""
    grouped = defaultdict(lambda: defaultdict(list))
    for index, sample in enumerate(samples):
        missing = sorted({'object_name', *SAMPLE_FIELDS} - set(sample))
        if missing:
            raise KeyError(f'training sample {index}: missing fields {missing}; each sample needs object_name, '
                           'rel_R (3, 3), rel_t (3,), betas (num_betas,), body_pose (J, 3, 3)')
        name = sample['object_name']
        if name not in object_names:
            raise ValueError(f'training sample {index}: unknown object {name!r}; the library has {list(object_names)}')
        for key, shape in SAMPLE_FIELDS.items():
            value = np.asarray(sample[key], dtype=np.float64)
            first = grouped[name][key][0].shape if grouped[name][key] else None
            fits_shape = value.ndim == len(shape) and all(s in (None, v) for s, v in zip(shape, value.shape))
            if not fits_shape or (first is not None and value.shape != first):
                raise ValueError(f'training sample {index} ({name}): {key} has shape {value.shape}, expected '
                                 f'{first or shape} (the same in every sample of an object)')
            grouped[name][key].append(value)
    return {name: {key: np.stack(values) for key, values in fields.items()} for name, fields in grouped.items()}


@torch.no_grad()
def _human_anchors(body_model: torch.nn.Module, betas: np.ndarray, body_pose: np.ndarray, indices: np.ndarray,
                   batch_size: int, progress: tqdm) -> np.ndarray:
    """(N, A, 3) float64 human anchors in the HOI frame, computed in batches."""
    device = next(body_model.buffers()).device
    index_tensor = torch.as_tensor(indices, device=device)
    chunks = []
    for start in range(0, len(betas), batch_size):
        stop = start + batch_size
        chunks.append(
            hoi_frame.human_anchors_in_hoi_frame(body_model, torch.as_tensor(betas[start:stop], device=device),
                                                 torch.as_tensor(body_pose[start:stop], device=device),
                                                 index_tensor).cpu().numpy())
        progress.update(len(chunks[-1]))
    return np.concatenate(chunks)


def fit_offset_pca(samples: Iterable[Mapping],
                   body_model: torch.nn.Module,
                   object_library,
                   pca_dim: int = 32,
                   smpl_anchor_num: int = 32,
                   object_anchor_num: int = 64,
                   anchor_radius: float = 0.02,
                   max_samples_per_object: int = 30000,
                   seed: int = 7,
                   batch_size: int = 256) -> Dict[str, np.ndarray]:
    """Per-object PCA of StackFLOW's human-object offsets, stored in anchor space.

    Human anchors: ``smpl_anchor_num`` vertices per body part (seeded), posed in the HOI frame by ``body_model``
    with each sample's betas and body pose (float64, flat hands). Object anchors: ``object_anchor_num`` template
    vertices per object (:meth:`hoirecon.objects.ObjectTemplate.anchor_indices`), placed by the relative pose. An
    object with more than ``max_samples_per_object`` samples is subsampled (seeded). An object with at most
    ``pca_dim`` samples gets fewer components, the rest zero; an object without samples gets no PCA (both warn).

    Args:
        samples: iterable of dicts with ``object_name`` (str), ``rel_R`` (3, 3) and ``rel_t`` (3,) [m] of the object
            in the HOI frame, ``betas`` (num_betas,), ``body_pose`` (J, 3, 3) body joint rotations (J = 21 for
            SMPL-H).
        body_model: hoirecon body model (``SMPLH``...) with ``part_labels``, ``model_type``, ``gender``,
            ``is_surrogate``.
        object_library: :class:`hoirecon.objects.ObjectLibrary` of the dataset; labels follow its ``names``.
        pca_dim: latent size d.
        smpl_anchor_num: anchors per body part (22 parts).
        object_anchor_num: anchors per object K.
        anchor_radius: spacing of the object anchors on the surface, metres (0.02 BEHAVE, 0.01 InterCap).
        max_samples_per_object: cap on the samples used per object.
        seed: seed of the anchor draws and of the subsampling.
        batch_size: bodies posed at once.

    Returns:
        The arrays of the offset-PCA file (:mod:`.pca_file`); write them with :func:`.pca_file.save_offset_pca`.
    """
    names = tuple(object_library.names)
    grouped = _group_by_object(samples, names)
    rng = np.random.default_rng(seed)
    for name, fields in grouped.items():
        count = len(fields['rel_R'])
        if count > max_samples_per_object:
            keep = np.sort(rng.choice(count, max_samples_per_object, replace=False))
            grouped[name] = {key: value[keep] for key, value in fields.items()}

    human_indices = sample_human_anchor_indices(body_model.part_labels, smpl_anchor_num, seed)
    num_human, num_objects = len(human_indices), len(names)
    size = 3 * (num_human + object_anchor_num)
    arrays = {
        'object_names': np.array(names),
        'num_samples': np.zeros(num_objects, np.int64),
        'num_components': np.zeros(num_objects, np.int64),
        'mean_y': np.zeros((num_objects, size)),
        'decode_basis': np.zeros((num_objects, size, pca_dim)),
        'encode_basis': np.zeros((num_objects, pca_dim, size)),
        'explained_variance': np.zeros((num_objects, pca_dim)),
        'explained_variance_ratio': np.zeros((num_objects, pca_dim)),
        'human_anchor_indices': human_indices,
        'object_anchor_indices': np.zeros((num_objects, object_anchor_num), np.int64),
        'object_anchor_points': np.zeros((num_objects, object_anchor_num, 3)),
    }
    total = sum(len(fields['rel_R']) for fields in grouped.values())
    with tqdm(total=total, desc='offset PCA: posing bodies', unit='sample') as progress:
        for label, name in enumerate(names):
            if name not in grouped:
                continue
            fields = grouped[name]
            template = object_library[name]
            anchor_ids = template.anchor_indices(object_anchor_num, anchor_radius, seed)
            anchor_points = np.asarray(template.vertices, np.float64)[anchor_ids]
            human = _human_anchors(body_model, fields['betas'], fields['body_pose'], human_indices, batch_size,
                                   progress)
            objects = anchor_points @ fields['rel_R'].transpose(0, 2, 1) + fields['rel_t'][:, None]
            fit = fit_anchor_space_pca(np.concatenate([human, objects], axis=1), num_human, pca_dim)
            if fit['num_components'] < pca_dim:
                warnings.warn(f'offset PCA: {name} has {len(human)} samples, so only {int(fit["num_components"])} '
                              f'of {pca_dim} components are fitted; the others are zero')
            arrays['num_samples'][label] = len(human)
            arrays['object_anchor_indices'][label] = anchor_ids
            arrays['object_anchor_points'][label] = anchor_points
            for key, value in fit.items():
                arrays[key][label] = value
    unfitted = [name for name in names if name not in grouped]
    if unfitted:
        warnings.warn(f'offset PCA: no training samples for {unfitted}; OffsetPCA will refuse these objects')
    arrays.update({
        'format_version': np.int64(OFFSET_PCA_FORMAT_VERSION),
        'pca_dim': np.int64(pca_dim),
        'smpl_anchor_num': np.int64(smpl_anchor_num),
        'object_anchor_num': np.int64(object_anchor_num),
        'num_body_parts': np.int64(NUM_BODY_PARTS),
        'seed': np.int64(seed),
        'anchor_radius': np.float64(anchor_radius),
        'body_model_type': np.array(body_model.model_type),
        'gender': np.array(body_model.gender),
        'dataset': np.array(object_library.dataset),
        'surrogate': np.array(bool(body_model.is_surrogate)),
    })
    return arrays
