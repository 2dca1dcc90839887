"""A person interacting with an object: poses with contact, for one frame of a short motion.

Everything is built in a *person frame* (metres, y up, floor at y = 0, the
person facing +z, +x = the person's left) and then moved by a yaw and a floor
offset into the scene frame of the capture. The six actions are BEHAVE's
kinds of interaction:

========  ==========================================================================
carry     object held in front (two hands on its sides / top ends) or by its handle
          at the side (one hand), walking
lift      the object comes up from knee to chest height (or from the floor by its
          handle), torso bent, knees flexed
hold      object held still at chest height (or hanging by its handle)
push      object on the floor, hands on its top / backrest / handle, bending as needed
lean      object on the floor, both hands on its top or backrest, torso bent over it
sit       the stool / chair / box under the thighs, feet on the floor, hands on the thighs
========  ==========================================================================

Contact is built in: hand targets are points on the object's surface (its
grasp points or ray hits), the wrist is placed so the palm lies on them and the
arm is solved by two-bone IK; if a target is out of reach a held object follows
the hands. Feet are planted on the floor by leg IK, the seat top meets the
underside of the thighs.
"""
from dataclasses import dataclass, field

import numpy as np

from hoirecon.datasets.behave_io import transform_smplh_params
from hoirecon.objects.catalogue import OBJECT_FAMILY
from hoirecon.objects.hints import interaction_hints
from .poses import ARM, JOINT, LEG, SIDE_SIGN, PoseBuilder, axis_rotation

ACTIONS = ('carry', 'lift', 'hold', 'push', 'lean', 'sit')
#: Interactions of ``hoirecon.objects`` hints that map onto one of :data:`ACTIONS`.
ACTION_ALIASES = {'move': 'carry', 'pull': 'push'}
HELD_ACTIONS = ('carry', 'lift', 'hold')
LEFT_HAND = (20, ) + tuple(range(22, 37))
RIGHT_HAND = (21, ) + tuple(range(37, 52))
X_AXIS, Y_AXIS, Z_AXIS = np.eye(3)
for _axis in (X_AXIS, Y_AXIS, Z_AXIS):
    _axis.setflags(write=False)  # shared constants: in-place edits must fail loudly
#: Gap kept between a held object and the floor (metres).
FLOOR_CLEARANCE = 0.01
#: A hand holding a handle has its palm centre this far above the handle's top (metres).
HANDLE_LIFT = 0.03
#: Finger curl (radians per joint) of a fist around a handle.
HANDLE_CURL = 0.5


def rot_x(angle: float) -> np.ndarray:
    return axis_rotation(X_AXIS, angle)


def rot_y(angle: float) -> np.ndarray:
    return axis_rotation(Y_AXIS, angle)


def rot_z(angle: float) -> np.ndarray:
    return axis_rotation(Z_AXIS, angle)


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


# ----------------------------------------------------------------------------- body and object geometry
@dataclass(frozen=True)
class BodyGeometry:
    """Rest-pose measurements of one body shape that contact placement needs (metres).

    Attributes:
        rest_joints: (52, 3) rest skeleton joints.
        pelvis_height: Rest root joint above the soles.
        sole_offset: Ankle joint above the sole (mean of both feet).
        palm_reach: Wrist -> palm centre distance along the fingers.
        palm_depth: Palm surface below the wrist joint along the palm normal.
        thigh_depth: Underside of the thigh below the hip joint when the thigh is horizontal.
        surface_points: (N, 3) rest vertices of the trunk, head and legs (a subsample), for collision checks.
        surface_labels: (N,) int joint owning each surface point.
    """
    rest_joints: np.ndarray
    pelvis_height: float
    sole_offset: float
    palm_reach: float
    palm_depth: float
    thigh_depth: float
    surface_points: np.ndarray = None
    surface_labels: np.ndarray = None

    @classmethod
    def from_rest(cls, rest_joints: np.ndarray, rest_vertices: np.ndarray, part_labels: np.ndarray):
        """Measure a body in its rest pose.

        Args:
            rest_joints: (>=52, 3) rest joints (the first 52 are the SMPL-H skeleton).
            rest_vertices: (V, 3) rest vertices.
            part_labels: (V,) int joint index (SMPL-H order, 0..51 or 0..21) owning each vertex.
        """
        joints = np.asarray(rest_joints, np.float64)[:52]
        verts = np.asarray(rest_vertices, np.float64)
        labels = np.asarray(part_labels)
        feet = np.isin(labels, (7, 8, 10, 11))
        sole = verts[feet, 1].min()
        builder = PoseBuilder(joints)
        palm_reach, palm_depth = [], []
        for side, ids in (('left', LEFT_HAND), ('right', RIGHT_HAND)):
            fingers, palm = builder.rest_hand_frame(side)
            wrist = joints[JOINT[f'{side}_wrist']]
            knuckle = np.dot(joints[JOINT[f'{side}_middle1']] - wrist, fingers)
            hand = verts[np.isin(labels, ids)] - wrist
            along, across = hand @ fingers, hand @ np.cross(fingers, palm)
            in_palm = (along > 0.2 * knuckle) & (along < knuckle) & (np.abs(across) < 0.015)  # not the thumb
            palm_depth.append(float((hand[in_palm] @ palm).max()) if in_palm.any() else 0.015)
            palm_reach.append(0.6 * knuckle)
        thighs = verts[np.isin(labels, (1, 2))]
        hip_z = joints[[1, 2], 2].mean()
        near_hip = thighs[thighs[:, 1] > joints[[1, 2], 1].mean() - 0.15]
        not_arm = ~np.isin(labels, (16, 17, 18, 19, 20, 21))
        return cls(rest_joints=joints, pelvis_height=float(joints[0, 1] - sole),
                   sole_offset=float(joints[[7, 8], 1].mean() - sole), palm_reach=float(np.mean(palm_reach)),
                   palm_depth=float(np.mean(palm_depth)),
                   thigh_depth=float(hip_z - near_hip[:, 2].min()),
                   surface_points=verts[not_arm][::3], surface_labels=labels[not_arm][::3])


