"""A licence-free surrogate of SMPL / SMPL-H / SMPL-X that smplx loads like the real files.

The surrogate is a clean mannequin made of closed tapered tubes (torso, neck,
head, collars, arms, palms, fingers, legs, feet) around SMPL's 24-joint or
SMPL-H's 52-joint skeleton, with 6890 vertices so that smplx's hard-coded
landmark vertex ids (nose, eyes, ears, fingertips, toes, heels) exist; the
mesh is permuted so that those ids sit on the matching landmarks. It lets the
whole toolbox (training, evaluation, rendering, tests) run without the
registration-gated SMPL files. It is **not** SMPL: shapes, joints and
surfaces differ, so numbers obtained with it are not comparable to published
SMPL / SMPL-H results.

How it is made (all numpy, deterministic for a seed):

- Anthropometry: a neutral, male and female set of lengths and girths in metres
  (:data:`NEUTRAL_BODY`, :data:`GENDER_SCALES`) gives the T-pose skeleton
  (y up, +z facing, +x = body's left; pelvis at (0, -0.22, 0.02)).
- Mesh: every skeleton joint is the centre of one ring of vertices; the
  ``J_regressor`` row of a joint averages that ring, so it is exact for every
  shape. Missing vertices up to 6890 come from splitting the largest faces at
  their centroid (fixed list, same topology for every shape).
- Skinning: each tube region follows one joint, with linear 50/50 ramps across
  joints (:func:`~.surrogate_mesh.ramp_weights`).
- Shape space: :data:`NUM_SHAPE_SAMPLES` random draws of 12 latent factors
  (height, girth, belly, legs, arms, shoulders, hips, torso, head, muscles,
  neck, hands and feet) are meshed; PCA over them gives ``shapedirs`` scaled so
  that betas ~ N(0, 1), with beta0 > 0 meaning taller. ``v_template`` is the
  sample mean.
- ``posedirs`` are zeros of the right size (no pose correctives);
  SMPL-H gets ``hands_components{l,r} = eye(45)`` and ``hands_mean{l,r} = 0``.

SMPL-X (``smplx/SMPLX_{GENDER}.npz``, 10475 vertices, 55 joints) is the SAME mannequin as SMPL-H of the same
gender and seed: the same base mesh (plus two small eyeballs, each the ring of its eye joint), more centroid
splits of the same largest faces (so every SMPL-H vertex is also a SMPL-X vertex), the same skinning, and
``shapedirs`` regressed on the SMPL-H PCA coefficients of the same random bodies, so that ``beta_k`` means the
same thing and an SMPL-H pose and betas copied into SMPL-X give the same body up to the extra vertices. The jaw
joint is the centre of the head's lower ring and carries the chin below the mouth line; ``shapedirs`` has 10
betas plus 10 zero expression directions (smplx's 20-component layout); ``hands_components{l,r}`` is an
orthonormal 45 x 45 basis whose first 12 rows are finger motions (:func:`hand_pca_basis`); the 51 face
landmarks (and smplx's 79 x 17 face-contour table) are ray hits on the head.
"""
import fcntl
import json
import os
import os.path as osp
import pickle
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log
from tqdm import tqdm

from hoirecon.structures.body25 import BODY25_REGRESSOR_FILES, build_body25_regressor, save_joint_regressor_txt
from hoirecon.structures.body_skeletons import (FINGER_NAMES, NUM_BETAS, NUM_HAND_JOINTS, joint_names, kintree_parents,
                                                smplx_vertex_ids)
from hoirecon.utils.paths import cache_dir
from .surrogate_mesh import TubeMesh, make_tube, ramp_weights, signed_volume

#: Bump when the generated files change; the cache folder is ``surrogate_v{SURROGATE_VERSION}``.
SURROGATE_VERSION = 1
#: ``surrogate_info['generator']`` of the files: the generator's module path when version 1 was made. This module
#: has since moved (to ``hoirecon.assets.surrogate_body``); the recorded name is kept so that the files stay
#: byte-identical and built caches stay valid. Change it only together with :data:`SURROGATE_VERSION`.
GENERATOR_NAME = 'hoirecon.models.body_models.surrogate'
NUM_VERTICES = 6890
#: Vertices per model type (SMPL-X's smplx landmark ids go up to 9929).
MODEL_NUM_VERTICES = {'smpl': NUM_VERTICES, 'smplh': NUM_VERTICES, 'smplx': 10475}
#: SMPL-X expression coefficients (their directions are zeros) and face landmarks (static, contour x yaw bins).
NUM_EXPRESSION = 10
NUM_FACE_LANDMARKS = 51
NUM_CONTOUR_LANDMARKS = 17
NUM_CONTOUR_BINS = 79
#: Random bodies meshed for the PCA shape space.
NUM_SHAPE_SAMPLES = 240
MODEL_TYPES = ('smpl', 'smplh', 'smplx')
#: Model types :func:`ensure_surrogate_body` builds unless asked for others (SMPL-X is added on demand).
DEFAULT_MODEL_TYPES = ('smpl', 'smplh')
#: File extension per model type (smplx reads SMPL-X from npz by default).
MODEL_EXTENSIONS = {'smpl': 'pkl', 'smplh': 'pkl', 'smplx': 'npz'}
GENDERS = ('neutral', 'male', 'female')
#: Marker written last into a complete surrogate folder.
MARKER_FILE = 'surrogate_info.json'
#: Neutral body in metres: lengths (first block) and section half-axes (second block).
NEUTRAL_BODY: Dict[str, float] = dict(pelvis_drop=0.085,
                                      hip_x=0.062,
                                      thigh=0.385,
                                      shin=0.405,
                                      ankle_h=0.075,
                                      foot_len=0.255,
                                      torso=0.51,
                                      neck_len=0.085,
                                      head_h=0.115,
                                      head_w=0.078,
                                      head_d=0.098,
                                      shoulder_x=0.175,
                                      upper_arm=0.26,
                                      forearm=0.245,
                                      hand_len=0.185,
                                      crotch_w=0.13,
                                      crotch_d=0.085,
                                      pelvis_w=0.155,
                                      pelvis_d=0.105,
                                      waist_w=0.135,
                                      waist_d=0.095,
                                      belly_w=0.14,
                                      belly_d=0.10,
                                      chest_w=0.155,
                                      chest_d=0.105,
                                      top_w=0.14,
                                      top_d=0.08,
                                      neck_r=0.055,
                                      thigh_r=0.082,
                                      knee_r=0.055,
                                      calf_r=0.056,
                                      ankle_r=0.037,
                                      upper_arm_r=0.045,
                                      elbow_r=0.037,
                                      forearm_r=0.04,
                                      wrist_r=0.029,
                                      collar_r=0.05,
                                      palm_w=0.043,
                                      palm_t=0.015,
                                      finger_r=0.0085,
                                      foot_w=0.047,
                                      foot_h=0.035)
_LENGTHS = ('pelvis_drop', 'hip_x', 'thigh', 'shin', 'ankle_h', 'foot_len', 'torso', 'neck_len', 'head_h', 'head_w',
            'head_d', 'shoulder_x', 'upper_arm', 'forearm', 'hand_len')
_LIMB_GIRTHS = ('thigh_r', 'knee_r', 'calf_r', 'ankle_r', 'upper_arm_r', 'elbow_r', 'forearm_r', 'wrist_r', 'neck_r',
                'collar_r')
_TORSO_GIRTHS = ('crotch_w', 'crotch_d', 'pelvis_w', 'pelvis_d', 'waist_w', 'waist_d', 'belly_w', 'belly_d', 'chest_w',
                 'chest_d', 'top_w', 'top_d')

# multipliers of NEUTRAL_BODY per gender (female: shorter, narrower shoulders, wider hips)
_MALE = dict(shoulder_x=1.085,
             top_w=1.09,
             chest_w=1.07,
             chest_d=1.04,
             pelvis_w=0.96,
             crotch_w=0.97,
             hip_x=1.0,
             upper_arm_r=1.08,
             neck_r=1.07,
             collar_r=1.05)
_FEMALE = dict(shoulder_x=0.86,
               top_w=0.87,
               chest_w=0.92,
               collar_r=0.9,
               pelvis_w=1.07,
               pelvis_d=1.04,
               crotch_w=1.07,
               hip_x=0.99,
               waist_w=0.9,
               upper_arm_r=0.88,
               forearm_r=0.9,
               wrist_r=0.9,
               neck_r=0.87,
               hand_len=0.9,
               foot_len=0.9,
               palm_w=0.92,
               thigh_r=1.03)
