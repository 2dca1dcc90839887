"""Continuous 30 fps motion of the synthetic world: smooth body and object trajectories with the contact kept.

The single-frame world poses a body and an object for a normalised time ``t`` of a motion plan
(:func:`hoirecon.synthetic.scene.interaction_state`: two-bone IK, contact placement). A sequence evaluates it only
at a few *key* frames (about every :data:`KEY_SPACING` frames) and fills the frames in between:

* body: every joint's local rotation follows a cubic rotation spline through its key rotations
  (:class:`scipy.spatial.transform.RotationSpline`, continuous angular velocity and acceleration, no axis-angle
  wrap-around), the translation a natural cubic spline;
* object held in the hands (carry / lift / hold): its pose *relative to the hands* (the gripping wrist, or the frame
  spanned by both wrists and the chest) is interpolated the same way and composed with the interpolated hands, so
  the object is carried rigidly by the hands between key frames;
* object on the floor (push / lean / sit): its pose in the scene is interpolated (keys are yaw-only rotations at a
  constant height, so it stays on the floor).

The plan's time runs over ``max(duration, MOTION_SECONDS)`` seconds, so a short sequence is a slow excerpt of a
motion rather than the whole motion squeezed into a few frames. Everything is a pure function of the sequence's
seeded random stream (the same one as the single-frame world, :meth:`FrameMaker.sequence_context`).

Frames are named like BEHAVE's 30 fps videos: frame ``i`` is ``f't{3.0 + i / 30:08.3f}'`` (``t0003.000``,
``t0003.033``, ...).
"""
from dataclasses import dataclass

import numpy as np
import torch
from scipy.interpolate import CubicSpline
from scipy.spatial.transform import Rotation, RotationSpline

from hoirecon.datasets.behave_io import frame_folder_name, transform_smplh_params
from .frames import FOOT_PARTS, FrameMaker, SequenceContext
from .generate import SequenceSpec
from .poses import JOINT, NUM_JOINTS, PARENTS
from .scene import HELD_ACTIONS, _grip, interaction_state

#: Frames per second of the BEHAVE-extended videos and fits.
FPS = 30
#: Seconds of the first frame (BEHAVE's video2images starts at 3.0 s).
FIRST_FRAME_SECONDS = 3.0
#: Frames between two key poses (solved by IK); the frames in between are interpolated.
KEY_SPACING = 10
#: A motion plan's normalised time t in [0, 1] spans at least this many seconds.
MOTION_SECONDS = 4.0


def frame_times(num_frames: int, first_index: int = 0) -> list:
    """``['t0003.000', 't0003.033', ...]``: names of frames ``first_index ..`` at 30 fps from 3.0 s."""
    return [frame_folder_name(FIRST_FRAME_SECONDS + (first_index + i) / FPS) for i in range(num_frames)]


def key_frames(num_frames: int, spacing: int = KEY_SPACING) -> np.ndarray:
    """(K,) float64 frame positions of the key poses: evenly spread over ``[0, num_frames - 1]``, about ``spacing``
    frames apart, first and last frame included (a single key for a one-frame sequence)."""
    if num_frames <= 1:
        return np.zeros(1)
    count = max(2, int(round((num_frames - 1) / spacing)) + 1)
    return np.linspace(0.0, num_frames - 1.0, count)


def motion_time(frames: np.ndarray, num_frames: int, motion_seconds: float = MOTION_SECONDS) -> np.ndarray:
    """Normalised plan time t of (fractional) frame positions: seconds over ``max(duration, motion_seconds)``."""
    duration = max((num_frames - 1) / FPS, motion_seconds)
    return np.asarray(frames, np.float64) / FPS / duration