@dataclass
class ObjectGeometry:
    """An object template (centred at its vertex mean, +y up) and the hints that place it.

    Attributes:
        name: BEHAVE object name.
        vertices: (V, 3) float64 centred template vertices (metres).
        faces: (F, 3) int64.
        hints: ``hoirecon.objects.hints.interaction_hints`` of the template.
    """
    name: str
    vertices: np.ndarray
    faces: np.ndarray
    hints: dict = field(default_factory=dict)

    @classmethod
    def from_template(cls, name: str, vertices: np.ndarray, faces: np.ndarray):
        return cls(name=name, vertices=np.asarray(vertices, np.float64), faces=np.asarray(faces, np.int64),
                   hints=interaction_hints(np.asarray(vertices, np.float64), faces, OBJECT_FAMILY[name]))

    @property
    def bottom(self) -> float:
        return float(self.vertices[:, 1].min())

    @property
    def top(self) -> float:
        return float(self.vertices[:, 1].max() - self.bottom)

    def seat_point(self) -> np.ndarray:
        """(3,) template point at the middle of the largest upward surface (the seat)."""
        height = self.bottom + self.hints['support_height']
        near = self.vertices[np.abs(self.vertices[:, 1] - height) < 0.03]
        centre = near.mean(axis=0) if len(near) else self.vertices.mean(axis=0)
        return np.array([centre[0], height, centre[2]])

    def backrest_direction(self) -> np.ndarray:
        """(3,) horizontal unit direction from the seat to the backrest, or None for backless seats."""
        seat = self.seat_point()
        above = self.vertices[self.vertices[:, 1] > seat[1] + 0.15]
        if len(above) < 10:
            return None
        offset = above.mean(axis=0) - seat
        offset[1] = 0.0
        return None if np.linalg.norm(offset) < 0.05 else _unit(offset)

    def ray_hit(self, rotation: np.ndarray, origin: np.ndarray, direction: np.ndarray) -> tuple:
        """First surface hit of a ray against the rotated (untranslated) template.

        Returns:
            ``(point (3,), outward normal (3,))`` or ``(None, None)`` on a miss.
        """
        return first_ray_hit(self.vertices @ rotation.T, self.faces, origin, direction)


def first_ray_hit(vertices: np.ndarray, faces: np.ndarray, origin: np.ndarray, direction: np.ndarray) -> tuple:
    """First triangle a ray meets (Moeller-Trumbore against every face; numpy only, no spatial index).

    Args:
        vertices: (V, 3) mesh vertices.
        faces: (F, 3) vertex indices.
        origin: (3,) ray origin.
        direction: (3,) ray direction (need not be unit length).

    Returns:
        ``(point (3,), unit normal (3,))`` of the nearest hit in front of the origin, the normal turned against the
        ray, or ``(None, None)`` when the ray misses every face.
    """
    origin = np.asarray(origin, dtype=np.float64)
    direction = np.asarray(direction, dtype=np.float64)
    tri = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]
    edge1, edge2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    pvec = np.cross(direction, edge2)
    det = np.einsum('ij,ij->i', edge1, pvec)
    valid = np.abs(det) > 1e-12
    inv_det = np.where(valid, 1.0 / np.where(valid, det, 1.0), 0.0)
    tvec = origin - tri[:, 0]
    u = np.einsum('ij,ij->i', tvec, pvec) * inv_det
    qvec = np.cross(tvec, edge1)
    v = (qvec @ direction) * inv_det
    dist = np.einsum('ij,ij->i', edge2, qvec) * inv_det
    hit = valid & (u >= 0.0) & (v >= 0.0) & (u + v <= 1.0) & (dist > 0.0)
    if not hit.any():
        return None, None
    best = np.flatnonzero(hit)[np.argmin(dist[hit])]
    normal = np.cross(edge1[best], edge2[best])
    normal /= np.linalg.norm(normal)
    return origin + dist[best] * direction, (-normal if np.dot(normal, direction) > 0 else normal)