#: Multipliers of :data:`NEUTRAL_BODY` per gender (lengths scaled as a whole, then the listed parameters).
GENDER_SCALES: Dict[str, Dict[str, float]] = {
    'neutral': {},
    'male': {
        **dict.fromkeys(_LENGTHS, 1.035),
        **_MALE
    },
    'female': {
        **dict.fromkeys(_LENGTHS, 0.945),
        **_FEMALE
    },
}

#: Latent factors of the random bodies: name -> {parameter: standard deviation of its log-scale}.
SHAPE_FACTORS: Tuple[Tuple[str, Dict[str, float]], ...] = (
    ('height', dict.fromkeys(_LENGTHS, 0.05)),
    ('girth', dict(dict.fromkeys(_TORSO_GIRTHS, 0.09), **dict.fromkeys(_LIMB_GIRTHS, 0.07))),
    ('belly', dict(belly_d=0.14, waist_d=0.10, belly_w=0.06, waist_w=0.05)),
    ('legs', dict(thigh=0.04, shin=0.04, torso=-0.02)),
    ('arms', dict(upper_arm=0.04, forearm=0.04)),
    ('shoulders', dict(shoulder_x=0.05, chest_w=0.04, top_w=0.05)),
    ('hips', dict(pelvis_w=0.06, crotch_w=0.05, hip_x=0.05)),
    ('torso', dict(torso=0.04)),
    ('head', dict(head_h=0.05, head_w=0.05, head_d=0.05)),
    ('muscles', dict(upper_arm_r=0.07, forearm_r=0.05, thigh_r=0.07, calf_r=0.07, chest_d=0.05)),
    ('neck', dict(neck_len=0.12, neck_r=0.06)),
    ('hands_feet', dict(hand_len=0.05, palm_w=0.05, finger_r=0.05, foot_len=0.05, foot_w=0.05)),
)

#: Finger layout (fractions of hand length / palm half-width): knuckle x, knuckle z, sideways spread of the
#: direction, phalanx lengths, radius factor. The thumb starts near the wrist and points forward (+z).
_FINGERS = {
    'index': dict(x=0.49, z=0.60, direction=(1.0, -0.03, 0.05), phalanges=(0.225, 0.135, 0.12), radius=1.0),
    'middle': dict(x=0.50, z=0.18, direction=(1.0, -0.03, 0.0), phalanges=(0.25, 0.155, 0.13), radius=1.02),
    'pinky': dict(x=0.45, z=-0.60, direction=(1.0, -0.03, -0.09), phalanges=(0.18, 0.105, 0.105), radius=0.85),
    'ring': dict(x=0.485, z=-0.22, direction=(1.0, -0.03, -0.04), phalanges=(0.235, 0.145, 0.12), radius=0.95),
    'thumb': dict(x=0.12, z=0.55, direction=(0.75, -0.25, 0.62), phalanges=(0.21, 0.175, 0.14), radius=1.15),
}


@dataclass(frozen=True)
class _Tube:
    """One tube of the mannequin for S samples: geometry arrays plus skinning per model type.

    Attributes:
        name: tube name (limbs: ``left_*``; ``mirrored`` adds the right copy).
        centres: (S, N, 3) nodes, metres.
        radii: (S, N, 2) section half-axes at the nodes, metres.
        cap_lengths: (S, 2) start / end cap lengths, metres.
        width_axis: direction of the first section axis.
        subdivisions: (N-1,) rings per segment.
        ring_size: vertices per ring.
        cap_rings: rings per (start, end) cap.
        bones: model type -> joint name of each of the N+1 regions (start cap, N-1 segments, end cap).
        ring_joints: model type -> joint name (or None) per node; that node's ring is the joint's regressor row.
        mirrored: also mesh the mirror image (x -> -x) with ``left_`` joints renamed ``right_``.
    """
    name: str
    centres: np.ndarray
    radii: np.ndarray
    cap_lengths: np.ndarray
    width_axis: Tuple[float, float, float]
    subdivisions: Tuple[int, ...]
    ring_size: int
    cap_rings: Tuple[int, int]
    bones: Dict[str, Tuple[str, ...]]
    ring_joints: Dict[str, Tuple[Optional[str], ...]]
    mirrored: bool = True


def _tube(name: str, nodes: list, radii: list, caps: tuple, layout: tuple, bones, ring_joints, mirrored=True):
    """Build a :class:`_Tube` from lists of (S, 3) nodes and (first, second) radius pairs.

    ``layout`` is ``(width_axis, subdivisions, ring_size, cap_rings)``; ``bones`` / ``ring_joints`` are either one
    tuple for both SMPL and SMPL-H or a dict per model type.
    """

    def per_type(value):
        return value if isinstance(value, dict) else {model_type: value for model_type in MODEL_TYPES}

    pairs = [np.stack(np.broadcast_arrays(a, b), axis=-1) for a, b in radii]
    width_axis, subdivisions, ring_size, cap_rings = layout
    return _Tube(name, np.stack(nodes, axis=1), np.stack(pairs, axis=1),
                 np.stack(np.broadcast_arrays(*caps), axis=-1).astype(np.float64), width_axis, subdivisions, ring_size,
                 cap_rings, per_type(bones), per_type(ring_joints), mirrored)


def sample_body_parameters(rng: np.random.Generator, num_samples: int, gender: str) -> Dict[str, np.ndarray]:
    """Random bodies: the gender's mean body scaled by log-normal latent factors.

    Args:
        rng: numpy generator.
        num_samples: S.
        gender: ``'neutral'``, ``'male'`` or ``'female'``.

    Returns:
        name -> (S,) float64 parameter in metres (see :data:`NEUTRAL_BODY`). Sample 0 is the gender's mean body.
    """
    factors = rng.standard_normal((num_samples, len(SHAPE_FACTORS)))
    factors[0] = 0.0
    log_scale = {name: np.zeros(num_samples) for name in NEUTRAL_BODY}
    for column, (_, loadings) in enumerate(SHAPE_FACTORS):
        for name, std in loadings.items():
            log_scale[name] += std * factors[:, column]
    scales = GENDER_SCALES[gender]
    return {name: value * scales.get(name, 1.0) * np.exp(log_scale[name]) for name, value in NEUTRAL_BODY.items()}


def _point(x, y, z) -> np.ndarray:
    """(S, 3) points from broadcastable coordinates."""
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1).astype(np.float64)


def _axial_tubes(p: Dict[str, np.ndarray], neck: np.ndarray, head_joint: np.ndarray) -> List[_Tube]:
    """Torso, neck and head (on the body's mid-plane)."""
    zero = np.zeros_like(p['torso'])
    hip_y = -0.22 - p['pelvis_drop']

    def spine(frac, z):
        return _point(0.0, -0.22 + frac * p['torso'], z)

    torso_nodes = [
        _point(0.0, hip_y - 0.04, 0.0),
        spine(0.0, 0.02),
        spine(0.21, 0.0),
        spine(0.48, 0.01),
        spine(0.59, 0.02),
        spine(0.935, -0.01)
    ]
    torso_radii = [(p['crotch_w'], p['crotch_d']), (p['pelvis_w'], p['pelvis_d']), (p['waist_w'], p['waist_d']),
                   (p['belly_w'], p['belly_d']), (p['chest_w'], p['chest_d']), (p['top_w'], p['top_d'])]
    torso = _tube('torso',
                  torso_nodes,
                  torso_radii, (0.05 + zero, 0.045), ((1.0, 0.0, 0.0), (2, 4, 5, 3, 6), 40, (4, 4)),
                  bones=('pelvis', 'pelvis', 'pelvis', 'spine1', 'spine2', 'spine3', 'spine3'),
                  ring_joints=(None, 'pelvis', 'spine1', 'spine2', 'spine3', None),
                  mirrored=False)
    neck_radii = [(p['neck_r'], 0.95 * p['neck_r']), (0.9 * p['neck_r'], 0.85 * p['neck_r'])]
    neck_tube = _tube('neck', [neck, head_joint],
                      neck_radii, (0.03 + zero, 0.025), ((1.0, 0.0, 0.0), (6, ), 24, (2, 2)),
                      bones=('spine3', 'neck', 'head'),
                      ring_joints=('neck', 'head'),
                      mirrored=False)
    # head: an ellipsoid around ``centre`` (three rings + two caps), the neck tube holds the head joint ring
    centre = head_joint + _point(0.0, 0.52 * p['head_h'], -0.005)
    offset = _point(0.0, 0.3 * p['head_h'], 0.0)
    shrink = np.sqrt(1.0 - 0.3**2)
    head_radii = [(shrink * p['head_w'], shrink * p['head_d']), (p['head_w'], p['head_d']),
                  (shrink * p['head_w'], shrink * p['head_d'])]
    head = _tube('head', [centre - offset, centre, centre + offset],
                 head_radii, (0.8 * p['head_h'], 0.7 * p['head_h']), ((1.0, 0.0, 0.0), (2, 2), 36, (5, 6)),
                 bones=('head', ) * 4,
                 ring_joints=dict(smpl=(None, ) * 3, smplh=(None, ) * 3, smplx=('jaw', None, None)),
                 mirrored=False)
    return [torso, neck_tube, head]


