"""Synthetic 30 fps sequences written in the InterCap layout (read by ``hoirecon.datasets.intercap_io``).

Layout written (docs/synthetic_world.md, "Synthetic sequences (InterCap layout)")::

    RGBD_Images/<sub>/<obj>/Seg_<k>/Frames_Cam<c>/color/<frame:05d>.jpg          colour images (default 480x270)
    Res/<sub>/<obj>/Seg_<k>/res_1.pkl            list over frames of SMPL-X dicts, (1, d) float32 arrays (neutral)
    Res/<sub>/<obj>/Seg_<k>/res_2.pkl            {ob_pose (N, 3) axis-angle, ob_trans (N, 3)} float32
    Res/<sub>/<obj>/Seg_<k>/Mesh/<frame:05d>_second.ply, <frame:05d>_second_obj.ply   posed fits, world frame
    mask/<sub>/<obj>/Seg_<k>/Frames_Cam<c>/mask/<frame:05d>_person.jpg                visible person, full resolution
    object_coor_maps/<sub>/<obj>/Seg_<k>/Frames_Cam<c>/obj_full_mask/<frame:05d>.jpg  whole object, half resolution
    object_coor_maps/<sub>/<obj>/Seg_<k>/Frames_Cam<c>/obj_coor/<frame:05d>.pkl       coordinate-map crop
    openpose/<sub>/<obj>/Seg_<k>/Frames_Cam<c>/color/<frame:05d>_keypoints.json      OpenPose-like BODY_25
    Data/calibration_third/Color.json, Color_2.json ... Color_6.json       c, f, k (8), camera_mtx, view_mtx, R, T
    objs/01.ply ... 10.ply                                                 procedural templates (+ keypoint files)
    body_models/smplh/, body_models/smplx/   the body models used (motion planning: SMPL-H, fits: SMPL-X)
    intercap_split.json                      {"train": [...], "test": [...]}
    synthetic_manifest.json                  parameters ('layout': 'intercap'), complete flag

The world is camera 1 (``Color.json`` has ``R = T = 0``), ``x_c = Rodrigues(R_c) x + T_c``. The motion is the
BEHAVE-extended world's (:func:`hoirecon.synthetic.sequences.sequence_motion`, planned with the neutral SMPL-H
surrogate) copied into SMPL-X parameters: ``global_orient`` and ``body_pose`` (SMPL-H joints 1..21), the same
``betas``, ``transl`` moved by the difference of the two models' rest root joints, the fingers projected on the first
12 hand PCA components of the SMPL-X file; jaw, eyes and expression at rest. Images, masks, coordinate maps and the
``Mesh`` files all come from the SMPL-X body posed by exactly the written fits, so the fits are the ground truth.

There are no per-frame folders in this layout: every file is written to a temporary name and renamed into place
(:func:`~hoirecon.synthetic.writer.atomic_file`), and a frame counts as done when all of its files exist, so an
interrupted run resumes.
"""
import os
import os.path as osp
import time
from dataclasses import asdict

import numpy as np
import torch
from scipy.spatial.transform import Rotation
from tqdm import tqdm

from hoirecon.datasets import intercap_io as io
from hoirecon.datasets.behave_io import object_vertices
from hoirecon.models.body_models import SMPLX
from hoirecon.models.body_models.model_files import load_model_data, resolve_model_file
from hoirecon.models.utils import axis_angle_to_matrix
from hoirecon.objects import ObjectLibrary, write_template_folder
from hoirecon.objects.catalogue import INTERCAP_OBJECTS
from hoirecon.objects.hints import grasp_points
from hoirecon.objects.io import find_template_file
from hoirecon.utils.offscreen import Intrinsics
from .annotations import noisy_body25, object_coordinates
from .cameras import CameraRig, look_at_rotation
from .frames import FrameMaker, SequenceContext, joint_labels
from .generate import (GENERATOR_VERSION, SequenceSpec, _link_or_copy, _write_manifest, restrict_interactions,
                       run_frame_tasks, start_generation, stream, write_body_models)
from .render import ColoredMesh, HOIRenderer, View
from .scene import ACTIONS, ObjectGeometry, allowed_actions
from .sequences import KEY_SPACING, SequenceMotion, sequence_motion
from .writer import (atomic_file, coordinate_map, remove_stale_temporary_files, write_image, write_json, write_mask,
                     write_mesh_ply, write_openpose_keypoints, write_pickle)