def allowed_actions(obj: ObjectGeometry) -> tuple:
    """Actions of :data:`ACTIONS` that make sense for an object (from its family hints and size)."""
    wanted = {ACTION_ALIASES.get(a, a) for a in obj.hints['interactions']}
    extents = obj.hints['extents']
    actions = []
    for action in ACTIONS:
        if action not in wanted:
            continue
        if action == 'sit' and not 0.3 <= obj.hints['support_height'] <= 0.75:
            continue
        if (action == 'push' and obj.top < 0.38) or (action == 'lean' and obj.top < 0.5):
            continue
        if action in HELD_ACTIONS and obj.hints['grasp_style'] == 'sides' and max(extents) > 1.3:
            continue
        actions.append(action)
    return tuple(actions) or ('hold', )


# ----------------------------------------------------------------------------- frame state
@dataclass
class HOIState:
    """Body and object of one frame in the scene frame (y up, floor y = 0).

    Attributes:
        pose: (156,) float32 SMPL-H axis-angle.
        trans: (3,) float32 SMPL translation (metres).
        object_rotation: (3, 3) float64.
        object_translation: (3,) float64 metres; object vertices = R v + t.
        contacts: (n, 3) where the palms are put (scene frame): on the object, or on the thighs when sitting.
    """
    pose: np.ndarray
    trans: np.ndarray
    object_rotation: np.ndarray
    object_translation: np.ndarray
    contacts: np.ndarray


class Wobble:
    """A smooth random curve on t in [0, 1]: a sum of two sinusoids with random phases."""

    def __init__(self, rng: np.random.Generator, amplitude: float, frequency: float = 1.0):
        self.amplitude = amplitude
        self.freq = frequency * rng.uniform(0.5, 1.5, size=2)
        self.phase = rng.uniform(0, 2 * np.pi, size=2)
        self.weight = rng.uniform(0.3, 1.0, size=2)

    def __call__(self, t: float) -> float:
        values = self.weight * np.sin(2 * np.pi * self.freq * t + self.phase)
        return float(self.amplitude * values.sum() / self.weight.sum())


@dataclass
class MotionPlan:
    """Sequence-level constants of one interaction; :func:`interaction_state` evaluates it at time t.

    Attributes:
        action: One of :data:`ACTIONS`.
        params: Scalar constants of the action (radians, metres).
        wobbles: Smooth per-frame variations by name.
        hand_side: 'left' or 'right' for one-hand grips.
        yaw, origin: Person placement in the scene at t = 0 (radians, (x, z) metres).
        heading: Walking / pushing direction in the person frame (radians about y).
    """
    action: str
    params: dict
    wobbles: dict
    hand_side: str
    yaw: float
    origin: np.ndarray
    heading: float = 0.0

    def wobble(self, name: str, t: float) -> float:
        return self.wobbles[name](t) if name in self.wobbles else 0.0