def _leg_tubes(p: Dict[str, np.ndarray]) -> List[_Tube]:
    """Left leg (hip -> knee -> calf -> ankle) and foot (heel -> ball -> toe)."""
    hip = _point(p['hip_x'], -0.22 - p['pelvis_drop'], 0.01)
    knee = hip + _point(0.022, -p['thigh'], 0.005)
    ankle = knee + _point(0.01, -p['shin'], -0.04)
    calf = 0.62 * knee + 0.38 * ankle + _point(0.0, 0.0, -0.01)
    leg_radii = [(0.92 * p['thigh_r'], p['thigh_r']), (p['knee_r'], p['knee_r']), (p['calf_r'], p['calf_r']),
                 (p['ankle_r'], 1.05 * p['ankle_r'])]
    leg = _tube('left_leg', [hip, knee, calf, ankle],
                leg_radii, (0.8 * p['thigh_r'], 0.8 * p['ankle_h']), ((1.0, 0.0, 0.0), (9, 3, 5), 28, (3, 3)),
                bones=('pelvis', 'left_hip', 'left_knee', 'left_knee', 'left_ankle'),
                ring_joints=('left_hip', 'left_knee', None, 'left_ankle'))
    sole = ankle[:, 1] - p['ankle_h']
    x, z = ankle[:, 0], ankle[:, 2]
    fh, fl, fw = p['foot_h'], p['foot_len'], p['foot_w']
    foot_nodes = [
        _point(x, sole + fh, z - 0.2 * fl + fh),
        _point(x + 0.012, sole + 0.8 * fh, z + 0.55 * fl),
        _point(x + 0.02, sole + 0.6 * fh, z + 0.8 * fl - 0.8 * fh)
    ]
    foot_radii = [(0.75 * fw, fh), (fw, 0.8 * fh), (0.85 * fw, 0.6 * fh)]
    foot = _tube('left_foot',
                 foot_nodes,
                 foot_radii, (fh, 0.8 * fh), ((1.0, 0.0, 0.0), (5, 3), 20, (3, 3)),
                 bones=('left_ankle', 'left_ankle', 'left_foot', 'left_foot'),
                 ring_joints=(None, 'left_foot', None))
    return [leg, foot]


def _arm_tubes(p: Dict[str, np.ndarray], neck: np.ndarray) -> List[_Tube]:
    """Left collar, arm, palm and fingers (T-pose along +x, palm down, thumb forward)."""
    zero = np.zeros_like(p['torso'])
    collar = _point(0.42 * p['shoulder_x'], neck[:, 1] - 0.10, -0.005)
    shoulder = _point(p['shoulder_x'], neck[:, 1] - 0.07, -0.015)
    elbow = shoulder + _point(p['upper_arm'], -0.01, -0.02)
    wrist = elbow + _point(p['forearm'], 0.005, 0.0)
    forearm = 0.7 * elbow + 0.3 * wrist
    along_x = (0.0, 0.0, 1.0)  # section axes of tubes along x: z (front-back) first
    collar_radii = [(p['collar_r'], 0.9 * p['collar_r']), (p['collar_r'], 0.95 * p['collar_r'])]
    tubes = [
        _tube('left_collar', [collar, shoulder],
              collar_radii, (0.045 + zero, 0.035), (along_x, (6, ), 20, (2, 3)),
              bones=('spine3', 'left_collar', 'left_shoulder'),
              ring_joints=('left_collar', None))
    ]
    arm_radii = [(p['upper_arm_r'], 0.95 * p['upper_arm_r']), (p['elbow_r'], p['elbow_r']),
                 (p['forearm_r'], 0.9 * p['forearm_r']), (p['wrist_r'], 0.75 * p['wrist_r'])]
    tubes.append(
        _tube('left_arm', [shoulder, elbow, forearm, wrist],
              arm_radii, (0.9 * p['upper_arm_r'], 0.02 + zero), (along_x, (10, 3, 6), 20, (3, 2)),
              bones=('left_collar', 'left_shoulder', 'left_elbow', 'left_elbow', 'left_wrist'),
              ring_joints=('left_shoulder', 'left_elbow', None, 'left_wrist')))
    hand, palm_w = p['hand_len'], p['palm_w']
    palm_nodes = [wrist + _point(0.012, zero, 0.0), wrist + _point(0.48 * hand, -0.004, -0.003)]
    palm_radii = [(0.75 * palm_w, p['palm_t']), (palm_w, 0.85 * p['palm_t'])]
    tubes.append(
        _tube('left_palm',
              palm_nodes,
              palm_radii, (0.015 + zero, 0.012), (along_x, (5, ), 16, (2, 2)),
              bones=dict(smpl=('left_wrist', 'left_wrist', 'left_hand'),
                         smplh=('left_wrist', ) * 3,
                         smplx=('left_wrist', ) * 3),
              ring_joints=dict(smpl=(None, 'left_hand'), smplh=(None, None), smplx=(None, None))))
    for finger in FINGER_NAMES:
        spec = _FINGERS[finger]
        direction = np.asarray(spec['direction']) / np.linalg.norm(spec['direction'])
        radius = spec['radius'] * p['finger_r']
        y = -0.012 if finger == 'thumb' else -0.004
        nodes = [wrist + _point(spec['x'] * hand, y, spec['z'] * palm_w)]
        for k, fraction in enumerate(spec['phalanges']):
            step = fraction * hand - (0.8 * radius if k == 2 else 0.0)  # the tip cap completes the last phalanx
            nodes.append(nodes[-1] + step[:, None] * direction)
        radii = [(radius, 0.9 * radius), (0.92 * radius, 0.85 * radius), (0.85 * radius, 0.8 * radius),
                 (0.8 * radius, 0.75 * radius)]
        joints = tuple(f'left_{finger}{k}' for k in (1, 2, 3))
        tubes.append(
            _tube(f'left_{finger}',
                  nodes,
                  radii, (0.008 + zero, 0.8 * radius), (along_x, (3, 2, 2), 8, (1, 2)),
                  bones=dict(smpl=('left_hand', ) * 5,
                             smplh=('left_wrist', ) + joints + joints[-1:],
                             smplx=('left_wrist', ) + joints + joints[-1:]),
                  ring_joints=dict(smpl=(None, ) * 4, smplh=joints + (None, ), smplx=joints + (None, ))))
    return tubes


def body_tubes(p: Dict[str, np.ndarray]) -> List[_Tube]:
    """The tubes of the mannequin for bodies ``p`` (T-pose; limbs given on the left side, +x).

    Args:
        p: name -> (S,) body parameters in metres (:func:`sample_body_parameters`).

    Returns:
        List of tubes; every skeleton joint of SMPL and SMPL-H is the ring centre of exactly one node.
    """
    neck = _point(0.0, -0.22 + p['torso'], -0.01)
    head_joint = neck + _point(0.0, p['neck_len'], 0.045)
    return _axial_tubes(p, neck, head_joint) + _leg_tubes(p) + _arm_tubes(p, neck)


def eye_tubes(p: Dict[str, np.ndarray], left_eye_landmark: np.ndarray) -> List[_Tube]:
    """SMPL-X's left eyeball (mirrored for the right): a small sphere whose middle ring is the eye joint.

    The eyeball sits just behind the head's ``leye`` landmark vertex, its front pole 2.4 mm in front of it, so
    that it shows like an eye between the lids of a mannequin; it follows only its eye joint.

    Args:
        p: body parameters (:func:`sample_body_parameters`), S samples.
        left_eye_landmark: (S, 3) the head vertex of the SMPL-H ``leye`` landmark of each sample.

    Returns:
        One mirrored tube (only SMPL-X has bones for it).
    """
    radius = 0.15 * p['head_w']
    centre = left_eye_landmark - _point(0.0, 0.0, 0.8 * radius)
    step = _point(0.0, 0.0, 0.5 * radius)
    side = np.sqrt(0.75) * radius
    joint = 'left_eye_smplhf'
    return [
        _tube('left_eye', [centre - step, centre, centre + step], [(side, side), (radius, radius), (side, side)],
              (0.5 * radius, 0.5 * radius), ((1.0, 0.0, 0.0), (2, 2), 12, (2, 2)),
              bones=dict(smplx=(joint, ) * 4),
              ring_joints=dict(smplx=(None, joint, None)))
    ]