#: InterCap's camera 1 colour intrinsics at 1920x1080 (fx, fy, cx, cy), docs/datasets.md.
INTERCAP_COLOR_INTRINSICS = (918.458, 918.437, 956.966, 555.945)
INTERCAP_IMAGE_SIZE = (1920, 1080)
CAMERAS = tuple(range(1, io.NUM_CAMERAS + 1))
NUM_SUBJECTS = 10
NUM_HAND_COMPONENTS = 12
#: Folders of StackFLOW's derived files (its paths: the image path with these replacements).
PERSON_MASK_FOLDER, OBJECT_MAPS_FOLDER = 'mask', 'object_coor_maps'
SPLIT_FILE = 'intercap_split.json'
#: The body models written to ``body_models/``: SMPL-H plans the motion, SMPL-X holds the fits.
SMPLX_FILES = ('SMPLX_NEUTRAL.npz', 'SMPLX_MALE.npz', 'SMPLX_FEMALE.npz')
#: Seed streams of this layout (``stream(seed, STREAM_INTERCAP, sub-stream, ...)``).
STREAM_INTERCAP = 300
STREAM_RIG, STREAM_INTRINSICS, STREAM_PLAN, STREAM_SPLIT, STREAM_SUBJECT, STREAM_SEQUENCE = range(6)
#: Grasp styles the motion planner knows; InterCap's one-hand styles ('bottom': racket, umbrella; 'side': bottle,
#: cup) are planned as a two-hand 'sides' grip.
PLANNED_GRASPS = ('sides', 'top', 'top_ends')
#: Frames rendered per task (the unit of work of a worker process and of the progress bar).
CHUNK_FRAMES = 15


# ----------------------------------------------------------------------------- cameras
def intercap_intrinsics(seed: int, image_size: tuple) -> dict:
    """Camera -> :class:`Intrinsics`: InterCap's camera 1 scaled to ``image_size`` with a 1 % spread per camera."""
    rng = stream(seed, STREAM_INTERCAP, STREAM_INTRINSICS)
    width, height = int(image_size[0]), int(image_size[1])
    sx, sy = width / INTERCAP_IMAGE_SIZE[0], height / INTERCAP_IMAGE_SIZE[1]
    scale = np.array([sx, sy, sx, sy])
    out = {}
    for cam in CAMERAS:
        fx, fy, cx, cy = np.array(INTERCAP_COLOR_INTRINSICS) * scale * (1.0 + 0.01 * rng.standard_normal(4))
        out[cam] = Intrinsics(fx=float(fx), fy=float(fy), cx=float(cx), cy=float(cy), width=width, height=height)
    return out


def intercap_rig(seed: int) -> CameraRig:
    """The six cameras, about 60 degrees apart around the scene (1.8-2.8 m away, 0.9-1.9 m high), looking at the
    person; index ``c - 1`` is camera ``c`` and camera 1 is the world (one rig for the whole set, as InterCap's one
    ``calibration_third``)."""
    rng = stream(seed, STREAM_INTERCAP, STREAM_RIG)
    base = rng.uniform(0, 2 * np.pi)
    scene_from_cam = []
    for index in range(len(CAMERAS)):
        azimuth = base + index * 2 * np.pi / len(CAMERAS) + rng.uniform(-0.2, 0.2)
        distance = rng.uniform(1.8, 2.8)
        eye = np.array([distance * np.sin(azimuth), rng.uniform(0.9, 1.9), distance * np.cos(azimuth)])
        target = np.array([rng.uniform(-0.2, 0.2), 0.85 + rng.uniform(-0.1, 0.1), rng.uniform(-0.2, 0.2)])
        pose = np.eye(4)
        pose[:3, :3] = look_at_rotation(eye, target, roll=rng.uniform(-0.03, 0.03))
        pose[:3, 3] = eye
        scene_from_cam.append(pose)
    scene_to_world = np.linalg.inv(scene_from_cam[0])
    world_from_cam = np.stack([scene_to_world @ pose for pose in scene_from_cam])
    world_from_cam[0] = np.eye(4)
    return CameraRig(cam_to_world_R=world_from_cam[:, :3, :3], cam_to_world_t=world_from_cam[:, :3, 3],
                     scene_to_world=scene_to_world)