def plan_motion(rng: np.random.Generator, action: str, obj: ObjectGeometry) -> MotionPlan:
    """Draw the constants of a short motion of ``action`` with ``obj``."""
    if action not in ACTIONS:
        raise ValueError(f'unknown action {action!r}; choose from {ACTIONS}.')
    u = rng.uniform
    params = {
        'bend': u(0.0, 0.15), 'pelvis_pitch': u(-0.05, 0.1), 'head_pitch': u(0.1, 0.4), 'crouch': u(0.0, 0.03),
        'stance': u(0.02, 0.12), 'toe_out': u(0.05, 0.3), 'gap': u(0.02, 0.08), 'curl': u(0.0, 0.1),
        'object_tilt': u(-0.12, 0.12), 'object_yaw': u(-0.15, 0.15), 'twist': u(-0.15, 0.15), 'reach': u(0.8, 0.9),
        'speed': u(0.3, 0.8), 'stride': u(0.1, 0.3), 'height': u(0.0, 1.0), 'flip': float(rng.random() < 0.5),
        'side_shift': u(-0.05, 0.05),
    }
    wobbles = {name: Wobble(rng, amp) for name, amp in (('bend', 0.12), ('twist', 0.2), ('head', 0.2),
                                                        ('height', 0.08), ('yaw', 0.25), ('gait', 1.0),
                                                        ('hands', 0.08), ('free_arm', 0.3), ('turn', 0.4))}
    if action == 'lift':
        params.update(bend=u(0.35, 0.7), crouch=u(0.08, 0.25), pelvis_pitch=u(0.15, 0.4), height=u(0.0, 0.3))
    elif action in ('push', 'lean'):
        params.update(bend=u(0.2, 0.5), pelvis_pitch=u(0.05, 0.25), stride=u(0.15, 0.35))
        if action == 'lean':
            params.update(bend=u(0.15, 0.45), pelvis_pitch=u(0.1, 0.25), reach=u(0.8, 0.9))
    elif action == 'sit':
        params.update(bend=u(-0.05, 0.3), pelvis_pitch=u(-0.15, 0.05), knee_reach=u(0.8, 1.05), stance=u(0.1, 0.2),
                      hands_along=u(0.4, 0.9), seat_offset=u(-0.03, 0.06))
    hand_side = 'left' if rng.random() < 0.5 else 'right'
    return MotionPlan(action=action, params=params, wobbles=wobbles, hand_side=hand_side,
                      yaw=u(0, 2 * np.pi), origin=np.array([u(-0.25, 0.25), u(-0.25, 0.25)]), heading=u(-0.3, 0.3))


# ----------------------------------------------------------------------------- body posing helpers
def _pose_torso(builder: PoseBuilder, body: BodyGeometry, plan: MotionPlan, t: float, extra_bend: float = 0.0,
                extra_crouch: float = 0.0):
    """Pelvis height and tilt, spine bend and twist, head pitch; ``extra_*`` deepen the bend to reach low."""
    p = plan.params
    bend = p['bend'] + plan.wobble('bend', t) + extra_bend
    twist = p['twist'] + plan.wobble('twist', t)
    builder.local[0] = rot_x(p['pelvis_pitch'])
    for joint in ('spine1', 'spine2', 'spine3'):
        builder.set_local(joint, rot_x(bend / 3) @ rot_y(twist / 3))
    head = p['head_pitch'] + plan.wobble('head', t)
    builder.set_local('neck', rot_x(0.4 * head))
    builder.set_local('head', rot_x(0.6 * head) @ rot_y(-0.5 * twist))
    builder.root_position = np.array([p['side_shift'], body.pelvis_height - p['crouch'] - extra_crouch,
                                      -0.12 * np.sin(p['pelvis_pitch'] + 0.5 * bend)])


def _solve_legs(builder: PoseBuilder, targets: dict, pole: np.ndarray, toe_out: float):
    """Leg IK towards ankle targets (knees towards ``pole``), feet flat on the floor."""
    for side, target in targets.items():
        builder.solve_limb(LEG[side], target, pole + np.array([0.2 * SIDE_SIGN[side], 0, 0]))
        builder.set_global(f'{side}_ankle', rot_y(SIDE_SIGN[side] * toe_out))


def _plant_feet(builder: PoseBuilder, targets: dict, pole: np.ndarray, toe_out: float):
    """Leg IK to ankle targets on the floor, first lowering the pelvis if a leg cannot reach."""
    joints = builder.solve()[1]
    lower = 0.0
    for side, target in targets.items():
        hip = joints[JOINT[f'{side}_hip']]
        length = 0.995 * (builder.bone_length(*LEG[side][:2]) + builder.bone_length(*LEG[side][1:]))
        horizontal = np.hypot(*(hip - target)[[0, 2]])
        highest = target[1] + np.sqrt(max(length**2 - horizontal**2, 0.0))
        lower = max(lower, hip[1] - highest)
    builder.root_position = builder.root_position - np.array([0.0, lower, 0.0])
    _solve_legs(builder, targets, pole, toe_out)


def _standing_feet(builder: PoseBuilder, body: BodyGeometry, plan: MotionPlan, t: float):
    p = plan.params
    gait = plan.wobble('gait', t) if plan.action in ('carry', 'push') else 0.0
    stride = p['stride'] * gait if plan.action in ('carry', 'push') else 0.0
    targets = {}
    for side in ('left', 'right'):
        hip = body.rest_joints[JOINT[f'{side}_hip']]
        forward = 0.5 * stride * SIDE_SIGN[side] + (0.12 if plan.action in ('push', 'lean') and side == 'left' else 0)
        targets[side] = np.array([hip[0] + SIDE_SIGN[side] * p['stance'], body.sole_offset, 0.02 + forward])
    _plant_feet(builder, targets, np.array([0.0, 0.0, 1.0]), p['toe_out'])