# ----------------------------------------------------------------------------- interpolation helpers
def interpolate_rotations(key_times: np.ndarray, key_rotations: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Cubic rotation splines through key rotations, one per column.

    Args:
        key_times: (K,) strictly increasing.
        key_rotations: (K, M, 3, 3) rotation matrices (M independent rotations, e.g. joints).
        times: (N,) query times within ``[key_times[0], key_times[-1]]``.

    Returns:
        (N, M, 3, 3) float64 rotation matrices; equal to the keys at the key times.
    """
    key_rotations = np.asarray(key_rotations, np.float64)
    if len(key_times) == 1:
        return np.repeat(key_rotations, len(times), axis=0)
    out = np.empty((len(times), key_rotations.shape[1], 3, 3))
    for column in range(key_rotations.shape[1]):
        spline = RotationSpline(key_times, Rotation.from_matrix(key_rotations[:, column]))
        out[:, column] = spline(times).as_matrix()
    return out


def interpolate_vectors(key_times: np.ndarray, key_values: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Natural cubic splines through (K, D) key values at (N,) times (linear for two keys): (N, D) float64."""
    key_values = np.asarray(key_values, np.float64)
    if len(key_times) == 1:
        return np.repeat(key_values, len(times), axis=0)
    return CubicSpline(key_times, key_values, axis=0, bc_type='natural')(times)


def batch_forward_kinematics(rest_joints: np.ndarray, local_rotations: np.ndarray, root_positions: np.ndarray) -> tuple:
    """:func:`hoirecon.synthetic.poses.forward_kinematics` for N poses at once.

    Args:
        rest_joints: (52, 3) rest joints.
        local_rotations: (N, 52, 3, 3).
        root_positions: (N, 3) posed root joints (``J_0 + trans``).

    Returns:
        ``(global_rotations (N, 52, 3, 3), joints (N, 52, 3))``.
    """
    rest = np.asarray(rest_joints, np.float64)[:NUM_JOINTS]
    global_rot = np.empty_like(local_rotations)
    joints = np.empty(local_rotations.shape[:2] + (3, ))
    global_rot[:, 0], joints[:, 0] = local_rotations[:, 0], root_positions
    for i in range(1, NUM_JOINTS):
        parent = PARENTS[i]
        global_rot[:, i] = global_rot[:, parent] @ local_rotations[:, i]
        joints[:, i] = joints[:, parent] + global_rot[:, parent] @ (rest[i] - rest[parent])
    return global_rot, joints


def _basis(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations whose first column is along ``first`` (N, 3) and second in the plane of both."""
    a = first / np.linalg.norm(first, axis=-1, keepdims=True)
    b = second - np.sum(second * a, axis=-1, keepdims=True) * a
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.stack([a, b, np.cross(a, b)], axis=-1)


def hand_anchor(global_rotations: np.ndarray, joints: np.ndarray, hands: tuple) -> tuple:
    """The frame that carries a held object: ``(rotations (N, 3, 3), origins (N, 3))``.

    One hand: its wrist. Two hands: origin halfway between the wrists, first axis from the left to the right wrist,
    second axis the chest's up direction.
    """
    if len(hands) == 1:
        wrist = JOINT[f'{hands[0]}_wrist']
        return global_rotations[:, wrist], joints[:, wrist]
    left, right = joints[:, JOINT['left_wrist']], joints[:, JOINT['right_wrist']]
    up = global_rotations[:, JOINT['spine3']] @ np.array([0.0, 1.0, 0.0])
    return _basis(right - left, up), 0.5 * (left + right)


# ----------------------------------------------------------------------------- the motion
@dataclass
class SequenceMotion:
    """Per-frame ground truth of one synthetic sequence in the BEHAVE world (Kinect 1) frame.

    Attributes:
        name: Sequence name.
        poses: (N, 156) float32 SMPL-H axis-angle.
        betas: (N, 10) float32, the same row in every frame.
        trans: (N, 3) float32 metres.
        object_angles: (N, 3) float32 axis-angle; object vertices ``R(angle) v + trans`` (centred template).
        object_trans: (N, 3) float32 metres.
        frame_times: (N,) frame names ``'t0003.000'``, ``'t0003.033'``, ...
        key_frames: (K,) float64 frame positions of the IK key poses.
    """
    name: str
    poses: np.ndarray
    betas: np.ndarray
    trans: np.ndarray
    object_angles: np.ndarray
    object_trans: np.ndarray
    frame_times: list
    key_frames: np.ndarray

    def __len__(self) -> int:
        return len(self.poses)

    def slice(self, start: int, stop: int) -> dict:
        """The BEHAVE-extended arrays of frames ``[start, stop)``: ``{'smpl': {...}, 'object': {...}}`` with the
        keys of ``smpl_fit_all.npz`` (poses, betas, trans, frame_times) and ``object_fit_all.npz`` (angles, trans,
        frame_times)."""
        times = np.asarray(self.frame_times[start:stop])
        return {
            'smpl': dict(poses=self.poses[start:stop], betas=self.betas[start:stop], trans=self.trans[start:stop],
                         frame_times=times),
            'object': dict(angles=self.object_angles[start:stop], trans=self.object_trans[start:stop],
                           frame_times=times.copy()),
        }


def _rotation_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Angle (radians) between two rotation matrices."""
    return float(np.arccos(np.clip((np.trace(a.T @ b) - 1.0) / 2.0, -1.0, 1.0)))


def continuous_forearm_twist(rest_joints: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Key poses with the forearm twist kept continuous from key to key.

    The IK gives half of the hand's twist to the elbow with the twist angle wrapped to (-pi, pi], so between two
    keys the elbow and the wrist can each turn by about 180 degrees while the hand stays put; a spline through such
    keys spins the forearm. For every key after the first, the elbow is turned by 180 degrees about the forearm and
    the wrist back by the same (the hand and every joint position unchanged) when that brings both closer to the
    previous key.

    Args:
        rest_joints: (52, 3) rest joints.
        local: (K, 52, 3, 3) local rotations of the keys.

    Returns:
        (K, 52, 3, 3) corrected copy.
    """
    local = np.array(local, np.float64)
    for side in ('left', 'right'):
        elbow, wrist = JOINT[f'{side}_elbow'], JOINT[f'{side}_wrist']
        axis = rest_joints[wrist] - rest_joints[elbow]
        flip = Rotation.from_rotvec(np.pi * axis / np.linalg.norm(axis)).as_matrix()
        for k in range(1, len(local)):
            turned = (local[k, elbow] @ flip, flip.T @ local[k, wrist])
            keep = (_rotation_distance(local[k - 1, elbow], local[k, elbow]) +
                    _rotation_distance(local[k - 1, wrist], local[k, wrist]))
            turn = (_rotation_distance(local[k - 1, elbow], turned[0]) +
                    _rotation_distance(local[k - 1, wrist], turned[1]))
            if turn < keep:
                local[k, elbow], local[k, wrist] = turned
    return local


def _key_states(context: SequenceContext, times: np.ndarray) -> dict:
    """Scene-frame key poses: local rotations (K, 52, 3, 3), trans (K, 3), object rotation and translation."""
    states = [interaction_state(context.plan, context.body, context.obj, float(t)) for t in times]
    poses = np.stack([s.pose for s in states]).astype(np.float64)
    trans = np.stack([s.trans for s in states]).astype(np.float64)
    obj_trans = np.stack([s.object_translation for s in states])
    if context.plan.action in HELD_ACTIONS:  # the soles on the floor, the held object comes along (as frames.py)
        with torch.no_grad():
            verts = context.model.forward_axis_angle(context.betas.expand(len(states), -1),
                                                     torch.from_numpy(poses).float(),
                                                     torch.from_numpy(trans).float()).vertices.numpy()
        lift = -verts[:, np.isin(context.labels, FOOT_PARTS), 1].min(axis=1)
        trans[:, 1] += lift
        obj_trans[:, 1] += lift
    local = Rotation.from_rotvec(poses.reshape(-1, 3)).as_matrix().reshape(len(states), NUM_JOINTS, 3, 3)
    return dict(local=continuous_forearm_twist(context.body.rest_joints, local), trans=trans,
                object_rotation=np.stack([s.object_rotation for s in states]), object_translation=obj_trans)


def _held_hands(context: SequenceContext) -> tuple:
    """Hands that carry the object (empty when the object stays on the floor)."""
    if context.plan.action not in HELD_ACTIONS:
        return ()
    return (context.plan.hand_side, ) if _grip(context.obj, context.plan.action) == 'top' else ('left', 'right')


def sequence_motion(context: SequenceContext, num_frames: int, key_spacing: int = KEY_SPACING,
                    motion_seconds: float = MOTION_SECONDS) -> SequenceMotion:
    """Continuous motion of a sequence: IK key poses every ``key_spacing`` frames, splines in between.

    Args:
        context: The sequence (:meth:`FrameMaker.sequence_context`: body, object, motion plan, camera rig).
        num_frames: Frames at 30 fps.
        key_spacing: Frames between key poses.
        motion_seconds: The plan's normalised time spans ``max(duration, motion_seconds)`` seconds.

    Returns:
        :class:`SequenceMotion` in the world (Kinect 1) frame.
    """
    if num_frames < 1:
        raise ValueError(f'a sequence needs at least one frame, got {num_frames}.')
    keys = key_frames(num_frames, key_spacing)
    frames = np.arange(num_frames, dtype=np.float64)
    key = _key_states(context, motion_time(keys, num_frames, motion_seconds))
    rest = context.body.rest_joints
    local = interpolate_rotations(keys, key['local'], frames)
    trans = interpolate_vectors(keys, key['trans'], frames)
    hands = _held_hands(context)
    if hands:  # the object keeps its pose relative to the hands
        key_rot, key_joints = batch_forward_kinematics(rest, key['local'], key['trans'] + rest[0])
        anchor_r, anchor_t = hand_anchor(key_rot, key_joints, hands)
        rel_r = np.swapaxes(anchor_r, 1, 2) @ key['object_rotation']
        rel_t = np.einsum('kji,kj->ki', anchor_r, key['object_translation'] - anchor_t)
        glob, joints = batch_forward_kinematics(rest, local, trans + rest[0])
        frame_r, frame_t = hand_anchor(glob, joints, hands)
        obj_r = frame_r @ interpolate_rotations(keys, rel_r[:, None], frames)[:, 0]
        obj_t = frame_t + np.einsum('nij,nj->ni', frame_r, interpolate_vectors(keys, rel_t, frames))
    else:
        obj_r = interpolate_rotations(keys, key['object_rotation'][:, None], frames)[:, 0]
        obj_t = interpolate_vectors(keys, key['object_translation'], frames)
    pose_scene = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_rotvec().reshape(num_frames, -1)
    rot_ws, trans_ws = context.rig.scene_to_world[:3, :3], context.rig.scene_to_world[:3, 3]
    poses, trans_w = transform_smplh_params(pose_scene, trans, context.rest_root, rot_ws, trans_ws)
    angles = Rotation.from_matrix(rot_ws @ obj_r).as_rotvec()
    betas = np.repeat(context.betas.numpy().astype(np.float32), num_frames, axis=0)
    return SequenceMotion(name=context.spec.name, poses=poses.astype(np.float32), betas=betas,
                          trans=trans_w.astype(np.float32), object_angles=angles.astype(np.float32),
                          object_trans=(obj_t @ rot_ws.T + trans_ws).astype(np.float32),
                          frame_times=frame_times(num_frames), key_frames=keys)


class MotionMaker(FrameMaker):
    """A :class:`FrameMaker` that only plans motion (no renderer): sequence contexts and :func:`sequence_motion`.

    Args:
        params: Generation parameters with ``out_dir`` (holding ``body_models/`` and ``objects/``), ``seed`` and
            ``image_size``.
    """

    def __init__(self, params: dict):  # not FrameMaker.__init__: that opens an EGL context
        self.params = params
        self.out_dir = params['out_dir']
        self.renderer = None
        self._models, self._objects = {}, {}

    def close(self):
        pass

    def motion(self, spec: SequenceSpec, num_frames: int, key_spacing: int = KEY_SPACING) -> SequenceMotion:
        return sequence_motion(self.sequence_context(spec), num_frames, key_spacing)


def posed_body_vertices(context: SequenceContext, motion: SequenceMotion, index=slice(None)) -> np.ndarray:
    """(n, V, 3) float32 world vertices of the body model posed by the motion's fits (frames ``index``)."""
    with torch.no_grad():
        return context.model.forward_axis_angle(torch.from_numpy(motion.betas[index]),
                                                torch.from_numpy(motion.poses[index]),
                                                torch.from_numpy(motion.trans[index])).vertices.numpy()
