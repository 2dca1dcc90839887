"""Joint sets of the SMPL family, in smplx order, and smplx's landmark vertex ids.

Only facts about the kinematic trees live here (names, parents, counts, the landmark
vertices that smplx appends as extra joints); the numbers that depend on a body (rest
joints, skinning) come from the model files. Pure Python / numpy, below both the body
models (:mod:`hoirecon.models.body_models`) and the surrogate generator
(:mod:`hoirecon.assets.surrogate_body`).
Axes of every model: y up, +z = the direction the body faces, +x = the body's left.
"""
from typing import Dict, List, Tuple

import numpy as np

#: Body joints shared by SMPL, SMPL-H and SMPL-X (pelvis + 21), i.e. ``len(BODY_JOINT_NAMES)``.
NUM_BODY_JOINTS = 22
#: Shape coefficients of BEHAVE's fits, of StackFLOW's predictions and of the surrogate body.
NUM_BETAS = 10

#: The 22 joints shared by SMPL, SMPL-H and SMPL-X (pelvis + 21 body joints).
BODY_JOINT_NAMES: Tuple[str, ...] = ('pelvis', 'left_hip', 'right_hip', 'spine1', 'left_knee', 'right_knee', 'spine2',
                                     'left_ankle', 'right_ankle', 'spine3', 'left_foot', 'right_foot', 'neck',
                                     'left_collar', 'right_collar', 'head', 'left_shoulder', 'right_shoulder',
                                     'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist')
BODY_PARENTS: Tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)

#: Finger order of smplx's hand joints (3 joints each, proximal to distal).
FINGER_NAMES: Tuple[str, ...] = ('index', 'middle', 'pinky', 'ring', 'thumb')

SMPL_JOINT_NAMES: Tuple[str, ...] = BODY_JOINT_NAMES + ('left_hand', 'right_hand')
SMPL_PARENTS: Tuple[int, ...] = BODY_PARENTS + (20, 21)


def _hand_joint_names(side: str) -> Tuple[str, ...]:
    return tuple(f'{side}_{finger}{k}' for finger in FINGER_NAMES for k in (1, 2, 3))


def _hand_parents(wrist: int, first: int) -> Tuple[int, ...]:
    """Parents of 15 finger joints numbered from ``first``: knuckles hang on the wrist, the rest on the previous."""
    parents = []
    for finger in range(len(FINGER_NAMES)):
        base = first + 3 * finger
        parents += [wrist, base, base + 1]
    return tuple(parents)


SMPLH_JOINT_NAMES: Tuple[str, ...] = BODY_JOINT_NAMES + _hand_joint_names('left') + _hand_joint_names('right')
SMPLH_PARENTS: Tuple[int, ...] = BODY_PARENTS + _hand_parents(20, 22) + _hand_parents(21, 37)

#: SMPL-X's face joints (smplx's names), between the body and the hands; all three hang on the head (15).
FACE_JOINT_NAMES: Tuple[str, ...] = ('jaw', 'left_eye_smplhf', 'right_eye_smplhf')
SMPLX_JOINT_NAMES: Tuple[str, ...] = (BODY_JOINT_NAMES + FACE_JOINT_NAMES + _hand_joint_names('left') +
                                      _hand_joint_names('right'))
SMPLX_PARENTS: Tuple[int, ...] = BODY_PARENTS + (15, 15, 15) + _hand_parents(20, 25) + _hand_parents(21, 40)

#: Skeleton joints per model type (SMPL-X adds jaw and two eyes between body and hands).
NUM_SKELETON_JOINTS: Dict[str, int] = {'smpl': 24, 'smplh': 52, 'smplx': 55}
#: Joints in the rotation-matrix pose of :meth:`forward` besides the global orientation.
NUM_BODY_POSE_JOINTS: Dict[str, int] = {'smpl': 23, 'smplh': 21, 'smplx': 21}
NUM_HAND_JOINTS = 15
#: Joints returned by smplx (skeleton + 21 vertex joints [+ 51 face landmarks for SMPL-X]).
NUM_OUTPUT_JOINTS: Dict[str, int] = {'smpl': 45, 'smplh': 73, 'smplx': 127}


def joint_names(model_type: str) -> List[str]:
    """Skeleton joint names of ``'smpl'``, ``'smplh'`` or ``'smplx'``, in smplx order."""
    names = {'smpl': SMPL_JOINT_NAMES, 'smplh': SMPLH_JOINT_NAMES, 'smplx': SMPLX_JOINT_NAMES}
    if model_type not in names:
        raise ValueError(f'joint_names: model_type must be one of {sorted(names)}, got {model_type!r}.')
    return list(names[model_type])


def kintree_parents(model_type: str) -> np.ndarray:
    """(J,) int64 parent index of each skeleton joint (-1 for the pelvis) of ``'smpl'``, ``'smplh'`` or ``'smplx'``."""
    parents = {'smpl': SMPL_PARENTS, 'smplh': SMPLH_PARENTS, 'smplx': SMPLX_PARENTS}
    if model_type not in parents:
        raise ValueError(f'kintree_parents: model_type must be one of {sorted(parents)}, got {model_type!r}.')
    return np.asarray(parents[model_type], dtype=np.int64)


def smplx_vertex_ids(model_type: str) -> Dict[str, int]:
    """smplx's landmark vertex ids (nose, eyes, ears, fingertips, toes, heels) for a model type.

    Args:
        model_type: ``'smpl'``, ``'smplh'`` (both use smplx's ``'smplh'`` table) or ``'smplx'``.

    Returns:
        name -> vertex id.

    Raises:
        ImportError: smplx is not installed (the table is smplx's own).
    """
    try:
        from smplx.vertex_ids import vertex_ids
    except ImportError as err:
        raise ImportError('smplx_vertex_ids reads the table of the smplx package: pip install smplx') from err
    return {name: int(vid) for name, vid in vertex_ids['smplx' if model_type == 'smplx' else 'smplh'].items()}