def _place_hand(builder: PoseBuilder, body: BodyGeometry, side: str, contact: np.ndarray, fingers: np.ndarray,
                palm_normal: np.ndarray, curl: float, flare: float = 0.0) -> np.ndarray:
    """Put the palm of one hand on ``contact`` (palm facing ``palm_normal``); returns the wrist error (3,).

    ``flare`` (0..1) turns the elbow outwards, e.g. to hug a wide object.
    """
    palm_normal = _unit(palm_normal)
    fingers = _unit(fingers - np.dot(fingers, palm_normal) * palm_normal)
    wrist = contact - body.palm_reach * fingers - body.palm_depth * palm_normal
    pole = np.array([SIDE_SIGN[side] * (1.0 + 2.0 * flare), -1.0, -0.4])
    reached = builder.solve_limb(ARM[side], wrist, pole)
    builder.orient_hand(side, fingers, palm_normal)
    builder.curl_fingers(side, curl)
    return wrist - reached


def _relax_arm(builder: PoseBuilder, plan: MotionPlan, side: str, t: float):
    joints = builder.solve()[1]
    shoulder = joints[JOINT[f'{side}_shoulder']]
    length = builder.bone_length(*ARM[side][:2]) + builder.bone_length(*ARM[side][1:])
    swing = plan.wobble('free_arm', t)
    target = shoulder + length * np.array([SIDE_SIGN[side] * 0.15, -0.93, 0.15 + swing])
    builder.solve_limb(ARM[side], target, np.array([SIDE_SIGN[side] * 0.3, 0.0, -1.0]))
    builder.orient_hand(side, np.array([0.0, -1.0, 0.15]), np.array([-SIDE_SIGN[side], 0.0, 0.0]))
    builder.curl_fingers(side, 0.3)


def _arm_length(builder: PoseBuilder, side: str) -> float:
    return builder.bone_length(*ARM[side][:2]) + builder.bone_length(*ARM[side][1:])


def _posed_surface(builder: PoseBuilder, body: BodyGeometry) -> np.ndarray:
    """Trunk, head and leg surface points moved rigidly with their joints: (N, 3), close to the skinned mesh."""
    rotations, joints = builder.solve()
    labels = body.surface_labels
    local = body.surface_points - body.rest_joints[labels]
    return np.einsum('nij,nj->ni', rotations[labels], local) + joints[labels]


def _front_of_body(builder: PoseBuilder, body: BodyGeometry, posed_object: np.ndarray) -> float:
    """z of the body's front facing an object (person frame), over the object's height and width (+3 cm)."""
    points = _posed_surface(builder, body)
    low, high = posed_object.min(axis=0) - 0.03, posed_object.max(axis=0) + 0.03
    facing = (points[:, 1] > low[1]) & (points[:, 1] < high[1]) & (points[:, 0] > low[0]) & (points[:, 0] < high[0])
    return float(points[facing, 2].max()) if facing.any() else float(points[:, 2].min())


# ----------------------------------------------------------------------------- object placement helpers
def _align_yaw(direction: np.ndarray, target: np.ndarray) -> float:
    """Yaw (about +y) turning the horizontal part of ``direction`` onto ``target``."""
    return float(np.arctan2(direction[2], direction[0]) - np.arctan2(target[2], target[0]))


def _object_rotation(obj: ObjectGeometry, plan: MotionPlan, t: float, grip: str) -> np.ndarray:
    """Yaw the template so its grasp axis runs left-right (or its backrest is behind a sitter), plus a small tilt."""
    p = plan.params
    flip = np.pi * p['flip']
    yaw = p['object_yaw'] + plan.wobble('yaw', t)
    grasp = obj.hints['grasp_points']
    if grip == 'top_ends' and len(grasp) == 2:  # backrest / near edge towards the person
        yaw += _align_yaw(grasp[1] - grasp[0], X_AXIS)
        near = (grasp.mean(axis=0) - obj.vertices.mean(axis=0)) @ rot_y(yaw).T
        yaw += np.pi if near[2] > 0.02 else flip * (abs(near[2]) <= 0.02)
    elif grip == 'sides' and len(grasp) == 2:
        yaw += _align_yaw(grasp[1] - grasp[0], X_AXIS) + flip
    elif plan.action == 'sit':
        back = obj.backrest_direction()
        yaw = yaw + (_align_yaw(back, -Z_AXIS) if back is not None else flip)
    elif grip == 'top':  # hanging at the side: thinnest horizontal side against the leg
        extents = obj.hints['extents']
        yaw += (0.0 if extents[0] <= extents[2] else np.pi / 2) + flip
    tilt = p['object_tilt'] if plan.action in HELD_ACTIONS else 0.0
    return rot_x(tilt) @ rot_z(0.5 * tilt) @ rot_y(yaw)


