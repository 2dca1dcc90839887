"""Posing an SMPL-H skeleton by bone directions and two-bone IK (numpy, no body model needed).

The skeleton follows smplx's kinematic tree (``hoirecon.structures.body_skeletons``).
Every joint's rest frame is aligned with the body frame (y up, +z facing,
+x = the body's left), so a local rotation ``R_i`` of joint ``i`` composes as
``G_i = G_parent(i) R_i`` and the posed joints are
``p_i = p_parent + G_parent (J_i - J_parent)`` with ``p_0 = J_0 + trans``:
exactly what SMPL's linear blend skinning does to its joints. The pose library
uses this to put hands on an object's surface and feet on the floor.
"""
import numpy as np
from scipy.spatial.transform import Rotation

from hoirecon.structures.body_skeletons import SMPLH_JOINT_NAMES, SMPLH_PARENTS

JOINT = {name: index for index, name in enumerate(SMPLH_JOINT_NAMES)}
PARENTS = np.asarray(SMPLH_PARENTS, dtype=np.int64)
NUM_JOINTS = len(SMPLH_JOINT_NAMES)
FINGERS = ('index', 'middle', 'pinky', 'ring', 'thumb')
#: Joint names of one side's limbs: (upper, middle, end) of the arm and the leg.
ARM = {side: (f'{side}_shoulder', f'{side}_elbow', f'{side}_wrist') for side in ('left', 'right')}
LEG = {side: (f'{side}_hip', f'{side}_knee', f'{side}_ankle') for side in ('left', 'right')}
SIDE_SIGN = {'left': 1.0, 'right': -1.0}  # +x is the body's left


def axis_rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """(3, 3) rotation by ``angle`` radians about ``axis`` (need not be unit)."""
    axis = np.asarray(axis, dtype=np.float64)
    return Rotation.from_rotvec(axis / np.linalg.norm(axis) * angle).as_matrix()


