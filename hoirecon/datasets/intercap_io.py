"""Readers of the InterCap on-disk files and its world <-> camera conversion.

Layout (docs/datasets.md, "InterCap"; both the first release's folder names and the newer ``*_Individuals`` ones)::

    ROOT/RGBD_Images|RGBD_Individuals/<sub>/<obj>/Seg_<k>/Frames_Cam<c>/color/<frame:05d>.jpg   1920 x 1080
    ROOT/Res|Res_Individuals/<sub>/<obj>/Seg_<k>/res_1.pkl      SMPL-X fits: a list over frames of dicts
                                                 /res_2.pkl      object: {ob_pose (N, 3) axis-angle, ob_trans (N, 3)}
    ROOT/Data/calibration_third/Color.json, Color_2.json ... Color_6.json   cameras 1..6
    ROOT/objs/01.ply ... 10.ply                                             templates (centred at their vertex mean)
    ROOT/Res|Res_Individuals/<sub>/<obj>/Seg_<k>/Mesh/<frame:05d>_second.ply, <frame:05d>_second_obj.ply
                                                 the fitted body and object meshes in the world (StackFLOW's GT)

StackFLOW's derived files (its image path with ``RGBD_Images`` and ``color`` replaced)::

    ROOT/mask/<sub>/<obj>/Seg_<k>/Frames_Cam<c>/mask/<frame:05d>_person.jpg                 PointRend person mask
    ROOT/object_coor_maps/<sub>/<obj>/Seg_<k>/Frames_Cam<c>/obj_full_mask/<frame:05d>.jpg   whole object, half res.
    ROOT/object_coor_maps/<sub>/<obj>/Seg_<k>/Frames_Cam<c>/obj_coor/<frame:05d>.pkl        coordinate-map crop
    ROOT/openpose/<sub>/<obj>/Seg_<k>/Frames_Cam<c>/color/<frame:05d>_keypoints.json       OpenPose BODY_25

Conventions: the world is camera 1 (``Color.json`` has R = T = 0); a world point goes to camera c by
``x_c = Rodrigues(R_c) x + T_c`` (``R`` is an axis-angle vector, unlike BEHAVE's camera-to-world matrices); the
object is ``Rodrigues(ob_pose) (template - mean) + ob_trans`` in the world; SMPL-X bodies use 12 PCA hand components.

A sequence is named ``'<sub>_<obj>_<k>'`` (e.g. ``'01_03_0'``), an image ``'<sub>_<obj>_<k>_<cam>_<frame:05d>'``
(StackFLOW's ids). Every reader raises :class:`FileNotFoundError` or :class:`InterCapFormatError` naming the file,
the field and what was expected.
"""
import os
import os.path as osp
import random
from typing import Dict, List, Sequence, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from hoirecon.objects.catalogue import INTERCAP_OBJECTS
from .behave_io import BehaveFormatError, _dict_of, _field, _load_json, _load_pickle, transform_smplh_params

NUM_CAMERAS = 6
#: The real release's image size (width, height); nothing here assumes it: the calibration files hold no image
#: size, so the size of a (e.g. synthetic, reduced) set is the size of its images.
IMAGE_SIZE = (1920, 1080)
IMAGE_FOLDERS = ('RGBD_Images', 'RGBD_Individuals')
FIT_FOLDERS = ('Res', 'Res_Individuals')
CALIBRATION_FOLDER = osp.join('Data', 'calibration_third')
#: Folders of StackFLOW's derived files: person masks, object masks and coordinate maps.
PERSON_MASK_FOLDER = 'mask'
OBJECT_MAPS_FOLDER = 'object_coor_maps'
OPENPOSE_FOLDER = 'openpose'
#: SMPL-X fit fields kept from ``res_1.pkl`` and their sizes (hands: 12 PCA components).
SMPLX_FIT_FIELDS = {'betas': 10, 'global_orient': 3, 'transl': 3, 'body_pose': 63, 'left_hand_pose': 12,
                    'right_hand_pose': 12, 'jaw_pose': 3, 'leye_pose': 3, 'reye_pose': 3, 'expression': 10}
#: ``res_1.pkl`` fields that StackFLOW drops (the fitting camera and the VPoser embedding).
DROPPED_FIT_FIELDS = ('camera_rotation', 'camera_translation', 'pose_embedding')
#: StackFLOW's sequence split: 80 % of the sequences for training, shuffled with this seed.
SPLIT_SEED = 7
TRAIN_FRACTION = 0.8
LAYOUT_HINT = 'See docs/datasets.md ("InterCap") for the layout.'


class InterCapFormatError(BehaveFormatError):
    """An InterCap file exists but its content does not follow the format."""


def _require(path: str, what: str) -> str:
    if not osp.exists(path):
        raise FileNotFoundError(f'InterCap {what} not found: {path}. {LAYOUT_HINT}')
    return path