def _mirror_name(name: str) -> str:
    return name.replace('left_', 'right_')


@dataclass
class _Part:
    """A meshed tube placed in the body: global vertex offset, skinning and regressor bookkeeping."""
    tube: _Tube
    mesh: TubeMesh
    offset: int
    side: str  # 'left', 'right' or 'centre'

    def joint(self, name: str) -> str:
        return _mirror_name(name) if self.side == 'right' else name


@dataclass
class SurrogateShapeSpace:
    """Mesh, shape space and skinning layout shared by the SMPL and SMPL-H surrogate of one gender.

    Attributes:
        v_template: (V, 3) float64 mean body, metres.
        shapedirs: (V, 3, 10) float64 shape directions (betas ~ N(0, 1)).
        pca_std: (10,) float64 norm of each direction (the sample std along it).
        faces: (F, 3) int64.
        landmarks: smplx landmark name -> vertex id (equal to smplx's ``VERTEX_IDS['smplh']``).
        parts: meshed tubes with their vertex offsets in the base (pre-split) mesh.
        base_arc: (V_base,) arc length of every base vertex along its tube (template body), metres.
        split_faces: (n, 3) base-mesh faces split at their centroid (the last n base-order vertices).
        order: (V,) base-order vertex id placed at each final vertex id.
        params: name -> (S,) parameters of the random bodies (sample 0: the gender's mean body).
        base_vertices: (S, V_base, 3) the random bodies' base meshes (nose bump included).
        base_faces: (F_base, 3) faces of the base mesh.
        base_landmarks: smplx landmark name -> base-mesh vertex id.
        coefficients: (S, 10) betas of the random bodies in this shape space (what SMPL-X's shape space is
            regressed on, so that its betas mean the same).
    """
    v_template: np.ndarray
    shapedirs: np.ndarray
    pca_std: np.ndarray
    faces: np.ndarray
    landmarks: Dict[str, int]
    parts: List[_Part]
    base_arc: np.ndarray
    split_faces: np.ndarray
    order: np.ndarray
    params: Optional[Dict[str, np.ndarray]] = None
    base_vertices: Optional[np.ndarray] = None
    base_faces: Optional[np.ndarray] = None
    base_landmarks: Optional[Dict[str, int]] = None
    coefficients: Optional[np.ndarray] = None


def _mesh_parts(params: Dict[str, np.ndarray]) -> Tuple[List[_Part], np.ndarray, np.ndarray]:
    """Mesh every tube (and the mirrored right limbs) for all samples.

    Returns:
        parts, (S, V_base, 3) vertices, (F_base, 3) faces (outward winding).
    """
    return _mesh_tubes(body_tubes(params))


def _mesh_tubes(tubes: List[_Tube], offset: int = 0) -> Tuple[List[_Part], np.ndarray, np.ndarray]:
    """Mesh tubes (and their mirror copies) with vertex ids from ``offset``; see :func:`_mesh_parts`."""
    parts, vertices, faces = [], [], []
    for tube in tubes:
        mesh = make_tube(tube.centres, tube.radii, tube.cap_lengths, tube.width_axis, tube.subdivisions, tube.ring_size,
                         tube.cap_rings)
        if signed_volume(mesh.vertices[0], mesh.faces) < 0:
            mesh.faces = mesh.faces[:, ::-1].copy()
        copies = [('left' if tube.mirrored else 'centre', mesh.vertices, mesh.faces)]
        if tube.mirrored:
            copies.append(('right', mesh.vertices * np.array([-1.0, 1.0, 1.0]), mesh.faces[:, ::-1]))
        for side, verts, tube_faces in copies:
            parts.append(_Part(tube, mesh, offset, side))
            vertices.append(verts)
            faces.append(tube_faces + offset)
            offset += verts.shape[1]
    return parts, np.concatenate(vertices, axis=1), np.concatenate(faces)


def _find_landmarks(parts: List[_Part], template: np.ndarray) -> Dict[str, int]:
    """Base-mesh vertex id of each smplx landmark, found on the template body (S=1 vertices (V_base, 3))."""
    by_name = {(part.side, part.tube.name): part for part in parts}
    head = by_name[('centre', 'head')]
    head_ids = head.offset + np.arange(head.mesh.vertices.shape[1])
    head_pts = template[head_ids]
    centre = head.mesh.vertices[0, head.mesh.ring_vertex_ids[head.mesh.node_rings[1]]].mean(axis=0)
    half_axes = head_pts.max(axis=0) - centre
    landmarks = {
        'nose': head_ids[np.argmax(head_pts[:, 2])],
        'lear': head_ids[np.argmax(head_pts[:, 0])],
        'rear': head_ids[np.argmin(head_pts[:, 0])],
    }
    for key, sign in (('leye', 1.0), ('reye', -1.0)):
        target = centre + half_axes * np.array([0.33 * sign, 0.22, 0.92])
        landmarks[key] = head_ids[np.argmin(np.linalg.norm(head_pts - target, axis=1))]
    for side, prefix in (('left', 'l'), ('right', 'r')):
        for finger in FINGER_NAMES:
            part = by_name[(side, f'left_{finger}')]
            landmarks[f'{prefix}{finger}'] = part.offset + part.mesh.poles[1]
        foot = by_name[(side, 'left_foot')]
        upper = prefix.upper()
        landmarks[f'{upper}BigToe'] = foot.offset + foot.mesh.poles[1]
        landmarks[f'{upper}Heel'] = foot.offset + foot.mesh.poles[0]
        toe_cap = foot.offset + foot.mesh.ring_vertex_ids[foot.mesh.node_rings[-1] + 1]
        lateral = template[toe_cap, 0] * (1.0 if side == 'left' else -1.0)
        landmarks[f'{upper}SmallToe'] = toe_cap[np.argmax(lateral)]
    return {key: int(value) for key, value in landmarks.items()}


def _split_and_order(base_faces: np.ndarray, template: np.ndarray, landmarks: Dict[str, int], model_type='smplh'):
    """Fill the mesh up to the model's vertex count by centroid splits and place the landmarks on smplx's ids.

    The largest faces (on ``template``) are split once each, so a larger vertex count splits a superset of the
    faces a smaller one splits.

    Returns:
        split_faces (n, 3), order (V,) base-order id of each final vertex, final faces (F, 3).
    """
    num_vertices = MODEL_NUM_VERTICES[model_type]
    num_base = template.shape[0]
    num_splits = num_vertices - num_base
    if num_splits < 0:
        raise RuntimeError(f'surrogate mesh has {num_base} vertices, more than {num_vertices}; reduce ring counts.')
    a, b, c = (template[base_faces[:, k]] for k in range(3))
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    split = np.sort(np.argsort(-area, kind='stable')[:num_splits])
    centroid_ids = num_base + np.arange(num_splits)
    fa, fb, fc = base_faces[split].T
    new_faces = np.concatenate(
        [np.stack(t, axis=1) for t in ((fa, fb, centroid_ids), (fb, fc, centroid_ids), (fc, fa, centroid_ids))])
    keep = np.ones(len(base_faces), dtype=bool)
    keep[split] = False
    faces = np.concatenate([base_faces[keep], new_faces])

    order = np.full(num_vertices, -1, dtype=np.int64)
    for key, target in smplx_vertex_ids(model_type).items():
        order[target] = landmarks[key]
    rest = np.setdiff1d(np.arange(num_vertices), order[order >= 0])
    order[order < 0] = rest
    inverse = np.empty_like(order)
    inverse[order] = np.arange(num_vertices)
    return base_faces[split], order, inverse[faces]


def _with_splits(values: np.ndarray, split_faces: np.ndarray, order: np.ndarray, axis: int) -> np.ndarray:
    """Append centroid values of the split faces along ``axis`` (vertex axis) and apply the final order."""
    corners = np.take(values, split_faces, axis=axis)  # (..., n, 3, ...)
    values = np.concatenate([values, corners.mean(axis=axis + 1)], axis=axis)
    return np.take(values, order, axis=axis)