def calibration_json(intrinsics: Intrinsics, rotvec: np.ndarray, trans: np.ndarray) -> dict:
    """``Color*.json`` content: ``c``, ``f``, ``k`` (8 zeros: no distortion), ``camera_mtx``, ``view_mtx`` (3x4
    ``[R | T]``), ``R`` (axis-angle) and ``T`` of the world -> camera transform."""
    K = [[intrinsics.fx, 0.0, intrinsics.cx], [0.0, intrinsics.fy, intrinsics.cy], [0.0, 0.0, 1.0]]
    rot = Rotation.from_rotvec(rotvec).as_matrix()
    view = np.concatenate([rot, np.asarray(trans, np.float64)[:, None]], axis=1)
    return {'c': [intrinsics.cx, intrinsics.cy], 'f': [intrinsics.fx, intrinsics.fy], 'k': [0.0] * 8,
            'camera_mtx': K, 'view_mtx': view.tolist(), 'R': [float(v) for v in rotvec],
            'T': [float(v) for v in trans]}


def intercap_cameras(seed: int, image_size: tuple) -> dict:
    """Camera -> ``{'intrinsics', 'rotvec', 'R', 'T', 'json'}``: what ``Color*.json`` holds and the world -> camera
    transform as the reader gets it back (``R`` from the written axis-angle), which is what the images use."""
    intrinsics, rig = intercap_intrinsics(seed, image_size), intercap_rig(seed)
    out = {}
    for cam in CAMERAS:
        rot_wc, trans_wc = rig.world_to_cam(cam - 1)
        rotvec = np.zeros(3) if cam == 1 else Rotation.from_matrix(rot_wc).as_rotvec()
        trans = np.zeros(3) if cam == 1 else np.asarray(trans_wc, np.float64)
        out[cam] = dict(intrinsics=intrinsics[cam], rotvec=rotvec, R=Rotation.from_rotvec(rotvec).as_matrix(),
                        T=trans, json=calibration_json(intrinsics[cam], rotvec, trans))
    return out


def write_intercap_calibration(out_dir: str, seed: int, image_size: tuple) -> list:
    """Write ``Data/calibration_third/Color.json`` and ``Color_2.json`` .. ``Color_6.json``."""
    return [write_json(io.calibration_path(out_dir, cam), camera['json'])
            for cam, camera in intercap_cameras(seed, image_size).items()]


# ----------------------------------------------------------------------------- files
def write_intercap_objects(out_dir: str) -> str:
    """Write the procedural InterCap templates to ``out_dir/objs`` (``01.ply`` .. ``10.ply``) unless all are there."""
    target = osp.join(out_dir, 'objs')
    try:
        for name in INTERCAP_OBJECTS:
            find_template_file(target, name, 'intercap')
    except FileNotFoundError:
        write_template_folder(target, 'intercap')
    return target


def write_smplx_models(out_dir: str, body_model_root: str = None) -> str:
    """Put the SMPL-H files (motion planning) and the SMPL-X files (fits) into ``out_dir/body_models``.

    Args:
        body_model_root: Folder with ``smplh/`` and ``smplx/SMPLX_NEUTRAL.npz``; None for the surrogates.
    """
    target = write_body_models(out_dir, body_model_root)
    if osp.isfile(osp.join(target, 'smplx', SMPLX_FILES[0])):
        return target
    if body_model_root is None:
        from hoirecon.assets import ensure_surrogate_body
        source = ensure_surrogate_body(model_types=('smplx', ))
    else:
        source = body_model_root
    for name in SMPLX_FILES:
        src = osp.join(source, 'smplx', name)
        if osp.isfile(src):
            _link_or_copy(src, osp.join(target, 'smplx', name))
        elif name == SMPLX_FILES[0]:
            raise FileNotFoundError(f'body model file {src} not found; body_model_root must hold smplx/{name} '
                                    '(see docs/body_models.md).')
    return target


