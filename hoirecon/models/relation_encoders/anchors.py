"""Human anchors, the HOI frame and relative object poses (StackFLOW's offset geometry).

The HOI frame is the body's own frame: the body posed with identity global
orientation and zero translation, with its root joint J0 moved to the origin.
An object with world (or camera) pose ``(R_obj, t_obj)`` next to a body with
global orientation ``R_g`` and posed root joint ``J0`` has the relative pose
``R_rel = R_g^T R_obj``, ``t_rel = R_g^T (t_obj - J0)`` in that frame.
"""
import warnings
from typing import Tuple

import numpy as np
import torch

#: Body parts that carry anchors: the 22 SMPL body joints (pelvis .. wrists), by argmax of the skinning weights.
NUM_BODY_PARTS = 22


def sample_human_anchor_indices(part_labels: np.ndarray,
                                num_per_part: int = 32,
                                seed: int = 7,
                                num_parts: int = NUM_BODY_PARTS) -> np.ndarray:
    """Draw ``num_per_part`` vertex ids in each body part (StackFLOW's human anchors).

    Parts are visited in order 0..num_parts-1 with one seeded generator, so the result is deterministic. A part with
    fewer vertices than ``num_per_part`` is sampled with replacement (with a warning).

    Args:
        part_labels: (V,) int part label of every body vertex (``body_model.part_labels``).
        num_per_part: anchors per part (StackFLOW: 32).
        seed: random seed (StackFLOW: 7).
        num_parts: number of parts (22).

    Returns:
        (num_parts * num_per_part,) int64 vertex ids, part by part.
    """
    part_labels = np.asarray(part_labels)
    if part_labels.ndim != 1 or num_per_part < 1:
        raise ValueError(f'part_labels must be (V,) and num_per_part >= 1, got {part_labels.shape} and '
                         f'{num_per_part}')
    rng = np.random.RandomState(seed)
    picked = []
    for part in range(num_parts):
        vertex_ids = np.flatnonzero(part_labels == part)
        if len(vertex_ids) == 0:
            raise ValueError(f'body part {part} owns no vertex (argmax of the skinning weights over the first '
                             f'{num_parts} joints); the body model file is unusable for human anchors')
        if len(vertex_ids) < num_per_part:
            warnings.warn(f'body part {part} has {len(vertex_ids)} vertices < {num_per_part} anchors; sampling '
                          'with replacement')
        picked.append(rng.choice(vertex_ids, num_per_part, replace=len(vertex_ids) < num_per_part))
    return np.concatenate(picked).astype(np.int64)


def human_anchors_in_hoi_frame(body_model: torch.nn.Module, betas: torch.Tensor, body_pose: torch.Tensor,
                               anchor_indices: torch.Tensor) -> torch.Tensor:
    """Anchor vertices of bodies posed in the HOI frame (identity global orientation, zero translation, minus J0).

    Hands (SMPL-H / SMPL-X) stay flat, as in StackFLOW's predicted bodies.

    Args:
        body_model: a hoirecon body model (``SMPL``, ``SMPLH``, ``SMPLX``).
        betas: (B, <=num_betas) shape coefficients.
        body_pose: (B, J, 3, 3) body joint rotations (J = 21 for SMPL-H / SMPL-X, 23 for SMPL).
        anchor_indices: (A,) long vertex ids.

    Returns:
        (B, A, 3) anchors in metres, dtype / device of ``body_pose``.
    """
    output = body_model(betas=betas, body_pose=body_pose)
    return output.vertices[:, anchor_indices.to(output.vertices.device)] - output.joints[:, :1]


def relative_object_pose(hoi_rotation: torch.Tensor, hoi_root: torch.Tensor, object_rotation: torch.Tensor,
                         object_translation: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Object pose in the HOI frame from poses in a common (world or camera) frame.

    Args:
        hoi_rotation: (B, 3, 3) global orientation R_g of the body.
        hoi_root: (B, 3) posed root joint J0 of the body, metres (for SMPL: rest root joint + translation).
        object_rotation: (B, 3, 3) object rotation R_obj.
        object_translation: (B, 3) object translation t_obj, metres.

    Returns:
        ``R_rel = R_g^T R_obj`` (B, 3, 3) and ``t_rel = R_g^T (t_obj - J0)`` (B, 3).
    """
    rotation_t = hoi_rotation.transpose(-1, -2)
    return rotation_t @ object_rotation, (rotation_t @ (object_translation - hoi_root).unsqueeze(-1)).squeeze(-1)