def _grip(obj: ObjectGeometry, action: str) -> str:
    """Where the hands go: 'sides', 'top' (a handle), 'top_ends' (a backrest's ends) or 'top_surface'."""
    style = obj.hints['grasp_style']
    if action in ('push', 'lean') and (style == 'sides' or (style == 'top_ends' and obj.backrest_direction() is None)):
        return 'top_surface'  # a box, stool or table: both hands on the near part of the top
    return style if style in ('sides', 'top', 'top_ends') else 'sides'


def _top_surface_contacts(obj: ObjectGeometry, rotation: np.ndarray, spread: float) -> tuple:
    """Two palms on the near part of the object's top (person frame, rotated and untranslated template).

    Returns:
        Contacts (2, 3), palm normals (2, 3) and finger directions (2, 3); row 0 is the left hand (+x).
    """
    posed = obj.vertices @ rotation.T
    low, high = posed.min(axis=0), posed.max(axis=0)
    half = min(spread, 0.4 * (high[0] - low[0]))
    depth = min(0.15, 0.35 * (high[2] - low[2]))
    contacts, normals, fingers = [], [], []
    for sign in (1.0, -1.0):
        point, normal = obj.ray_hit(rotation, np.array([sign * half, high[1] + 1.0, low[2] + depth]), -Y_AXIS)
        if point is None:  # a gap in the geometry: take the nearest vertex instead
            point = posed[np.argmin(np.linalg.norm(posed - [sign * half, high[1], low[2] + depth], axis=1))]
            normal = Y_AXIS
        contacts.append(point)
        normals.append(-normal)
        fingers.append(Z_AXIS + sign * 0.3 * X_AXIS)
    return np.stack(contacts), np.stack(normals), np.stack(fingers)


def _grasp_contacts(obj: ObjectGeometry, rotation: np.ndarray, grip: str, plan: MotionPlan) -> tuple:
    """Contacts, palm normals and finger directions from the template's grasp points (rotated, untranslated)."""
    points = obj.hints['grasp_points'] @ rotation.T
    centre = obj.vertices.mean(axis=0) @ rotation.T
    if grip == 'top':
        return points[:1], -Y_AXIS[None], Z_AXIS[None].copy()
    order = np.argsort(-points[:, 0])  # left hand (+x) first
    points = points[order]
    if grip == 'top_ends':
        return points, np.stack([-Y_AXIS, -Y_AXIS]), np.stack([Z_AXIS, Z_AXIS])
    normals = centre - points
    normals[:, 1] = 0.0
    normals = normals / np.linalg.norm(normals, axis=1, keepdims=True)
    finger = _unit(Z_AXIS - 0.4 * Y_AXIS)
    return points, normals, np.stack([finger, finger])


# ----------------------------------------------------------------------------- actions
def _leg_outer(builder: PoseBuilder, body: BodyGeometry, side: str) -> float:
    """Distance of the outer side of one posed leg from the body's midline (person frame, metres)."""
    legs = np.isin(body.surface_labels, [JOINT[f'{side}_{part}'] for part in ('hip', 'knee', 'ankle', 'foot')])
    return float((SIDE_SIGN[side] * _posed_surface(builder, body)[legs, 0]).max())