def load_hand_basis(model_path: str, gender: str = 'neutral') -> dict:
    """The SMPL-X file's hand PCA basis: ``{'left': (components (45, 45), mean (45,)), 'right': ...}``."""
    data = load_model_data(resolve_model_file(model_path, 'smplx', gender))
    return {side: (np.asarray(data[f'hands_components{s}'], np.float64),
                   np.asarray(data.get(f'hands_mean{s}', np.zeros(45)), np.float64).reshape(45))
            for side, s in (('left', 'l'), ('right', 'r'))}


def hand_pca_to_axis_angle(coefficients: np.ndarray, basis: tuple) -> np.ndarray:
    """(N, k) PCA coefficients -> (N, 45) axis-angle finger pose, ``c @ components[:k] + mean`` (smplx's
    ``use_pca=True``, ``flat_hand_mean=False``)."""
    coefficients = np.asarray(coefficients, np.float64)
    components, mean = basis
    return coefficients @ components[:coefficients.shape[1]] + mean


def hand_axis_angle_to_pca(pose: np.ndarray, basis: tuple, num: int = NUM_HAND_COMPONENTS) -> np.ndarray:
    """(N, 45) axis-angle finger pose -> (N, num) coefficients, the least-squares projection on the first ``num``
    components (exact inverse of :func:`hand_pca_to_axis_angle` for poses inside that span)."""
    components, mean = basis
    solution = np.linalg.lstsq(components[:num].T, (np.asarray(pose, np.float64) - mean).T, rcond=None)[0]
    return solution.T


def posed_smplx_vertices(model: SMPLX, fits: dict, hand_basis: dict, index=slice(None)) -> np.ndarray:
    """(n, 10475, 3) float64 world vertices of SMPL-X posed by ``res_1.pkl``-like fits (``{field: (N, d)}``, the
    hands as PCA coefficients), frames ``index``."""
    def rotations(key, count):
        value = torch.from_numpy(np.asarray(fits[key][index], np.float64).reshape(-1, count, 3))
        return axis_angle_to_matrix(value)

    def tensor(value):
        return torch.from_numpy(np.asarray(value, np.float64))

    hands = {side: tensor(hand_pca_to_axis_angle(fits[f'{side}_hand_pose'][index], hand_basis[side]))
             for side in ('left', 'right')}
    with torch.no_grad():
        out = model(betas=tensor(fits['betas'][index]), global_orient=rotations('global_orient', 1)[:, 0],
                    body_pose=rotations('body_pose', 21), transl=tensor(fits['transl'][index]),
                    left_hand_pose=axis_angle_to_matrix(hands['left'].reshape(-1, 15, 3)),
                    right_hand_pose=axis_angle_to_matrix(hands['right'].reshape(-1, 15, 3)),
                    expression=tensor(fits['expression'][index]), jaw_pose=rotations('jaw_pose', 1)[:, 0],
                    leye_pose=rotations('leye_pose', 1)[:, 0], reye_pose=rotations('reye_pose', 1)[:, 0])
    return out.vertices.numpy()


def smplx_fit_frames(fits: dict) -> list:
    """``res_1.pkl`` content: one dict of (1, d) float32 arrays per frame, with the fitting camera and a VPoser
    embedding at rest (the fields that StackFLOW and :func:`intercap_io.load_smplx_fits` drop)."""
    frames = []
    for i in range(len(fits['betas'])):
        frame = {key: np.asarray(fits[key][i:i + 1], np.float32) for key in io.SMPLX_FIT_FIELDS}
        frame.update(camera_rotation=np.eye(3, dtype=np.float32)[None], camera_translation=np.zeros((1, 3), np.float32),
                     pose_embedding=np.zeros((1, 32), np.float32))
        frames.append(frame)
    return frames


def _write_atomic_pickle(path: str, data) -> str:
    with atomic_file(path) as tmp:
        write_pickle(tmp, data)
    return path