def build_shape_space(gender: str, seed: int = 0, num_samples: int = NUM_SHAPE_SAMPLES) -> SurrogateShapeSpace:
    """Mesh random bodies of one gender and reduce them to a 10-dimensional PCA shape space.

    Args:
        gender: ``'neutral'``, ``'male'`` or ``'female'``.
        seed: random seed; the result is a deterministic function of (gender, seed, num_samples).
        num_samples: bodies meshed for the PCA (>= 11).

    Returns:
        :class:`SurrogateShapeSpace`.
    """
    if gender not in GENDERS:
        raise ValueError(f'Surrogate body: gender must be one of {GENDERS}, got {gender!r}.')
    rng = np.random.default_rng([seed, GENDERS.index(gender), SURROGATE_VERSION])
    params = sample_body_parameters(rng, num_samples, gender)
    parts, base_vertices, base_faces = _mesh_parts(params)
    landmarks = _find_landmarks(parts, base_vertices[0])
    nose_bump = 0.15 * params['head_d']
    base_vertices[:, landmarks['nose'], 2] += nose_bump
    split_faces, order, faces = _split_and_order(base_faces, base_vertices[0], landmarks)
    vertices = _with_splits(base_vertices, split_faces, order, axis=1)  # (S, V, 3)

    flat = vertices.reshape(num_samples, -1)
    mean = flat.mean(axis=0)
    _, singular, directions = np.linalg.svd(flat - mean, full_matrices=False)
    pca_std = singular[:NUM_BETAS] / np.sqrt(num_samples - 1)
    dirs = directions[:NUM_BETAS] * pca_std[:, None]
    v_template = mean.reshape(-1, 3)
    outward = (v_template - v_template.mean(axis=0)).reshape(-1)
    for k in range(NUM_BETAS):
        d = dirs[k].reshape(-1, 3)
        grows = np.ptp(v_template[:, 1] + d[:, 1]) - np.ptp(v_template[:, 1]) if k == 0 else dirs[k] @ outward
        dirs[k] *= 1.0 if grows > 0 else -1.0
    base_arc = np.concatenate([_part_arcs(part) for part in parts])
    coefficients = (flat - mean) @ dirs.T / pca_std**2  # betas of the samples: dirs are orthogonal, |dirs_k| = std_k
    return SurrogateShapeSpace(v_template=v_template,
                               shapedirs=np.ascontiguousarray(dirs.reshape(NUM_BETAS, -1, 3).transpose(1, 2, 0)),
                               pca_std=pca_std,
                               faces=faces,
                               landmarks={
                                   key: int(np.nonzero(order == base_id)[0][0])
                                   for key, base_id in landmarks.items()
                               },
                               parts=parts,
                               base_arc=base_arc,
                               split_faces=split_faces,
                               order=order,
                               params=params,
                               base_vertices=base_vertices,
                               base_faces=base_faces,
                               base_landmarks=landmarks,
                               coefficients=coefficients)


def _part_arcs(part: _Part) -> np.ndarray:
    """(V_tube,) arc length of each vertex of a tube on the template body (sample 0)."""
    mesh = part.mesh
    arc = np.empty(mesh.vertices.shape[1])
    arc[mesh.ring_vertex_ids] = mesh.ring_arc[0][:, None]
    arc[list(mesh.poles)] = mesh.pole_arc[0]
    return arc


def _skinning(space: SurrogateShapeSpace, model_type: str) -> Tuple[np.ndarray, np.ndarray]:
    """Skinning weights (V, J) and exact ring-average joint regressor (J, V) of one skeleton."""
    names = joint_names(model_type)
    index = {name: i for i, name in enumerate(names)}
    base_weights = np.zeros((len(space.base_arc), len(names)))
    base_regressor = np.zeros((len(names), len(space.base_arc)))
    for part in space.parts:
        mesh, tube = part.mesh, part.tube
        ids = part.offset + np.arange(mesh.vertices.shape[1])
        bones = [index[part.joint(name)] for name in tube.bones[model_type]]
        base_weights[ids] = ramp_weights(space.base_arc[ids], mesh.node_arc[0], bones, mesh.pole_arc[0], len(names))
        for node, name in enumerate(tube.ring_joints[model_type]):
            if name is None:
                continue
            ring = part.offset + mesh.ring_vertex_ids[mesh.node_rings[node]]
            base_regressor[index[part.joint(name)], ring] = 1.0 / len(ring)
    missing = [name for name, row in zip(names, base_regressor) if not row.any()]
    if missing:
        raise RuntimeError(f'surrogate {model_type}: joints without a ring: {missing}')
    if model_type == 'smplx':
        _add_jaw_weights(space, base_weights, index['head'], index['jaw'])
    weights = _with_splits(base_weights, space.split_faces, space.order, axis=0)
    regressor = np.take(np.concatenate([base_regressor, np.zeros((len(names), len(space.split_faces)))], axis=1),
                        space.order,
                        axis=1)
    return weights, regressor


@dataclass
class SurrogateSmplxMesh:
    """The SMPL-X mesh of one gender: the SMPL-H base mesh plus eyeballs, split up to 10475 vertices.

    Attributes:
        v_template: (V, 3) mean body, metres.
        shapedirs: (V, 3, 10) shape directions; beta_k means what it means for SMPL-H of the same shape space.
        faces: (F, 3) int64.
        landmarks: smplx landmark name -> vertex id (equal to smplx's ``VERTEX_IDS['smplx']``).
        parts: the SMPL-H parts followed by the two eyeballs.
        base_arc, split_faces, order: as in :class:`SurrogateShapeSpace`, for this mesh.
        base_template: (V_base, 3) mean base mesh (eyeballs included).
        vertex_part: (V,) index into ``parts`` of each final vertex (a split centroid: its face's part).
        smplh_ids: (6890,) SMPL-X vertex id of each SMPL-H vertex (the same point of the same body).
    """
    v_template: np.ndarray
    shapedirs: np.ndarray
    faces: np.ndarray
    landmarks: Dict[str, int]
    parts: List[_Part]
    base_arc: np.ndarray
    split_faces: np.ndarray
    order: np.ndarray
    base_template: np.ndarray
    vertex_part: np.ndarray
    smplh_ids: np.ndarray


def build_smplx_mesh(space: SurrogateShapeSpace) -> SurrogateSmplxMesh:
    """SMPL-X mesh and shape space from the SMPL-H shape space of the same gender and seed.

    The eyeballs are meshed for the same random bodies; the final mesh and the shape directions are linear in
    the base vertices, and ``shapedirs`` is the least-squares regression of the random bodies on their SMPL-H
    betas (``space.coefficients``, orthogonal columns), so on the vertices SMPL-H shares it reproduces SMPL-H's
    directions up to float rounding.
    """
    base = space.base_vertices
    num_base = base.shape[1]
    eye_parts, eye_vertices, eye_faces = _mesh_tubes(eye_tubes(space.params, base[:, space.base_landmarks['leye']]),
                                                     offset=num_base)
    parts = space.parts + eye_parts
    vertices = np.concatenate([base, eye_vertices], axis=1)
    base_faces = np.concatenate([space.base_faces, eye_faces])
    landmarks = dict(space.base_landmarks)
    for part in eye_parts:
        landmarks['leye' if part.side == 'left' else 'reye'] = part.offset + part.mesh.poles[1]  # front pole
    split_faces, order, faces = _split_and_order(base_faces, vertices[0], landmarks, 'smplx')

    mean = vertices.mean(axis=0)
    coefficients = space.coefficients
    dirs = np.einsum('sk,svc->kvc', coefficients, vertices - mean)
    dirs = np.einsum('kl,lvc->kvc', np.linalg.inv(coefficients.T @ coefficients), dirs)
    v_template = _with_splits(mean, split_faces, order, axis=0)
    shapedirs = _with_splits(dirs, split_faces, order, axis=1).transpose(1, 2, 0)

    base_part = np.concatenate([np.full(part.mesh.vertices.shape[1], k) for k, part in enumerate(parts)])
    vertex_part = np.concatenate([base_part, base_part[split_faces[:, 0]]])[order]
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    # SMPL-H's vertices in base order are the base vertices then its split centroids, which SMPL-X splits too
    keys, smplh_keys = _face_keys(split_faces), _face_keys(space.split_faces)
    sorter = np.argsort(keys)
    smplh_split = sorter[np.clip(np.searchsorted(keys, smplh_keys, sorter=sorter), 0, len(keys) - 1)]
    if not np.array_equal(keys[smplh_split], smplh_keys):
        raise RuntimeError('surrogate smplx: the SMPL-X splits do not contain the SMPL-H splits')
    base_order = np.concatenate([np.arange(num_base), vertices.shape[1] + smplh_split])
    smplh_ids = inverse[base_order[space.order]]
    base_arc = np.concatenate([space.base_arc] + [_part_arcs(part) for part in eye_parts])
    return SurrogateSmplxMesh(v_template=v_template,
                              shapedirs=np.ascontiguousarray(shapedirs),
                              faces=faces,
                              landmarks={key: int(inverse[base_id]) for key, base_id in landmarks.items()},
                              parts=parts,
                              base_arc=base_arc,
                              split_faces=split_faces,
                              order=order,
                              base_template=mean,
                              vertex_part=vertex_part,
                              smplh_ids=smplh_ids)