def _first_folder(root: str, names: Sequence[str], what: str) -> str:
    for name in names:
        if osp.isdir(osp.join(root, name)):
            return osp.join(root, name)
    raise FileNotFoundError(f'InterCap {what} folder not found in {root}: expected one of {list(names)}. '
                            f'{LAYOUT_HINT}')


def image_root(root: str) -> str:
    """``ROOT/RGBD_Images`` (first release) or ``ROOT/RGBD_Individuals`` (newer release), whichever exists."""
    return _first_folder(root, IMAGE_FOLDERS, 'image')


def fit_root(root: str) -> str:
    """``ROOT/Res`` or ``ROOT/Res_Individuals``, whichever exists."""
    return _first_folder(root, FIT_FOLDERS, 'fit')


# ----------------------------------------------------------------------------- names
def sequence_name(subject: int, obj: int, segment: int) -> str:
    """``'<sub:02d>_<obj:02d>_<segment>'``, StackFLOW's sequence id."""
    return f'{int(subject):02d}_{int(obj):02d}_{int(segment)}'


def parse_sequence_name(name: str) -> Tuple[str, str, str]:
    """``'01_03_0'`` -> ``('01', '03', '0')`` (subject, object id, segment), checked."""
    parts = name.split('_')
    if len(parts) != 3 or not all(part.isdigit() for part in parts) or not 1 <= int(parts[1]) <= len(INTERCAP_OBJECTS):
        raise ValueError(f"InterCap sequence name {name!r}: expected '<subject>_<object 01-10>_<segment>', "
                         "e.g. '01_03_0'.")
    return parts[0], parts[1], parts[2]


def sequence_object(name: str) -> str:
    """The object category of a sequence (``'01_03_0'`` -> ``'sports'``)."""
    return INTERCAP_OBJECTS[int(parse_sequence_name(name)[1]) - 1]


def sequence_dir(root: str, name: str, fits: bool = False) -> str:
    """The image folder ``.../<sub>/<obj>/Seg_<k>`` of a sequence (``fits=True``: the fit folder)."""
    subject, obj, segment = parse_sequence_name(name)
    return osp.join(fit_root(root) if fits else image_root(root), subject, obj, f'Seg_{segment}')


def list_sequences(root: str) -> List[str]:
    """Every sequence with an image folder, sorted."""
    images = image_root(root)
    names = []
    for subject in sorted(os.listdir(images)):
        for obj in sorted(os.listdir(osp.join(images, subject))) if osp.isdir(osp.join(images, subject)) else ():
            folder = osp.join(images, subject, obj)
            for seg in sorted(os.listdir(folder)) if osp.isdir(folder) else ():
                if seg.startswith('Seg_') and seg[4:].isdigit() and subject.isdigit() and obj.isdigit():
                    names.append(sequence_name(subject, obj, seg[4:]))
    return names


def image_path(root: str, name: str, camera: int, frame: int) -> str:
    """``.../Seg_<k>/Frames_Cam<camera>/color/<frame:05d>.jpg`` (cameras 1..6)."""
    return osp.join(sequence_dir(root, name), f'Frames_Cam{int(camera)}', 'color', f'{int(frame):05d}.jpg')


def list_frames(root: str, name: str, camera: int) -> List[int]:
    """Sorted frame numbers of one camera of a sequence (from the colour images)."""
    folder = osp.dirname(image_path(root, name, camera, 0))
    _require(folder, f'colour folder of camera {camera}')
    return sorted(int(f[:-4]) for f in os.listdir(folder) if f.endswith('.jpg') and f[:-4].isdigit())


def _derived_path(root: str, folder: str, name: str, camera: int, kind: str, file: str) -> str:
    subject, obj, segment = parse_sequence_name(name)
    return osp.join(root, folder, subject, obj, f'Seg_{segment}', f'Frames_Cam{int(camera)}', kind, file)


def person_mask_path(root: str, name: str, camera: int, frame: int) -> str:
    """StackFLOW's person mask ``mask/<sub>/<obj>/Seg_<k>/Frames_Cam<c>/mask/<frame:05d>_person.jpg``."""
    return _derived_path(root, PERSON_MASK_FOLDER, name, camera, 'mask', f'{int(frame):05d}_person.jpg')


def object_mask_path(root: str, name: str, camera: int, frame: int) -> str:
    """StackFLOW's whole-object mask (half resolution)
    ``object_coor_maps/<sub>/<obj>/Seg_<k>/Frames_Cam<c>/obj_full_mask/<frame:05d>.jpg``."""
    return _derived_path(root, OBJECT_MAPS_FOLDER, name, camera, 'obj_full_mask', f'{int(frame):05d}.jpg')