# ----------------------------------------------------------------------------- planning
def plan_intercap_sequences(num_sequences: int, seed: int, geometries: dict, test_fraction: float) -> list:
    """The sequences (:class:`SequenceSpec`, ``name`` = ``'<sub>_<obj>_<k>'``, gender 'neutral', ``date`` unused):
    objects in a shuffled round robin, an action each object affords, subjects 1..10, segments numbered per subject
    and object; ``round(test_fraction * n)`` sequences (at least one of each split for n >= 2) in the test split."""
    rng = stream(seed, STREAM_INTERCAP, STREAM_PLAN)
    names = sorted(geometries, key=INTERCAP_OBJECTS.index)
    order = []
    while len(order) < num_sequences:
        order += [names[i] for i in rng.permutation(len(names))]
    num_test = int(round(num_sequences * test_fraction))
    if num_sequences >= 2:
        num_test = min(max(num_test, 1), num_sequences - 1)
    test_ids = set(stream(seed, STREAM_INTERCAP, STREAM_SPLIT).permutation(num_sequences)[:num_test].tolist())
    specs, segments = [], {}
    for index in range(num_sequences):
        obj_name = order[index]
        action = str(rng.choice(allowed_actions(geometries[obj_name])))
        subject = int(rng.integers(1, NUM_SUBJECTS + 1))
        obj_id = INTERCAP_OBJECTS.index(obj_name) + 1
        segment = segments.get((subject, obj_id), 0)
        segments[(subject, obj_id)] = segment + 1
        specs.append(SequenceSpec(index=index, name=io.sequence_name(subject, obj_id, segment), date=1,
                                  subject=subject, gender='neutral', obj_name=obj_name, action=action,
                                  split='test' if index in test_ids else 'train'))
    return specs


def _frame_files(out_dir: str, name: str, cameras: tuple, frame: int) -> list:
    """Every file frame ``frame`` of sequence ``name`` writes (the frame is done when all exist)."""
    files = list(io.gt_mesh_paths(out_dir, name, frame))
    for cam in cameras:
        files += [io.person_mask_path(out_dir, name, cam, frame), io.object_mask_path(out_dir, name, cam, frame),
                  io.object_coor_path(out_dir, name, cam, frame), io.openpose_path(out_dir, name, cam, frame),
                  io.image_path(out_dir, name, cam, frame)]
    return files