def _face_keys(faces: np.ndarray) -> np.ndarray:
    """One int64 key per face (its three vertex ids, each < 2^21)."""
    faces = faces.astype(np.int64)
    return (faces[:, 0] << 42) | (faces[:, 1] << 21) | faces[:, 2]


def _head_frame(mesh) -> Tuple[_Part, np.ndarray, np.ndarray]:
    """The head part, its centre (middle ring mean) and its half-axes (x: half-width, y: up, z: front)."""
    head = next(part for part in mesh.parts if part.side == 'centre' and part.tube.name == 'head')
    points = mesh.base_template[head.offset + np.arange(head.mesh.vertices.shape[1])]
    centre = mesh.base_template[head.offset + head.mesh.ring_vertex_ids[head.mesh.node_rings[1]]].mean(axis=0)
    return head, centre, points.max(axis=0) - centre


def _add_jaw_weights(mesh: SurrogateSmplxMesh, weights: np.ndarray, head_joint: int, jaw_joint: int) -> None:
    """Give the chin to the jaw: head vertices below the mouth line and in front of the head's centre.

    The jaw weight ramps from 0 to 1 over 2 cm across the mouth line (half the head height below the head's
    centre) and over the front half of the head's depth; the rest stays with the head.
    """
    head, centre, half_axes = _head_frame(mesh)
    ids = head.offset + np.arange(head.mesh.vertices.shape[1])
    points = mesh.base_template[ids]
    mouth_y = centre[1] - 0.5 * half_axes[1]
    below = np.clip(0.5 + (mouth_y - points[:, 1]) / 0.02, 0.0, 1.0)
    front = np.clip((points[:, 2] - centre[2]) / (0.5 * half_axes[2]), 0.0, 1.0)
    jaw = below * front
    weights[ids, head_joint] = 1.0 - jaw
    weights[ids, jaw_joint] = jaw


def _face_landmark_layout() -> np.ndarray:
    """(51, 2) smplx's static face landmarks (68-point layout without the 17 contour points) as (u, v).

    ``u`` is a fraction of the head's half-width (+ = the body's left), ``v`` of its half-height above the head
    centre. Order: right brow (outer to inner), left brow (inner to outer), nose bridge (top down), nose base
    (right to left), right eye and left eye (6 each, from the corner nearest the image's left, clockwise),
    outer lips (12, from the right corner over the upper lip), inner lips (8).
    """
    brow = [(-0.55, 0.36), (-0.45, 0.41), (-0.34, 0.43), (-0.23, 0.42), (-0.12, 0.39)]
    points = brow + [(-u, v) for u, v in reversed(brow)]
    points += [(0.0, v) for v in (0.22, 0.10, -0.02, -0.14)]
    points += [(u, -0.24 - 0.03 * (1 - abs(u) / 0.14)) for u in (-0.14, -0.07, 0.0, 0.07, 0.14)]
    eye = [(-0.13, 0.0), (-0.05, 0.04), (0.05, 0.04), (0.13, 0.0), (0.05, -0.04), (-0.05, -0.04)]
    for centre_u in (-0.33, 0.33):
        points += [(centre_u + du, 0.22 + dv) for du, dv in eye]
    for half_width, half_height, angles in ((0.25, 0.08, (180, 150, 115, 90, 65, 30, 0, -30, -65, -90, -115, -150)),
                                            (0.17, 0.02, (180, 135, 90, 45, 0, -45, -90, -135))):
        rad = np.radians(angles)
        points += list(zip(half_width * np.cos(rad), -0.5 + half_height * np.sin(rad)))
    return np.asarray(points)


def _contour_layout() -> np.ndarray:
    """(17, 2) (u, v) of the jaw-line contour, from the right ear's level over the chin to the left."""
    t = np.pi + np.pi * np.arange(NUM_CONTOUR_LANDMARKS) / (NUM_CONTOUR_LANDMARKS - 1)
    return np.stack([0.97 * np.cos(t), -0.05 + 0.7 * np.sin(t)], axis=1)


