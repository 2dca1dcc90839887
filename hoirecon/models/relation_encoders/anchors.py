"""StackFLOW's human anchors: which body vertices carry the offsets.

The HOI frame they live in (and the relative object pose) is defined once, in
:mod:`hoirecon.models.utils.hoi_frame`.
"""
import warnings

import numpy as np

from hoirecon.models.utils import hoi_frame

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


#: The HOI-frame functions live in :mod:`hoirecon.models.utils.hoi_frame`; these names stay for the encoders' users.
human_anchors_in_hoi_frame = hoi_frame.human_anchors_in_hoi_frame
relative_object_pose = hoi_frame.decompose_object_pose