# ----------------------------------------------------------------------------- frames
class InterCapFrameMaker(FrameMaker):
    """Plans, poses and (with ``render=True``) renders and writes InterCap-layout frames.

    Args:
        params: :func:`generate_synthetic_intercap` parameters plus ``out_dir`` (holding ``body_models/`` and
            ``objs/``).
        render: Open an EGL renderer (False: motion and fits only).
    """

    def __init__(self, params: dict, render: bool = True):  # not FrameMaker.__init__: other cameras
        self.params = params
        self.out_dir = params['out_dir']
        self.renderer = HOIRenderer(*params['image_size']) if render else None
        self.cameras = intercap_cameras(params['seed'], tuple(params['image_size']))
        self.rig = intercap_rig(params['seed'])
        self._models, self._objects, self._contexts = {}, {}, {}
        self.smplx = SMPLX(model_path=osp.join(self.out_dir, 'body_models'), gender='neutral')
        self.hand_basis = load_hand_basis(osp.join(self.out_dir, 'body_models'))
        self.smplx_labels = joint_labels(self.smplx)
        # SMPL-X joints -> SMPL-H's for the clothing: jaw and eyes are the head, fingers shift by 3
        self.smplx_labels = np.where(self.smplx_labels >= 25, self.smplx_labels - 3,
                                     np.where(self.smplx_labels >= 22, 15, self.smplx_labels))

    def close(self):
        if self.renderer is not None:
            self.renderer.close()

    def _object(self, name: str) -> ObjectGeometry:
        if name not in self._objects:
            template = ObjectLibrary('intercap', osp.join(self.out_dir, 'objs'))[name]
            geometry = ObjectGeometry.from_template(name, template.vertices, template.faces)
            if geometry.hints['grasp_style'] not in PLANNED_GRASPS:  # one-hand grips: held by both sides here
                geometry.hints['grasp_style'] = 'sides'
                geometry.hints['grasp_points'] = grasp_points(geometry.vertices, 'sides')
            self._objects[name] = geometry
        return self._objects[name]

    def subject_betas(self, subject: int) -> np.ndarray:
        """(10,) float32 shape of a subject: N(0, 1) clipped to +-2.5 (neutral body)."""
        rng = stream(self.params['seed'], STREAM_INTERCAP, STREAM_SUBJECT, subject)
        return np.clip(rng.standard_normal(10), -2.5, 2.5).astype(np.float32)

    # the context of FrameMaker.sequence_context: the neutral SMPL-H plans the motion, colours per SMPL-X vertex,
    # one background per camera 1..6
    num_views = len(CAMERAS)

    def sequence_rng(self, spec: SequenceSpec) -> np.random.Generator:
        return stream(self.params['seed'], STREAM_INTERCAP, STREAM_SEQUENCE, spec.index)

    def sequence_body(self, spec: SequenceSpec) -> tuple:
        return self._model('neutral'), torch.from_numpy(self.subject_betas(spec.subject))[None]

    def sequence_rig(self, spec: SequenceSpec) -> CameraRig:
        return self.rig

    def color_labels(self, labels: np.ndarray) -> np.ndarray:
        return self.smplx_labels

    def context(self, spec: SequenceSpec) -> SequenceContext:
        if spec.name not in self._contexts:
            if len(self._contexts) >= 4:
                self._contexts.pop(next(iter(self._contexts)))
            self._contexts[spec.name] = self.sequence_context(spec)
        return self._contexts[spec.name]

    def motion(self, spec: SequenceSpec, num_frames: int, key_spacing: int = KEY_SPACING) -> SequenceMotion:
        """The SMPL-H world motion (world = camera 1) of :func:`sequence_motion`."""
        return sequence_motion(self.context(spec), num_frames, key_spacing)

    def smplx_fits(self, spec: SequenceSpec, motion: SequenceMotion) -> dict:
        """The motion as SMPL-X fits ``{field of intercap_io.SMPLX_FIT_FIELDS: (N, d) float32}``."""
        context = self.context(spec)
        num = len(motion)
        betas = torch.from_numpy(motion.betas).double()
        with torch.no_grad():
            shift = (context.model.rest_root_joint(betas) - self.smplx.rest_root_joint(betas)).numpy()
        poses = motion.poses.astype(np.float64)
        fits = {
            'betas': motion.betas, 'global_orient': poses[:, :3], 'transl': motion.trans.astype(np.float64) + shift,
            'body_pose': poses[:, 3:66],
            'left_hand_pose': hand_axis_angle_to_pca(poses[:, 66:111], self.hand_basis['left']),
            'right_hand_pose': hand_axis_angle_to_pca(poses[:, 111:156], self.hand_basis['right']),
        }
        for key, size in io.SMPLX_FIT_FIELDS.items():
            fits[key] = np.asarray(fits.get(key, np.zeros((num, size))), np.float32)
        return fits

    def object_fits(self, motion: SequenceMotion) -> dict:
        """``res_2.pkl`` content: ``{'ob_pose': (N, 3), 'ob_trans': (N, 3)}`` float32."""
        return {'ob_pose': motion.object_angles.astype(np.float32), 'ob_trans': motion.object_trans.astype(np.float32)}

    def make_frames(self, task: tuple) -> int:
        """Write frames ``indices`` of a sequence: ``task = (spec, fits, object_fits, indices)``; returns their
        number."""
        spec, fits, obj_fits, indices = task
        context = self.context(spec)
        indices = list(indices)
        verts = posed_smplx_vertices(self.smplx, fits, self.hand_basis, np.asarray(indices))
        for row, index in enumerate(indices):
            self.make_frame(context, obj_fits, index, verts[row])
        return len(indices)

    def make_frame(self, context: SequenceContext, obj_fits: dict, index: int, body_vertices: np.ndarray):
        """Render every camera of frame ``index`` and write its masks, object maps, keypoints, meshes and images
        (each file atomically; the images last)."""
        name, cameras = context.spec.name, list(self.params['cameras'])
        angle, trans = obj_fits['ob_pose'][index], obj_fits['ob_trans'][index]
        obj_verts = object_vertices(context.obj.vertices, angle, trans)
        views = [View(self.cameras[c]['intrinsics'], self.cameras[c]['R'], self.cameras[c]['T'],
                      context.backgrounds[c - 1]) for c in cameras]
        renders = self.renderer.render(ColoredMesh(body_vertices, self.smplx.faces, context.body_colors),
                                       ColoredMesh(obj_verts, context.obj.faces, context.object_colors),
                                       context.floor, context.lighting, views)
        for cam, view, render in zip(cameras, views, renders):
            obj_rot, obj_t = io.object_pose_to_camera(angle, trans, self.cameras[cam])
            half_mask, crop = coordinate_map(render.object_full, object_coordinates(render.object_depth,
                                                                                    view.intrinsics, obj_rot, obj_t))
            with atomic_file(io.person_mask_path(self.out_dir, name, cam, index)) as tmp:
                write_mask(tmp, render.person_mask)
            with atomic_file(io.object_mask_path(self.out_dir, name, cam, index)) as tmp:
                write_mask(tmp, half_mask)
            _write_atomic_pickle(io.object_coor_path(self.out_dir, name, cam, index), crop)
        # OpenPose-like detections (the 1 fps world's noise model), one random stream per frame
        rng = stream(self.params['seed'], STREAM_INTERCAP, STREAM_SEQUENCE, context.spec.index, 1000 + index)
        with torch.no_grad():
            body25 = self.smplx.body25(torch.from_numpy(np.asarray(body_vertices, np.float64))[None])[0].numpy()
        for cam, view, render in zip(cameras, views, renders):
            keypoints = noisy_body25(rng, body25 @ view.rotation.T + view.translation, view.intrinsics,
                                     render.object_depth, self.params['keypoint_noise_px'])
            with atomic_file(io.openpose_path(self.out_dir, name, cam, index)) as tmp:
                write_openpose_keypoints(tmp, keypoints)
        for path, vertices, faces in zip(io.gt_mesh_paths(self.out_dir, name, index), (body_vertices, obj_verts),
                                         (self.smplx.faces, context.obj.faces)):
            with atomic_file(path) as tmp:
                write_mesh_ply(tmp, vertices, faces)
        for cam, render in zip(cameras, renders):
            with atomic_file(io.image_path(self.out_dir, name, cam, index)) as tmp:
                write_image(tmp, render.color)