def _held(builder, body, obj, plan, t, rotation, grip) -> tuple:
    """Object carried by the hands (carry / lift / hold)."""
    p = plan.params
    contacts, normals, fingers = _grasp_contacts(obj, rotation, grip, plan)
    posed = obj.vertices @ rotation.T
    joints = builder.solve()[1]
    pelvis_y = joints[0, 1]
    nearest = np.full(3, -np.inf)  # per-axis bounds the translation keeps (object clear of floor and body)
    nearest[1] = FLOOR_CLEARANCE - posed[:, 1].min()
    if grip == 'top':  # by the handle at the side, the arm hanging down, the palm towards the body
        side = plan.hand_side
        sign = SIDE_SIGN[side]
        shoulder = joints[JOINT[f'{side}_shoulder']]
        fingers[0], normals[0] = _unit(-Y_AXIS + 0.2 * Z_AXIS), -sign * X_AXIS
        contacts[0] = contacts[0] + HANDLE_LIFT * Y_AXIS  # the fist closes around the handle, above the lid
        if plan.action == 'lift':  # just off the floor
            grip_point = np.array([sign * 0.2, 0.05 + 0.15 * p['height'] + 0.1 * t + contacts[0, 1] - posed[:, 1].min(),
                                   shoulder[2] + 0.1])
        else:
            wrist = shoulder + _arm_length(builder, side) * np.array([sign * 0.12, -0.9, 0.1 + plan.wobble('hands', t)])
            grip_point = wrist + body.palm_reach * fingers[0] + body.palm_depth * normals[0]
        translation = grip_point - contacts[0]
        needed = _leg_outer(builder, body, side) + 0.04 - (sign * posed[:, 0]).min()  # inner side off the leg
        translation[0] = sign * max(sign * translation[0], needed)
        hands = {side: 0}
    else:
        if plan.action == 'lift':
            height = pelvis_y - 0.45 + 0.5 * (p['height'] + t) / 1.3
        elif plan.action == 'carry':
            height = pelvis_y + 0.05 + 0.25 * p['height']
        else:
            height = pelvis_y + 0.15 + 0.3 * p['height']
        height += plan.wobble('height', t)
        mid = contacts.mean(axis=0)
        translation = np.array([0.0, height - mid[1], 0.0])
        front = _front_of_body(builder, body, posed + translation)
        nearest[2] = front + 0.02 - posed[:, 2].min()
        translation[2] = nearest[2] + p['gap']
        hands = {'left': 0, 'right': 1}
    translation = np.maximum(translation, nearest)
    curl = HANDLE_CURL if grip == 'top' else p['curl']
    flare = float(np.clip(2.0 * (contacts[0, 0] - contacts[-1, 0] - 0.2), 0.0, 1.5)) if len(hands) == 2 else 0.0
    for _ in range(3):  # the object follows hands that cannot reach it, but not into the body or the floor
        errors = [_place_hand(builder, body, side, contacts[k] + translation, fingers[k], normals[k], curl, flare)
                  for side, k in hands.items()]
        shift = np.mean(errors, axis=0)
        if np.linalg.norm(shift) < 1e-3:
            break
        translation = np.maximum(translation - shift, nearest)
    else:
        for side, k in hands.items():
            _place_hand(builder, body, side, contacts[k] + translation, fingers[k], normals[k], curl, flare)
    for side in ('left', 'right'):
        if side not in hands:
            _relax_arm(builder, plan, side, t)
    return translation, contacts + translation


def _on_floor(builder, body, obj, plan, t, rotation, grip) -> tuple:
    """Object standing on the floor in front, hands on it (push / lean)."""
    p = plan.params
    if grip == 'top_surface':
        contacts, normals, fingers = _top_surface_contacts(obj, rotation, 0.18 + plan.wobble('hands', t))
        hands = {'left': 0, 'right': 1}
    else:
        contacts, normals, fingers = _grasp_contacts(obj, rotation, grip, plan)
        hands = {plan.hand_side: 0} if grip == 'top' else {'left': 0, 'right': 1}
    posed = obj.vertices @ rotation.T
    lift = -posed[:, 1].min()
    targets = contacts + np.array([0.0, lift, 0.0])  # on the floor, before the forward placement
    below_hands = posed[posed[:, 1] < contacts[:, 1].min() - 0.05]  # the body may lean over the rest
    below_hands = below_hands if len(below_hands) else posed
    translation, bend, best = np.array([0.0, lift, 0.0]), 0, (np.inf, None)
    for attempt in range(16):
        joints = builder.solve()[1]
        nearest = _front_of_body(builder, body, below_hands + translation) + 0.03 - below_hands[:, 2].min()
        if attempt == 0:  # start with every target at `reach` times the arm length from its shoulder
            distance = np.inf
            for side, k in hands.items():
                shoulder = joints[JOINT[f'{side}_shoulder']]
                length = p['reach'] * _arm_length(builder, side)
                lateral = np.hypot(shoulder[1] - targets[k, 1], shoulder[0] - targets[k, 0])
                distance = min(distance, shoulder[2] + np.sqrt(max(length**2 - lateral**2, 0.01)) - targets[k, 2])
            translation[2] = distance
        translation[2] = max(translation[2], nearest)  # the object stays clear of the body
        per_hand = [_place_hand(builder, body, side, contacts[k] + translation, fingers[k], normals[k], p['curl'])
                    for side, k in hands.items()]
        miss = float(np.mean(np.linalg.norm(per_hand, axis=1)))
        if miss < best[0]:
            best = (miss, (builder.local.copy(), builder.root_position.copy(), translation.copy()))
        if miss < 0.003:
            break
        errors = np.mean(per_hand, axis=0)
        moved = translation - np.array([errors[0], 0.0, errors[2]])  # slide the object towards the hands
        if errors[1] < -0.005 or moved[2] < nearest:  # too low or blocked by the body: bend over further
            bend += 1
            _pose_torso(builder, body, plan, t, extra_bend=min(0.08 * bend, 0.6), extra_crouch=0.04 * bend)
            _standing_feet(builder, body, plan, t)
        translation[[0, 2]] = moved[[0, 2]]
    builder.local, builder.root_position, translation = best[1]  # the attempt whose hands came closest
    for side in ('left', 'right'):
        if side not in hands:
            _relax_arm(builder, plan, side, t)
    return translation, contacts[list(hands.values())] + translation