def _ray_hits(mesh: SurrogateSmplxMesh, uv: np.ndarray, yaw: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Face and barycentric coordinates where horizontal rays from the head's axis leave the head surface.

    A point ``(u, v)`` casts a ray at height ``centre_y + v * half_height`` from the head's vertical axis towards
    the ellipse point ``(u * half_width, sqrt(1 - u^2) * half_depth)``, turned by ``yaw`` (radians) about y; the
    outermost crossing of the head's faces (eyeballs excluded) is kept.

    Returns:
        (n,) int64 face ids, (n, 3) float64 barycentric coordinates.
    """
    head, centre, half_axes = _head_frame(mesh)
    head_index = mesh.parts.index(head)
    on_head = (mesh.vertex_part[mesh.faces] == head_index).all(axis=1)
    face_ids = np.nonzero(on_head)[0]
    a, b, c = (mesh.v_template[mesh.faces[face_ids, k]] for k in range(3))
    x, z = uv[:, 0] * half_axes[0], np.sqrt(np.clip(1.0 - uv[:, 0]**2, 0.0, None)) * half_axes[2]
    direction = np.stack([x * np.cos(yaw) + z * np.sin(yaw), np.zeros_like(x), -x * np.sin(yaw) + z * np.cos(yaw)], 1)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    origin = centre + np.stack([np.zeros_like(x), uv[:, 1] * half_axes[1], np.zeros_like(x)], axis=1)
    # Moller-Trumbore for every ray against every head face
    e1, e2 = b - a, c - a
    p = np.cross(direction[:, None], e2[None])  # (n, m, 3)
    det = np.einsum('nmc,mc->nm', p, e1)
    det = np.where(np.abs(det) < 1e-15, 1e-15, det)
    s = origin[:, None] - a[None]
    u = np.einsum('nmc,nmc->nm', s, p) / det
    q = np.cross(s, e1[None])
    v = np.einsum('nmc,nc->nm', q, direction) / det
    t = np.einsum('nmc,mc->nm', q, e2) / det
    hit = (u >= -1e-12) & (v >= -1e-12) & (u + v <= 1 + 1e-12) & (t > 0)
    if not hit.any(axis=1).all():
        raise RuntimeError('surrogate smplx: a face landmark ray misses the head')
    best = np.argmax(np.where(hit, t, -np.inf), axis=1)
    rows = np.arange(len(uv))
    bary = np.stack([1.0 - u[rows, best] - v[rows, best], u[rows, best], v[rows, best]], axis=1)
    return face_ids[best].astype(np.int64), np.clip(bary, 0.0, 1.0) / np.clip(bary, 0.0, 1.0).sum(1, keepdims=True)


def face_landmarks(mesh: SurrogateSmplxMesh) -> Dict[str, np.ndarray]:
    """smplx's SMPL-X landmark arrays for the surrogate head.

    Returns:
        ``lmk_faces_idx`` (51,) int64, ``lmk_bary_coords`` (51, 3), ``dynamic_lmk_faces_idx`` (79, 17) int64 and
        ``dynamic_lmk_bary_coords`` (79, 17, 3): the jaw-line contour for each of smplx's yaw bins (bin k < 40:
        k degrees, else 39 - k degrees), its rays turned by that yaw.
    """
    faces, bary = _ray_hits(mesh, _face_landmark_layout(), np.zeros(NUM_FACE_LANDMARKS))
    bins = np.arange(NUM_CONTOUR_BINS)
    yaw = np.radians(np.where(bins < 40, bins, 39 - bins))
    contour = np.tile(_contour_layout(), (NUM_CONTOUR_BINS, 1))
    dyn_faces, dyn_bary = _ray_hits(mesh, contour, np.repeat(yaw, NUM_CONTOUR_LANDMARKS))
    return dict(lmk_faces_idx=faces,
                lmk_bary_coords=bary,
                dynamic_lmk_faces_idx=dyn_faces.reshape(NUM_CONTOUR_BINS, NUM_CONTOUR_LANDMARKS),
                dynamic_lmk_bary_coords=dyn_bary.reshape(NUM_CONTOUR_BINS, NUM_CONTOUR_LANDMARKS, 3))


#: Names of the first 12 rows of :func:`hand_pca_basis` (before orthonormalisation, in order).
HAND_PCA_MOTIONS = ('fist', 'thumb_flex', 'spread', 'knuckle_curl', 'index_curl', 'thumb_opposition', 'middle_curl',
                    'ring_curl', 'thumb_adduction', 'distal_curl', 'thumb_tip_flex', 'index_spread')


def hand_pca_basis() -> Tuple[np.ndarray, np.ndarray]:
    """Orthonormal 45 x 45 hand "PCA" bases (left, right) in smplx's axis-angle layout (15 joints x 3).

    The surrogate hand lies along +x (left; -x right) with the palm down (-y) and the thumb forward (+z). The
    first 12 rows are the Gram-Schmidt orthonormalisation, in order, of the motions :data:`HAND_PCA_MOTIONS`
    (left hand):

    - ``fist``: all 12 joints of the four fingers curl towards the palm (about -z);
    - ``thumb_flex``: the three thumb joints flex towards the palm (about thumb x (-y));
    - ``spread``: the knuckles splay (index about -y, ring about +y by half, pinky about +y);
    - ``knuckle_curl`` / ``distal_curl``: only the knuckles / only the finger tips curl (less the fist);
    - ``index_curl``, ``middle_curl``, ``ring_curl``: one finger curls (less the fist; the pinky is the rest);
    - ``thumb_opposition``: the thumb base turns under the palm (about +x);
    - ``thumb_adduction``: the thumb base closes onto the index (about +y);
    - ``thumb_tip_flex``: the two distal thumb joints flex (less ``thumb_flex``);
    - ``index_spread``: the index knuckle alone abducts (less ``spread``).

    The remaining 33 rows complete the basis (Gram-Schmidt of the unit vectors). A unit coefficient turns the
    joints of a motion by about 1 / sqrt(joints) radians each. The right hand's basis is the mirror image
    (per joint ``(wx, -wy, -wz)``), so equal coefficients give mirror-symmetric hands.

    Returns:
        (45, 45) left and right components, rows orthonormal.
    """
    joint = {f'{finger}{k}': 3 * i + k - 1 for i, finger in enumerate(FINGER_NAMES) for k in (1, 2, 3)}
    thumb = np.array([0.75, -0.25, 0.62])
    thumb_flex_axis = np.cross(thumb, [0.0, -1.0, 0.0])
    thumb_flex_axis /= np.linalg.norm(thumb_flex_axis)
    curl, four = np.array([0.0, 0.0, -1.0]), ('index', 'middle', 'ring', 'pinky')

    def motion(*rotations):
        vector = np.zeros((NUM_HAND_JOINTS, 3))
        for names, axis in rotations:
            for name in names:
                vector[joint[name]] += axis
        return vector.reshape(-1)

    motions = {
        'fist': motion(([f'{f}{k}' for f in four for k in (1, 2, 3)], curl)),
        'thumb_flex': motion((['thumb1', 'thumb2', 'thumb3'], thumb_flex_axis)),
        'spread': motion((['index1'], [0.0, -1.0, 0.0]), (['ring1'], [0.0, 0.5, 0.0]), (['pinky1'], [0.0, 1.0, 0.0])),
        'knuckle_curl': motion(([f'{f}1' for f in four], curl)),
        'index_curl': motion((['index1', 'index2', 'index3'], curl)),
        'thumb_opposition': motion((['thumb1'], [1.0, 0.0, 0.0])),
        'middle_curl': motion((['middle1', 'middle2', 'middle3'], curl)),
        'ring_curl': motion((['ring1', 'ring2', 'ring3'], curl)),
        'thumb_adduction': motion((['thumb1'], [0.0, 1.0, 0.0])),
        'distal_curl': motion(([f'{f}3' for f in four], curl)),
        'thumb_tip_flex': motion((['thumb2', 'thumb3'], thumb_flex_axis)),
        'index_spread': motion((['index1'], [0.0, -1.0, 0.0])),
    }
    rows: List[np.ndarray] = []
    for candidate in [motions[name] for name in HAND_PCA_MOTIONS] + list(np.eye(3 * NUM_HAND_JOINTS)):
        for row in rows:
            candidate = candidate - (candidate @ row) * row
        norm = np.linalg.norm(candidate)
        if norm > 1e-6:
            rows.append(candidate / norm)
    left = np.stack(rows)
    if left.shape != (3 * NUM_HAND_JOINTS, 3 * NUM_HAND_JOINTS):
        raise RuntimeError(f'hand_pca_basis: got {left.shape[0]} rows')
    right = (left.reshape(-1, NUM_HAND_JOINTS, 3) * np.array([1.0, -1.0, -1.0])).reshape(left.shape)
    return left, right


def build_surrogate_struct(model_type: str,
                           gender: str,
                           seed: int = 0,
                           shape_space: Optional[SurrogateShapeSpace] = None) -> dict:
    """The content of one surrogate model file (smplx's SMPL / SMPL-H / SMPL-X keys, plain numpy).

    Args:
        model_type: ``'smpl'`` (24 joints), ``'smplh'`` (52 joints) or ``'smplx'`` (55 joints, 10475 vertices).
        gender: ``'neutral'``, ``'male'`` or ``'female'``.
        seed: random seed of the shape space.
        shape_space: reuse a :func:`build_shape_space` result of the same gender and seed (saves time).

    Returns:
        dict with ``v_template`` (6890, 3) f64, ``f`` (F, 3) i64, ``shapedirs`` (6890, 3, 10) f64,
        ``posedirs`` (6890, 3, 9(J-1)) f16 zeros (half size on disk), ``J_regressor`` (J, 6890) f64,
        ``weights`` (6890, J) f64, ``kintree_table`` (2, J) i64, ``joint_names``, ``J`` (J, 3) rest joints,
        ``surrogate_info`` (dict) and, for SMPL-H, ``hands_components{l,r}`` eye(45) and ``hands_mean{l,r}`` zeros(45).
        SMPL-X (10475 vertices): ``shapedirs`` (V, 3, 20) = 10 betas then 10 zero expression directions,
        ``hands_components{l,r}`` :func:`hand_pca_basis`, ``hands_mean{l,r}`` zeros(45) and the landmark arrays of
        :func:`face_landmarks`.
    """
    if model_type not in MODEL_TYPES:
        raise ValueError(f'Surrogate body: model_type must be one of {MODEL_TYPES}, got {model_type!r}.')
    space = shape_space if shape_space is not None else build_shape_space(gender, seed)
    if model_type == 'smplx':
        return _smplx_struct(space, gender, seed)
    weights, regressor = _skinning(space, model_type)
    parents = kintree_parents(model_type)
    num_joints = len(parents)
    struct = {
        'v_template': space.v_template,
        'f': space.faces,
        'shapedirs': space.shapedirs,
        'posedirs': np.zeros((NUM_VERTICES, 3, 9 * (num_joints - 1)), dtype=np.float16),
        'J_regressor': regressor,
        'weights': weights,
        'kintree_table': np.stack([parents, np.arange(num_joints)]).astype(np.int64),
        'J': regressor @ space.v_template,
        'joint_names': joint_names(model_type),
        'surrogate_info': {
            'generator':
            GENERATOR_NAME,
            'version':
            SURROGATE_VERSION,
            'model_type':
            model_type,
            'gender':
            gender,
            'seed':
            seed,
            'num_shape_samples':
            NUM_SHAPE_SAMPLES,
            'pca_std':
            space.pca_std.tolist(),
            'note':
            'licence-free SURROGATE body model (procedural mannequin), not SMPL; numbers obtained with it '
            'are not comparable to SMPL/SMPL-H results',
        },
    }
    if model_type == 'smplh':
        for side in 'lr':
            struct[f'hands_components{side}'] = np.eye(45)
            struct[f'hands_mean{side}'] = np.zeros(45)
    return struct


def _smplx_struct(space: SurrogateShapeSpace, gender: str, seed: int) -> dict:
    """:func:`build_surrogate_struct` for SMPL-X."""
    mesh = build_smplx_mesh(space)
    weights, regressor = _skinning(mesh, 'smplx')
    parents = kintree_parents('smplx')
    num_joints = len(parents)
    num_vertices = len(mesh.v_template)
    shapedirs = np.concatenate([mesh.shapedirs, np.zeros((num_vertices, 3, NUM_EXPRESSION))], axis=2)
    left, right = hand_pca_basis()
    return {
        'v_template': mesh.v_template,
        'f': mesh.faces,
        'shapedirs': shapedirs,
        'posedirs': np.zeros((num_vertices, 3, 9 * (num_joints - 1)), dtype=np.float16),
        'J_regressor': regressor,
        'weights': weights,
        'kintree_table': np.stack([parents, np.arange(num_joints)]).astype(np.int64),
        'J': regressor @ mesh.v_template,
        'joint_names': joint_names('smplx'),
        'hands_componentsl': left,
        'hands_componentsr': right,
        'hands_meanl': np.zeros(45),
        'hands_meanr': np.zeros(45),
        **face_landmarks(mesh),
        'surrogate_info': {
            'generator': GENERATOR_NAME,
            'version': SURROGATE_VERSION,
            'model_type': 'smplx',
            'gender': gender,
            'seed': seed,
            'num_shape_samples': len(space.coefficients),
            'pca_std': space.pca_std.tolist(),
            'hand_pca_motions': list(HAND_PCA_MOTIONS),
            'note': 'licence-free SURROGATE body model (procedural mannequin, the SMPL-H surrogate with SMPL-X '
                    "joints and vertex count), not SMPL-X; numbers obtained with it are not comparable to SMPL-X "
                    'results; expression directions are zeros',
        },
    }


def _model_file(out_dir: str, model_type: str, gender: str) -> str:
    return osp.join(out_dir, model_type, f'{model_type.upper()}_{gender.upper()}.{MODEL_EXTENSIONS[model_type]}')


def write_surrogate_body(out_dir: str,
                         model_types: Sequence[str] = MODEL_TYPES,
                         genders: Sequence[str] = GENDERS,
                         seed: int = 0,
                         progress: bool = False) -> List[str]:
    """Write surrogate model files in smplx's layout.

    Writes ``out_dir/smpl/SMPL_{GENDER}.pkl``, ``out_dir/smplh/SMPLH_{GENDER}.pkl`` (plain numpy pickles that
    ``smplx.SMPL`` / ``smplx.SMPLH(..., use_pca=False, flat_hand_mean=True)`` load directly) and a BODY_25
    regressor per model type (``smpl/J_regressor_body25.txt``, ``smplh/J_regressor_body25_smplh.txt``), and
    ``out_dir/smplx/SMPLX_{GENDER}.npz`` (compressed npz that ``smplx.SMPLX(..., ext='npz')`` loads, with or
    without ``use_pca``; no BODY_25 file, the body model builds that regressor itself).

    Args:
        out_dir: output folder (created).
        model_types: subset of ``('smpl', 'smplh', 'smplx')``.
        genders: subset of ``('neutral', 'male', 'female')``.
        seed: random seed of the shape spaces.
        progress: show a tqdm progress bar.

    Returns:
        Paths of the written files.
    """
    for model_type in model_types:
        if model_type not in MODEL_TYPES:
            raise ValueError(f'write_surrogate_body: model type must be in {MODEL_TYPES}, got {model_type!r}.')
    paths = []
    jobs = [(gender, model_type) for gender in genders for model_type in model_types]
    space, space_gender = None, None
    for gender, model_type in tqdm(jobs, desc='surrogate body models', disable=not progress):
        if space_gender != gender:
            space, space_gender = build_shape_space(gender, seed), gender
        struct = build_surrogate_struct(model_type, gender, seed, shape_space=space)
        path = _model_file(out_dir, model_type, gender)
        os.makedirs(osp.dirname(path), exist_ok=True)
        if path.endswith('.npz'):
            np.savez_compressed(path, **struct)
        else:
            with open(path, 'wb') as f:
                pickle.dump(struct, f, protocol=4)
        paths.append(path)
        if model_type not in BODY25_REGRESSOR_FILES:
            continue
        txt = osp.join(out_dir, model_type, BODY25_REGRESSOR_FILES[model_type])
        if txt not in paths:
            regressor = build_body25_regressor(struct['J_regressor'], space.landmarks)
            paths.append(save_joint_regressor_txt(txt, regressor))
    return paths


def _read_marker(root: str) -> Optional[dict]:
    marker = osp.join(root, MARKER_FILE)
    if not osp.isfile(marker):
        return None
    with open(marker) as f:
        return json.load(f)


def _missing_types(info: dict, model_types: Sequence[str]) -> List[str]:
    """The model types of ``model_types`` with no file in a marker's file list."""
    return [t for t in model_types if not any(p.startswith(f'{t}/') for p in info['files'])]


def _is_complete(root: str, model_types: Sequence[str] = ()) -> bool:
    """``root`` holds a complete surrogate of this version (with files of every type in ``model_types``)."""
    info = _read_marker(root)
    if info is None or info.get('version') != SURROGATE_VERSION:
        return False
    return all(osp.isfile(osp.join(root, p)) for p in info['files']) and not _missing_types(info, model_types)


def _write_marker(folder: str, files: List[str]) -> None:
    """Write the marker atomically (temporary file renamed into place)."""
    tmp = osp.join(folder, f'.{MARKER_FILE}.{uuid.uuid4().hex[:8]}')
    with open(tmp, 'w') as f:
        json.dump({'version': SURROGATE_VERSION, 'files': files}, f, indent=1)
    os.replace(tmp, osp.join(folder, MARKER_FILE))


def _add_model_types(root: str, model_types: Sequence[str]) -> str:
    """Add the missing ``model_types`` to a complete surrogate folder (under a file lock; see ensure)."""
    with open(osp.join(root, '.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        info = _read_marker(root)
        missing = _missing_types(info, model_types)
        if not missing:  # a concurrent caller added them
            return root
        print_log(f'Adding the licence-free surrogate {missing} to {root} (once) ...', logger='current')
        tmp = tempfile.mkdtemp(prefix=f'.add-{uuid.uuid4().hex[:8]}-', dir=root)
        try:
            paths = write_surrogate_body(tmp, missing)
            for model_type in missing:
                target = osp.join(root, model_type)
                if osp.isdir(target):  # left by an interrupted addition (not in the marker)
                    shutil.rmtree(target)
                os.chmod(osp.join(tmp, model_type), 0o755)
                os.replace(osp.join(tmp, model_type), target)
            _write_marker(root, info['files'] + [osp.relpath(p, tmp) for p in paths])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def ensure_surrogate_body(root: Optional[str] = None, model_types: Sequence[str] = DEFAULT_MODEL_TYPES) -> str:
    """Folder with the surrogate files of ``model_types`` for the three genders, built on first use.

    The first build (a few seconds per model type) goes to a temporary sibling folder that is renamed into
    place, so concurrent callers (pytest-xdist workers) never see a half-written folder. A marker file
    ``surrogate_info.json`` records the version and the files. Model types asked for later (SMPL-X, which
    ``SMPLX('surrogate')`` asks for) are added to the same folder under a file lock: written to a temporary
    folder inside it, moved into place, then the marker is replaced.

    Args:
        root: target folder; default ``cache_dir('body_models') / surrogate_v{SURROGATE_VERSION}``
            (``$HOIRECON_CACHE`` or ``~/.cache/hoirecon``).
        model_types: subset of :data:`MODEL_TYPES` that must be there (default ``('smpl', 'smplh')``).

    Returns:
        The folder, usable as ``model_path`` of :class:`hoirecon.models.body_models.SMPL` / ``SMPLH`` / ``SMPLX``.

    Raises:
        FileExistsError: ``root`` exists, is not empty and holds no complete surrogate of this version.
    """
    unknown = [t for t in model_types if t not in MODEL_TYPES]
    if unknown:
        raise ValueError(f'ensure_surrogate_body: model types must be in {MODEL_TYPES}, got {unknown}.')
    if root is None:
        root = osp.join(cache_dir('body_models'), f'surrogate_v{SURROGATE_VERSION}')
    root = osp.abspath(root)
    if _is_complete(root, model_types):
        return root
    if _is_complete(root):
        return _add_model_types(root, model_types)
    parent = osp.dirname(root)
    os.makedirs(parent, exist_ok=True)
    print_log(f'Building the licence-free surrogate body model into {root} (once) ...', logger='current')
    tmp = tempfile.mkdtemp(prefix=f'.{osp.basename(root)}.tmp-{uuid.uuid4().hex[:8]}-', dir=parent)
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is shared like any other folder
    try:
        paths = write_surrogate_body(tmp, tuple(model_types))
        _write_marker(tmp, [osp.relpath(p, tmp) for p in paths])
        try:
            os.replace(tmp, root)
        except OSError:
            if not _is_complete(root):  # neither ours nor a concurrent build landed
                raise FileExistsError(f'{root} exists and does not hold a complete surrogate body model '
                                      f'(version {SURROGATE_VERSION}); remove it or pass another root.') from None
    finally:
        if osp.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    if not _is_complete(root, model_types):  # a concurrent build with other model types landed first
        return _add_model_types(root, model_types)
    return root