def object_coor_path(root: str, name: str, camera: int, frame: int) -> str:
    """StackFLOW's object coordinate map ``object_coor_maps/<sub>/<obj>/Seg_<k>/Frames_Cam<c>/obj_coor/<frame:05d>.pkl``
    (read with :func:`hoirecon.datasets.behave_io.load_correspondences`)."""
    return _derived_path(root, OBJECT_MAPS_FOLDER, name, camera, 'obj_coor', f'{int(frame):05d}.pkl')


def openpose_path(root: str, name: str, camera: int, frame: int) -> str:
    """StackFLOW's OpenPose detections ``openpose/<sub>/<obj>/Seg_<k>/Frames_Cam<c>/color/<frame:05d>_keypoints.json``
    (read with :func:`hoirecon.datasets.behave_io.load_body_keypoints`)."""
    return _derived_path(root, OPENPOSE_FOLDER, name, camera, 'color', f'{int(frame):05d}_keypoints.json')


def gt_mesh_paths(root: str, name: str, frame: int) -> Tuple[str, str]:
    """The fitted meshes of a frame in the world: ``.../Seg_<k>/Mesh/<frame:05d>_second.ply`` (body) and
    ``<frame:05d>_second_obj.ply`` (object), in the fit folder."""
    folder = osp.join(sequence_dir(root, name, fits=True), 'Mesh')
    return osp.join(folder, f'{int(frame):05d}_second.ply'), osp.join(folder, f'{int(frame):05d}_second_obj.ply')


def image_id(name: str, camera: int, frame: int) -> str:
    """StackFLOW's image id ``'<sub>_<obj>_<k>_<camera>_<frame:05d>'``."""
    return f'{name}_{int(camera)}_{int(frame):05d}'


# ----------------------------------------------------------------------------- cameras
def calibration_path(root: str, camera: int) -> str:
    """``Data/calibration_third/Color.json`` for camera 1, ``Color_<c>.json`` for cameras 2..6."""
    if not 1 <= int(camera) <= NUM_CAMERAS:
        raise ValueError(f'InterCap camera {camera}: cameras are numbered 1..{NUM_CAMERAS}.')
    file = 'Color.json' if int(camera) == 1 else f'Color_{int(camera)}.json'
    return osp.join(root, CALIBRATION_FOLDER, file)


def load_camera(path: str) -> dict:
    """Read one ``Color*.json``.

    Returns:
        dict with ``K`` (3, 3) float64 intrinsics from ``f`` = (fx, fy) and ``c`` = (cx, cy) [pixels], ``dist`` (n,)
        the OpenCV distortion ``k``, ``R`` (3, 3) and ``T`` (3,) [m] mapping world (camera 1) points to this camera,
        ``x_c = R x + T`` (the file stores ``R`` as an axis-angle vector).
    """
    data = _dict_of(_load_json(_require(path, 'calibration'), 'InterCap colour calibration (Color*.json)'), path,
                    'Color*.json')
    f = _field(data, 'f', (2,), path, np.float64)
    c = _field(data, 'c', (2,), path, np.float64)
    rotvec = _field(data, 'R', (3,), path, np.float64)
    trans = _field(data, 'T', (3,), path, np.float64)
    dist = np.asarray(data.get('k', []), np.float64).reshape(-1)
    if np.any(f <= 0):
        raise InterCapFormatError(f"{path}: focal lengths 'f' must be positive, got {f.tolist()}.")
    K = np.array([[f[0], 0.0, c[0]], [0.0, f[1], c[1]], [0.0, 0.0, 1.0]])
    return dict(K=K, dist=dist, R=Rotation.from_rotvec(rotvec).as_matrix(), T=trans)


def load_cameras(root: str) -> Dict[int, dict]:
    """The six cameras ``{1: load_camera(...), ..., 6: ...}``."""
    return {cam: load_camera(calibration_path(root, cam)) for cam in range(1, NUM_CAMERAS + 1)}


def world_to_camera(points: np.ndarray, camera: dict) -> np.ndarray:
    """World (camera 1) points (..., 3) to ``camera``: ``x_c = R x + T``."""
    return np.asarray(points) @ camera['R'].T + camera['T']


# ----------------------------------------------------------------------------- fits
def load_smplx_fits(path: str) -> Dict[str, np.ndarray]:
    """Read ``res_1.pkl``: the SMPL-X fit of every frame of a sequence (world = camera 1).

    Returns:
        ``{field: (N, d) float32}`` for the fields of :data:`SMPLX_FIT_FIELDS` (``body_pose`` (N, 63) axis-angle,
        hands (N, 12) PCA coefficients, ``transl`` (N, 3) m, ...); the fitting camera and ``pose_embedding`` are
        dropped. Frame ``i`` of the list is frame number ``i`` of the images.
    """
    frames = _load_pickle(_require(path, 'SMPL-X fits (res_1.pkl)'), 'InterCap SMPL-X fits (res_1.pkl)')
    if not isinstance(frames, (list, tuple)) or not frames:
        raise InterCapFormatError(f'{path}: expected a non-empty list of per-frame SMPL-X dicts, got '
                                  f'{type(frames).__name__}.')
    out = {key: np.empty((len(frames), size), np.float32) for key, size in SMPLX_FIT_FIELDS.items()}
    for i, frame in enumerate(frames):
        frame = _dict_of(frame, f'{path} [frame {i}]', 'an SMPL-X parameter dict')
        for key, size in SMPLX_FIT_FIELDS.items():
            out[key][i] = _field(frame, key, (size,), f'{path} [frame {i}]')
    return out