def _sit(builder, body, obj, plan, t, rotation) -> tuple:
    """Pelvis over the seat, thighs on it, feet on the floor, hands on the thighs."""
    p = plan.params
    posed = obj.vertices @ rotation.T
    seat = obj.seat_point() @ rotation.T
    lift = -posed[:, 1].min()
    seat_height = seat[1] + lift
    hips_y = body.rest_joints[[1, 2], 1].mean()
    root_y = seat_height + body.thigh_depth + (body.rest_joints[0, 1] - hips_y)
    builder.root_position = np.array([p['side_shift'], root_y, 0.0])
    joints = builder.solve()[1]
    thigh = builder.bone_length('left_hip', 'left_knee')
    targets = {}
    for side in ('left', 'right'):
        hip = joints[JOINT[f'{side}_hip']]
        targets[side] = np.array([hip[0] + SIDE_SIGN[side] * p['stance'], body.sole_offset,
                                  hip[2] + thigh * (p['knee_reach'] + 0.05 * plan.wobble('gait', t))])
    _solve_legs(builder, targets, np.array([0.0, 0.6, 1.0]), p['toe_out'])  # the seat carries the body
    joints = builder.solve()[1]
    contacts = []
    for side in ('left', 'right'):
        hip, knee = joints[JOINT[f'{side}_hip']], joints[JOINT[f'{side}_knee']]
        along = np.clip(p['hands_along'] + plan.wobble('hands', t), 0.3, 0.95)
        contact = hip + along * (knee - hip) + np.array([0.0, body.thigh_depth, 0.0])
        _place_hand(builder, body, side, contact, _unit(knee - hip), -Y_AXIS, p['curl'])
        contacts.append(contact)
    hip_mid = joints[[1, 2]].mean(axis=0)
    translation = np.array([hip_mid[0], lift, hip_mid[2] + p['seat_offset']]) - np.array([seat[0], 0.0, seat[2]])
    return translation, np.stack(contacts)


def interaction_state(plan: MotionPlan, body: BodyGeometry, obj: ObjectGeometry, t: float) -> HOIState:
    """Pose the body and the object for time ``t`` in [0, 1] of a motion, in the scene frame.

    Args:
        plan: The motion (:func:`plan_motion`).
        body: Rest measurements of the body (:meth:`BodyGeometry.from_rest`).
        obj: The object.
        t: Normalised time of the frame in its sequence.

    Returns:
        The frame's :class:`HOIState`.
    """
    builder = PoseBuilder(body.rest_joints)
    grip = _grip(obj, plan.action)
    rotation = _object_rotation(obj, plan, t, grip)
    _pose_torso(builder, body, plan, t)
    if plan.action == 'sit':
        translation, contacts = _sit(builder, body, obj, plan, t, rotation)
    else:
        _standing_feet(builder, body, plan, t)
        place = _held if plan.action in HELD_ACTIONS else _on_floor
        translation, contacts = place(builder, body, obj, plan, t, rotation, grip)
    # walk along the heading, then move the person frame into the scene
    travel = plan.params['speed'] * (t - 0.5) if plan.action in ('carry', 'push') else 0.0
    offset_person = travel * np.array([np.sin(plan.heading), 0.0, np.cos(plan.heading)])
    to_scene = rot_y(plan.yaw + plan.wobble('turn', t))
    offset = to_scene @ offset_person + np.array([plan.origin[0], 0.0, plan.origin[1]])
    pose, trans = transform_smplh_params(builder.axis_angle(), builder.translation(), body.rest_joints[0], to_scene,
                                         offset)
    return HOIState(pose=pose.astype(np.float32), trans=trans.astype(np.float32),
                    object_rotation=to_scene @ rotation, object_translation=to_scene @ translation + offset,
                    contacts=contacts @ to_scene.T + offset)