def _sequence_folders(out_dir: str, name: str, cameras: tuple) -> list:
    """Folders where a sequence's files (and an interrupted run's temporaries) lie."""
    folders = [osp.join(io.sequence_dir(out_dir, name, fits=True), 'Mesh')]
    for cam in cameras:
        folders += [osp.dirname(path) for path in _frame_files(out_dir, name, (cam, ), 0)[2:]]
    return folders


def generate_synthetic_intercap(out_dir: str,
                                num_sequences: int = 4,
                                frames_per_sequence: int = 120,
                                seed: int = 0,
                                image_size: tuple = (480, 270),
                                objects: tuple = None,
                                actions: tuple = None,
                                cameras: tuple = CAMERAS,
                                keypoint_noise_px: float = 2.0,
                                test_fraction: float = 0.2,
                                key_spacing: int = KEY_SPACING,
                                workers: int = 2,
                                body_model_root: str = None,
                                progress: bool = True) -> dict:
    """Generate (or resume) synthetic 30 fps sequences in the InterCap layout (module docstring).

    Args:
        out_dir: Dataset root (new, empty, or a previous run with the same parameters).
        num_sequences: Sequences (``'<sub>_<obj>_<k>'``).
        frames_per_sequence: Frames of each sequence at 30 fps (``00000.jpg`` ...).
        seed: Global seed; the output is a pure function of the parameters (not of ``workers``).
        image_size: (width, height) pixels; InterCap's 1920x1080 intrinsics are scaled to it (the default is a
            quarter of each side). The calibration files hold no image size: readers take it from the images.
        objects: InterCap objects to draw from (default all 10).
        actions: Restrict the interactions (:data:`hoirecon.synthetic.scene.ACTIONS`).
        cameras: Cameras to render, a subset of 1..6 (calibrations of all six are written).
        keypoint_noise_px: Std of the OpenPose-like keypoint noise, pixels.
        test_fraction: Fraction of sequences in ``intercap_split.json``'s test list.
        key_spacing: Frames between IK key poses (:mod:`hoirecon.synthetic.sequences`).
        workers: Rendering processes.
        body_model_root: Folder with ``smplh/SMPLH_NEUTRAL.pkl`` and ``smplx/SMPLX_NEUTRAL.npz``; None = the
            surrogates.
        progress: Show a progress bar of frames.

    Returns:
        Summary: ``out_dir``, ``num_sequences``, ``num_frames``, ``num_images``, ``generated_frames``,
        ``skipped_frames``, ``seconds``, ``split`` and ``sequences`` (each spec with its key frames).
    """
    start = time.time()
    objects = tuple(INTERCAP_OBJECTS if objects is None else objects)
    cameras = tuple(sorted({int(c) for c in cameras}))
    unknown = sorted(set(objects) - set(INTERCAP_OBJECTS)) + sorted(set(actions or ()) - set(ACTIONS))
    if unknown:
        raise ValueError(f'unknown objects/actions {unknown}; objects: {INTERCAP_OBJECTS}, actions: {ACTIONS}.')
    if num_sequences < 1 or frames_per_sequence < 1:
        raise ValueError(f'need num_sequences >= 1 and frames_per_sequence >= 1, got {num_sequences} and '
                         f'{frames_per_sequence}.')
    if not cameras or not set(cameras) <= set(CAMERAS):
        raise ValueError(f'cameras must be a non-empty subset of {list(CAMERAS)}, got {list(cameras)}.')
    params = {
        'layout': 'intercap', 'num_sequences': int(num_sequences), 'frames_per_sequence': int(frames_per_sequence),
        'seed': int(seed), 'image_size': [int(image_size[0]), int(image_size[1])], 'objects': list(objects),
        'actions': None if actions is None else list(actions), 'cameras': list(cameras),
        'keypoint_noise_px': float(keypoint_noise_px),
        'test_fraction': float(test_fraction), 'key_spacing': int(key_spacing),
        'body_model_root': None if body_model_root is None else osp.abspath(body_model_root),
        'version': GENERATOR_VERSION,
    }
    out_dir = start_generation(out_dir, params)
    write_smplx_models(out_dir, body_model_root)
    write_intercap_objects(out_dir)
    write_intercap_calibration(out_dir, seed, image_size)
    for folder in (io.IMAGE_FOLDERS[0], io.FIT_FOLDERS[0]):
        os.makedirs(osp.join(out_dir, folder), exist_ok=True)
    worker_params = dict(params, out_dir=out_dir)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # float results must not depend on the thread count
    planner = InterCapFrameMaker(worker_params, render=False)
    geometries = {name: planner._object(name) for name in objects}
    restrict_interactions(geometries, actions)
    specs = plan_intercap_sequences(num_sequences, seed, geometries, test_fraction)
    tasks, plans, total, done = [], [], 0, 0
    try:
        for spec in specs:
            fit_dir = io.sequence_dir(out_dir, spec.name, fits=True)
            for folder in _sequence_folders(out_dir, spec.name, cameras):
                remove_stale_temporary_files(folder)
            remove_stale_temporary_files(fit_dir)
            motion = planner.motion(spec, frames_per_sequence, key_spacing)
            fits, obj_fits = planner.smplx_fits(spec, motion), planner.object_fits(motion)
            _write_atomic_pickle(osp.join(fit_dir, 'res_1.pkl'), smplx_fit_frames(fits))
            _write_atomic_pickle(osp.join(fit_dir, 'res_2.pkl'), obj_fits)
            missing = [i for i in range(frames_per_sequence)
                       if not all(osp.isfile(path) for path in _frame_files(out_dir, spec.name, cameras, i))]
            total += frames_per_sequence
            done += frames_per_sequence - len(missing)
            tasks += [(spec, fits, obj_fits, missing[i:i + CHUNK_FRAMES])
                      for i in range(0, len(missing), CHUNK_FRAMES)]
            plans.append(dict(asdict(spec), key_frames=motion.key_frames.tolist()))
    finally:
        planner.close()
        torch.set_num_threads(threads)

    bar = tqdm(total=total, initial=done, desc='synthetic InterCap frames', unit='frame', disable=not progress)
    generated = run_frame_tasks(InterCapFrameMaker, worker_params, tasks, workers, bar)
    bar.close()

    split = {key: sorted(plan['name'] for plan in plans if plan['split'] == key) for key in ('train', 'test')}
    write_json(osp.join(out_dir, SPLIT_FILE), split)
    summary = {
        'out_dir': out_dir, 'num_sequences': len(specs), 'num_frames': total, 'num_images': total * len(cameras),
        'generated_frames': generated, 'skipped_frames': total - generated, 'seconds': round(time.time() - start, 2),
        'split': split, 'sequences': plans,
    }
    _write_manifest(out_dir, params, complete=True, summary={k: v for k, v in summary.items() if k != 'sequences'})
    return summary
