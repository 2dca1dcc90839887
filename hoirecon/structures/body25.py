"""OpenPose BODY_25 keypoints from SMPL-family meshes.

A BODY_25 regressor is a (25, V) matrix applied as ``regressor @ vertices``.
Built from a model (:func:`build_body25_regressor`), each row is either a row of
the model's ``J_regressor`` (a skeleton joint) or a one-hot row selecting one of
smplx's landmark vertices:

====  ==========  ===================================  ====  ==========  ======================
 #     BODY_25     source                                #     BODY_25     source
====  ==========  ===================================  ====  ==========  ======================
 0     Nose        vertex ``nose``                       13    LKnee       joint left_knee (4)
 1     Neck        joint neck (12)                       14    LAnkle      joint left_ankle (7)
 2     RShoulder   joint right_shoulder (17)             15    REye        vertex ``reye``
 3     RElbow      joint right_elbow (19)                16    LEye        vertex ``leye``
 4     RWrist      joint right_wrist (21)                17    REar        vertex ``rear``
 5     LShoulder   joint left_shoulder (16)              18    LEar        vertex ``lear``
 6     LElbow      joint left_elbow (18)                 19    LBigToe     vertex ``LBigToe``
 7     LWrist      joint left_wrist (20)                 20    LSmallToe   vertex ``LSmallToe``
 8     MidHip      joint pelvis (0)                      21    LHeel       vertex ``LHeel``
 9     RHip        joint right_hip (2)                   22    RBigToe     vertex ``RBigToe``
 10    RKnee       joint right_knee (5)                  23    RSmallToe   vertex ``RSmallToe``
 11    RAnkle      joint right_ankle (8)                 24    RHeel       vertex ``RHeel``
 12    LHip        joint left_hip (1)
====  ==========  ===================================  ====  ==========  ======================

Vertex ids are smplx's ``VERTEX_IDS['smplh']`` (SMPL, SMPL-H) or ``VERTEX_IDS['smplx']``.
StackFLOW stores such a matrix as text (``J_regressor_body25_smplh.txt``): a
header line ``# J V`` followed by one ``i j value`` line per non-zero entry;
:func:`load_joint_regressor_txt` / :func:`save_joint_regressor_txt` read and write it.
"""
import os.path as osp
from typing import Mapping, Tuple, Union

import numpy as np

BODY25_JOINT_NAMES: Tuple[str, ...] = ('Nose', 'Neck', 'RShoulder', 'RElbow', 'RWrist', 'LShoulder', 'LElbow', 'LWrist',
                                       'MidHip', 'RHip', 'RKnee', 'RAnkle', 'LHip', 'LKnee', 'LAnkle', 'REye', 'LEye',
                                       'REar', 'LEar', 'LBigToe', 'LSmallToe', 'LHeel', 'RBigToe', 'RSmallToe', 'RHeel')

#: Source of each BODY_25 keypoint: ``('joint', skeleton index)`` or ``('vertex', smplx VERTEX_IDS key)``.
BODY25_SOURCES: Tuple[Tuple[str, Union[int, str]],
                      ...] = tuple([('vertex', 'nose')] + [('joint', j)
                                                           for j in (12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7)] +
                                   [('vertex', key) for key in ('reye', 'leye', 'rear', 'lear', 'LBigToe', 'LSmallToe',
                                                                'LHeel', 'RBigToe', 'RSmallToe', 'RHeel')])

#: BODY_25 regressor file looked for next to a model file (StackFLOW's name for SMPL-H).
BODY25_REGRESSOR_FILES = {'smpl': 'J_regressor_body25.txt', 'smplh': 'J_regressor_body25_smplh.txt'}


def build_body25_regressor(j_regressor: np.ndarray, vertex_ids: Mapping[str, int]) -> np.ndarray:
    """BODY_25 regressor from a model's joint regressor and landmark vertex ids (see the module table).

    Args:
        j_regressor: (J, V) float joint regressor of the model (J >= 22, SMPL joint order for the first 22).
        vertex_ids: smplx-style landmark ids (``nose``, ``reye``, ..., ``RHeel``), each < V.

    Returns:
        (25, V) float64 array; every row sums to the corresponding source row's sum (1 for SMPL-family models).
    """
    j_regressor = np.asarray(j_regressor, dtype=np.float64)
    num_verts = j_regressor.shape[1]
    regressor = np.zeros((len(BODY25_SOURCES), num_verts), dtype=np.float64)
    for row, (kind, key) in enumerate(BODY25_SOURCES):
        if kind == 'joint':
            regressor[row] = j_regressor[key]
        else:
            vid = int(vertex_ids[key])
            if not 0 <= vid < num_verts:
                raise ValueError(f'build_body25_regressor: vertex id {key}={vid} is outside the mesh ({num_verts} '
                                 'vertices); the model file does not match the smplx vertex ids.')
            regressor[row, vid] = 1.0
    return regressor


def save_joint_regressor_txt(path: str, regressor: np.ndarray) -> str:
    """Write a (J, V) regressor in StackFLOW's text format (``# J V`` then ``i j value`` per non-zero).

    Args:
        path: output ``.txt`` file.
        regressor: (J, V) float array.

    Returns:
        ``path``.
    """
    regressor = np.asarray(regressor, dtype=np.float64)
    rows, cols = np.nonzero(regressor)
    lines = [f'# {regressor.shape[0]} {regressor.shape[1]}']
    lines += [f'{i} {j} {regressor[i, j]:.17g}' for i, j in zip(rows.tolist(), cols.tolist())]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def load_joint_regressor_txt(path: str) -> np.ndarray:
    """Read a regressor written in StackFLOW's text format.

    Args:
        path: ``.txt`` file with a ``# J V`` header and ``i j value`` lines.

    Returns:
        (J, V) float64 dense array.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: malformed header or entry (the message names the file and line).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Joint regressor file not found: {path}')
    with open(path) as f:
        lines = f.read().splitlines()
    header = lines[0].lstrip('#').split() if lines else []
    if not lines or not lines[0].startswith('#') or len(header) != 2 or not all(h.isdigit() for h in header):
        raise ValueError(f'{path}: line 1 must be the header "# J V" (rows, vertices), got {lines[:1]}.')
    num_rows, num_verts = int(header[0]), int(header[1])
    regressor = np.zeros((num_rows, num_verts), dtype=np.float64)
    for line_no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split()
        try:
            i, j, value = int(fields[0]), int(fields[1]), float(fields[2])
            if len(fields) != 3:
                raise ValueError
        except (ValueError, IndexError):
            raise ValueError(f'{path}: line {line_no} must be "i j value", got {line!r}.') from None
        if not (0 <= i < num_rows and 0 <= j < num_verts):
            raise ValueError(f'{path}: line {line_no} entry ({i}, {j}) is outside the {num_rows}x{num_verts} header.')
        regressor[i, j] = value
    return regressor