def swing_rotation(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The smallest rotation (3, 3) that turns direction ``src`` into direction ``dst``."""
    src = np.asarray(src, np.float64) / np.linalg.norm(src)
    dst = np.asarray(dst, np.float64) / np.linalg.norm(dst)
    axis = np.cross(src, dst)
    sin, cos = np.linalg.norm(axis), float(np.dot(src, dst))
    if sin < 1e-9:
        if cos > 0:
            return np.eye(3)
        helper = np.array([1.0, 0, 0]) if abs(src[0]) < 0.9 else np.array([0, 1.0, 0])
        return axis_rotation(np.cross(src, helper), np.pi)
    return axis_rotation(axis, np.arctan2(sin, cos))


def frame_rotation(src_a: np.ndarray, src_b: np.ndarray, dst_a: np.ndarray, dst_b: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) taking direction ``src_a`` exactly to ``dst_a`` and ``src_b`` as near as it can to ``dst_b``."""

    def basis(a, b):
        a = a / np.linalg.norm(a)
        b = b - np.dot(b, a) * a
        b = b / np.linalg.norm(b)
        return np.stack([a, b, np.cross(a, b)], axis=1)

    return basis(np.asarray(dst_a, np.float64), np.asarray(dst_b, np.float64)) @ basis(
        np.asarray(src_a, np.float64), np.asarray(src_b, np.float64)).T


def two_bone_ik(root: np.ndarray, target: np.ndarray, upper_length: float, lower_length: float,
                pole: np.ndarray) -> tuple:
    """Middle-joint position of a two-bone chain reaching for ``target``.

    Args:
        root: (3,) position of the chain's first joint (shoulder or hip).
        target: (3,) wanted position of the end joint (wrist or ankle).
        upper_length, lower_length: Bone lengths in metres.
        pole: (3,) direction the middle joint (elbow or knee) should point to.

    Returns:
        ``(middle (3,), end (3,))``; ``end`` equals ``target`` unless the target
        is out of reach, then it is the closest reachable point on the line.
    """
    offset = np.asarray(target, np.float64) - root
    distance = np.linalg.norm(offset)
    axis = offset / max(distance, 1e-9)
    reach = np.clip(distance, abs(upper_length - lower_length) + 1e-4, upper_length + lower_length - 1e-4)
    cos_root = (upper_length**2 + reach**2 - lower_length**2) / (2 * upper_length * reach)
    bend = np.asarray(pole, np.float64) - np.dot(pole, axis) * axis
    if np.linalg.norm(bend) < 1e-9:
        bend = np.cross(axis, [1.0, 0, 0]) if abs(axis[0]) < 0.9 else np.cross(axis, [0, 1.0, 0])
    bend /= np.linalg.norm(bend)
    middle = root + upper_length * (cos_root * axis + np.sqrt(max(1 - cos_root**2, 0.0)) * bend)
    return middle, root + reach * axis


def forward_kinematics(rest_joints: np.ndarray, local_rotations: np.ndarray, root_position: np.ndarray) -> tuple:
    """Global joint rotations and positions of the posed skeleton.

    Args:
        rest_joints: (52, 3) rest joints J (metres) for the body's betas.
        local_rotations: (52, 3, 3) rotation of each joint relative to its parent.
        root_position: (3,) posed root (pelvis) position ``J_0 + trans``.

    Returns:
        ``(global_rotations (52, 3, 3), joints (52, 3))``.
    """
    global_rot = np.empty_like(local_rotations)
    joints = np.empty_like(rest_joints)
    global_rot[0], joints[0] = local_rotations[0], root_position
    for i in range(1, NUM_JOINTS):
        parent = PARENTS[i]
        global_rot[i] = global_rot[parent] @ local_rotations[i]
        joints[i] = joints[parent] + global_rot[parent] @ (rest_joints[i] - rest_joints[parent])
    return global_rot, joints


class PoseBuilder:
    """Builds an SMPL-H pose top-down: set a joint's global orientation, aim bones, solve limbs.

    Set parents before children: aiming a bone keeps the joint's ancestors fixed
    and re-poses its descendants.

    Args:
        rest_joints: (52, 3) rest joints of the body (metres, y up).
    """

    def __init__(self, rest_joints: np.ndarray):
        self.rest = np.asarray(rest_joints, dtype=np.float64)[:NUM_JOINTS]
        self.local = np.tile(np.eye(3), (NUM_JOINTS, 1, 1))
        self.root_position = self.rest[0].copy()

    def bone_length(self, joint: str, child: str) -> float:
        return float(np.linalg.norm(self.rest[JOINT[child]] - self.rest[JOINT[joint]]))

    def rest_direction(self, joint: str, child: str) -> np.ndarray:
        vec = self.rest[JOINT[child]] - self.rest[JOINT[joint]]
        return vec / np.linalg.norm(vec)

    def solve(self) -> tuple:
        """``(global_rotations (52, 3, 3), joints (52, 3))`` of the current pose."""
        return forward_kinematics(self.rest, self.local, self.root_position)

    def set_local(self, joint: str, rotation: np.ndarray):
        self.local[JOINT[joint]] = rotation

    def set_global(self, joint: str, rotation: np.ndarray):
        """Give ``joint`` the global orientation ``rotation`` (3, 3), ancestors unchanged."""
        index = JOINT[joint]
        parent_rot = self.solve()[0][PARENTS[index]] if PARENTS[index] >= 0 else np.eye(3)
        self.local[index] = parent_rot.T @ rotation

    def aim(self, joint: str, child: str, direction: np.ndarray):
        """Turn ``joint`` by the smallest rotation that points the bone ``joint -> child`` along ``direction``."""
        current = self.solve()[0][JOINT[joint]]
        self.set_global(joint, swing_rotation(current @ self.rest_direction(joint, child), direction) @ current)

    def twist(self, joint: str, child: str, angle: float):
        """Rotate ``joint`` about its own bone axis (towards ``child``) by ``angle`` radians."""
        self.local[JOINT[joint]] = self.local[JOINT[joint]] @ axis_rotation(self.rest_direction(joint, child), angle)

    def solve_limb(self, chain: tuple, target: np.ndarray, pole: np.ndarray) -> np.ndarray:
        """Two-bone IK of ``chain = (upper, middle, end)`` towards ``target``; returns the reached end position."""
        upper, middle, end = chain
        root = self.solve()[1][JOINT[upper]]
        mid_pos, end_pos = two_bone_ik(root, target, self.bone_length(upper, middle), self.bone_length(middle, end),
                                       pole)
        self.aim(upper, middle, mid_pos - root)
        self.aim(middle, end, end_pos - mid_pos)
        return end_pos

    def orient_hand(self, side: str, finger_direction: np.ndarray, palm_normal: np.ndarray):
        """Point the hand's fingers along ``finger_direction`` with the palm facing ``palm_normal``.

        Half of the twist about the forearm goes to the elbow so the wrist does
        not wring like a candy wrapper.
        """
        wrist, elbow = f'{side}_wrist', f'{side}_elbow'
        rest_fingers, rest_palm = self.rest_hand_frame(side)
        target = frame_rotation(rest_fingers, rest_palm, finger_direction, palm_normal)
        global_rot = self.solve()[0]
        relative = global_rot[JOINT[elbow]].T @ target  # wrist rotation in the forearm's frame
        forearm_axis = self.rest_direction(elbow, wrist)
        twist = _twist_angle(relative, forearm_axis)
        self.twist(elbow, wrist, 0.5 * twist)
        self.set_global(wrist, target)

    def rest_hand_frame(self, side: str) -> tuple:
        """Rest finger direction (wrist -> middle knuckle) and palm normal (pointing down in the T-pose)."""
        wrist = self.rest[JOINT[f'{side}_wrist']]
        fingers = self.rest_direction(f'{side}_wrist', f'{side}_middle1')
        across = np.cross(self.rest[JOINT[f'{side}_index1']] - wrist, self.rest[JOINT[f'{side}_pinky1']] - wrist)
        palm = across - np.dot(across, fingers) * fingers
        palm /= np.linalg.norm(palm)
        return fingers, (-palm if palm[1] > 0 else palm)

    def curl_fingers(self, side: str, angle: float, thumb_angle: float = None):
        """Bend every finger joint of one hand towards the palm by ``angle`` radians (thumb by ``thumb_angle``)."""
        fingers, palm = self.rest_hand_frame(side)
        axis = np.cross(fingers, palm)
        for finger in FINGERS:
            bend = angle if finger != 'thumb' else (0.4 * angle if thumb_angle is None else thumb_angle)
            for k in (1, 2, 3):
                self.local[JOINT[f'{side}_{finger}{k}']] = axis_rotation(axis, bend)

    def axis_angle(self) -> np.ndarray:
        """(156,) float32 SMPL-H pose (global orient, 21 body, 15 + 15 hand joints), axis-angle."""
        return Rotation.from_matrix(self.local).as_rotvec().reshape(-1).astype(np.float32)

    def translation(self) -> np.ndarray:
        """(3,) float32 SMPL ``trans``: the posed root minus the rest root joint."""
        return (self.root_position - self.rest[0]).astype(np.float32)


def _twist_angle(rotation: np.ndarray, axis: np.ndarray) -> float:
    """Angle (radians) of the twist component of ``rotation`` about the unit ``axis`` (swing-twist split)."""
    quat = Rotation.from_matrix(rotation).as_quat()  # x, y, z, w
    projection = np.dot(quat[:3], axis)
    return 2.0 * np.arctan2(projection, quat[3])