def load_object_fits(path: str) -> Dict[str, np.ndarray]:
    """Read ``res_2.pkl``: ``{'angle': (N, 3) axis-angle, 'trans': (N, 3) m}`` of the object in the world.

    Accepts StackFLOW's dict of arrays (``ob_pose``, ``ob_trans``) or a list of per-frame dicts with those keys.
    """
    data = _load_pickle(_require(path, 'object fits (res_2.pkl)'), 'InterCap object fits (res_2.pkl)')
    if isinstance(data, (list, tuple)):
        rows = [_dict_of(row, f'{path} [frame {i}]', 'an object pose dict') for i, row in enumerate(data)]
        data = {key: np.stack([np.asarray(row.get(key, np.nan), np.float64).reshape(-1) for row in rows])
                for key in ('ob_pose', 'ob_trans')}
    data = _dict_of(data, path, 'object fits')
    num = len(np.asarray(data.get('ob_pose', [])))
    return dict(angle=_field(data, 'ob_pose', (num, 3), path), trans=_field(data, 'ob_trans', (num, 3), path))


# ----------------------------------------------------------------------------- split
def split_sequences(names: Sequence[str], seed: int = SPLIT_SEED,
                    train_fraction: float = TRAIN_FRACTION) -> Dict[str, List[str]]:
    """A seeded split by sequence, ``{'train': [...], 'test': [...]}`` (each sorted).

    The sorted names are shuffled with ``random.Random(seed)`` and the first ``round(train_fraction * n)`` train.
    This is hoirecon's own rule with StackFLOW's seed and ratio: StackFLOW ships its split as a file
    (``intercap_split.json``), which :func:`load_split` reads and takes precedence when given.
    """
    ordered = sorted(set(names))
    random.Random(seed).shuffle(ordered)
    num_train = int(round(train_fraction * len(ordered)))
    return dict(train=sorted(ordered[:num_train]), test=sorted(ordered[num_train:]))


def load_split(path: str) -> Dict[str, List[str]]:
    """Read a split file ``{"train": ["01_01_0", ...], "test": [...]}`` (StackFLOW's ``intercap_split.json``)."""
    data = _dict_of(_load_json(_require(path, 'split file'), 'InterCap split (intercap_split.json)'), path, 'split')
    for key in ('train', 'test'):
        if not isinstance(data.get(key), list):
            raise InterCapFormatError(f"{path}: '{key}' must be a list of sequence names like '01_03_0'.")
        for name in data[key]:
            parse_sequence_name(name)
    overlap = set(data['train']) & set(data['test'])
    if overlap:
        raise InterCapFormatError(f'{path}: sequences in both train and test: {sorted(overlap)[:5]}.')
    return {'train': list(data['train']), 'test': list(data['test'])}


# ----------------------------------------------------------------------------- world -> camera
def object_pose_to_camera(angle: np.ndarray, trans: np.ndarray, camera: dict) -> Tuple[np.ndarray, np.ndarray]:
    """World object pose (axis-angle (3,), (3,) m) -> ``camera``: ``(R_c R(angle) (3, 3), R_c trans + T_c (3,))``."""
    rot = Rotation.from_rotvec(np.asarray(angle, np.float64)).as_matrix()
    return camera['R'] @ rot, camera['R'] @ np.asarray(trans, np.float64) + camera['T']


def smplx_params_to_camera(global_orient: np.ndarray, transl: np.ndarray, root_joint: np.ndarray,
                           camera: dict) -> Tuple[np.ndarray, np.ndarray]:
    """World SMPL-X ``global_orient`` (3,) / ``transl`` (3,) -> ``camera``, exactly.

    SMPL-X rotates about its rest root joint J0 (``root_joint`` (3,), from the fit's betas) before adding ``transl``,
    so ``transl_c = R_c (transl + J0) + T_c - J0`` and ``orient_c = R_c orient``
    (:func:`hoirecon.datasets.behave_io.transform_smplh_params` with the camera's world-to-camera transform).
    """
    return transform_smplh_params(np.asarray(global_orient), np.asarray(transl), root_joint, camera['R'], camera['T'])
