"""Readers of the BEHAVE on-disk files and the exact world <-> camera conversions.

Every reader checks what it loads and raises an error that names the file,
the field and what was expected:

* :class:`FileNotFoundError` for a missing file (with the layout it belongs to);
* :class:`BehaveFormatError` (a :class:`ValueError`) for a file that exists but
  is unreadable (corrupt JSON/pickle/image) or has a missing or mis-shaped field.

Conventions (docs/datasets.md, "Real BEHAVE: which files, where"): ``config.json`` maps camera-k
coordinates to the world (``x_w = R x_k + t``), the world is the k1 colour
camera frame, cameras use OpenCV axes, object vertices are
``R(angle) (template - mean(template)) + trans`` and SMPL-H ``trans`` is added
after rotating about the rest root joint J0.
"""
import json
import os
import os.path as osp
import pickle

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from hoirecon.structures.body_skeletons import NUM_BETAS

NUM_KINECTS = 4
SMPLH_POSE_DIM = 156
NUM_BODY25 = 25

#: Frame-folder files of one kinect: kind -> candidate names, first one is BEHAVE's.
FRAME_FILE_NAMES = {
    'color': ('k{k}.color.jpg', ),
    'person_mask': ('k{k}.person_mask.jpg', 'k{k}.person_mask.png'),
    'obj_rend_mask': ('k{k}.obj_rend_mask.jpg', 'k{k}.obj_rend_mask.png', 'k{k}.obj_mask.png', 'k{k}.obj_mask.jpg'),
    'obj_rend_full': ('k{k}.obj_rend_full.jpg', 'k{k}.obj_rend_full.png'),
    'keypoints': ('k{k}.color.json', ),
}
#: Detectron class names that BEHAVE sometimes uses as the object folder name.
OBJECT_FOLDER_ALIASES = {
    'chairwood': 'chair',
    'chairblack': 'chair',
    'basketball': 'sports ball',
    'yogaball': 'sports ball',
}
#: Simplified-template suffixes in the order StackFLOW searches them.


class BehaveFormatError(ValueError):
    """A BEHAVE file exists but its content does not follow the format."""


# ----------------------------------------------------------------------------- low-level loaders
def _require_file(path: str, what: str) -> str:
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}. See docs/datasets.md ("Real BEHAVE: which files, where") '
                                'for the BEHAVE layout.')
    return path


def _load_json(path: str, what: str):
    _require_file(path, what)
    try:
        with open(path, 'r') as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BehaveFormatError(f'{path}: not valid JSON ({err}); expected {what}. '
                                'Re-download or regenerate the file.') from err


def _load_pickle(path: str, what: str):
    _require_file(path, what)
    try:
        with open(path, 'rb') as f:
            return pickle.load(f, encoding='latin1')
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError,
            ValueError) as err:
        raise BehaveFormatError(f'{path}: cannot unpickle {what} ({type(err).__name__}: {err}). '
                                'The file is corrupt or truncated; re-download or regenerate it.') from err


def _dict_of(data, path: str, what: str) -> dict:
    if not isinstance(data, dict):
        raise BehaveFormatError(f'{path}: expected {what} as a dict, got {type(data).__name__}.')
    return data


def _field(data: dict, key: str, shape: tuple, path: str, dtype=np.float32) -> np.ndarray:
    """Return ``data[key]`` as a finite array of ``shape``, or raise naming the file and field."""
    if key not in data:
        raise BehaveFormatError(f"{path}: missing key '{key}' (found keys {sorted(data)}); expected an array of "
                                f'shape {shape}.')
    try:
        value = np.asarray(data[key], dtype=dtype)
    except (TypeError, ValueError) as err:
        raise BehaveFormatError(f"{path}: key '{key}' is not numeric ({err}); expected shape {shape}.") from err
    if value.size == int(np.prod(shape)) and value.shape != shape:
        value = value.reshape(shape)  # e.g. a (1, 156) row or a flat list of 75 keypoint numbers
    if value.shape != shape:
        raise BehaveFormatError(f"{path}: key '{key}' has shape {value.shape}, expected {shape}.")
    if not np.all(np.isfinite(value)):
        raise BehaveFormatError(f"{path}: key '{key}' contains NaN or inf values.")
    return value


# ----------------------------------------------------------------------------- calibration
def load_intrinsics(path: str) -> dict:
    """Read the colour intrinsics of one kinect from ``calibration.json``.

    Args:
        path: ``calibs/intrinsics/<k>/calibration.json``.

    Returns:
        dict with ``fx, fy, cx, cy`` (float, pixels), ``width, height`` (int,
        pixels) and ``dist`` ((n,) float64 OpenCV distortion, ``opencv[4:]``;
        empty when the file has no ``opencv`` list).
    """
    data = _dict_of(_load_json(path, 'kinect intrinsics (calibration.json)'), path, 'calibration.json')
    if 'color' not in data:
        raise BehaveFormatError(f"{path}: missing key 'color' (found {sorted(data)}); expected the colour-camera "
                                'intrinsics {fx, fy, cx, cy, width, height, opencv}.')
    color = _dict_of(data['color'], path, "'color'")
    out = {}
    for key in ('fx', 'fy', 'cx', 'cy'):
        out[key] = float(_field(color, key, (), f'{path} [color]', np.float64))
    for key in ('width', 'height'):
        out[key] = int(_field(color, key, (), f'{path} [color]', np.float64))
        if out[key] <= 0:
            raise BehaveFormatError(f"{path}: color '{key}' is {out[key]}, expected a positive image size.")
    opencv = np.asarray(color.get('opencv', []), dtype=np.float64).reshape(-1)
    out['dist'] = opencv[4:]
    return out


def intrinsic_matrix(intrinsics: dict) -> np.ndarray:
    """(3, 3) float64 camera matrix from a :func:`load_intrinsics` dict."""
    return np.array([[intrinsics['fx'], 0., intrinsics['cx']], [0., intrinsics['fy'], intrinsics['cy']],
                     [0., 0., 1.]])


def load_extrinsics(path: str) -> tuple:
    """Read the camera-k -> world transform from ``config.json``.

    Args:
        path: ``calibs/Date0x/config/<k>/config.json``.

    Returns:
        ``(R, t)``: (3, 3) and (3,) float64 with ``x_world = R @ x_k + t``
        (metres, world = k1 colour camera).
    """
    data = _dict_of(_load_json(path, 'kinect extrinsics (config.json)'), path, 'config.json')
    rot = _field(data, 'rotation', (3, 3), path, np.float64)
    trans = _field(data, 'translation', (3, ), path, np.float64)
    if abs(np.linalg.det(rot) - 1.0) > 1e-3 or not np.allclose(rot @ rot.T, np.eye(3), atol=1e-3):
        raise BehaveFormatError(f"{path}: 'rotation' is not a rotation matrix (det {np.linalg.det(rot):.4f}); "
                                'expected 9 row-major numbers of an orthonormal matrix.')
    return rot, trans


def load_sequence_info(seq_dir: str) -> dict:
    """Read ``sequences/<seq>/info.json`` and resolve its calibration folders.

    Returns:
        The JSON content plus ``config_dir`` and ``intrinsic_dir``: absolute
        paths of the ``config`` and ``intrinsic`` entries (relative to the
        sequence folder in the file).
    """
    path = osp.join(seq_dir, 'info.json')
    info = _dict_of(_load_json(path, 'sequence info (info.json)'), path, 'info.json')
    for key in ('config', 'intrinsic', 'cat', 'gender'):
        if key not in info:
            raise BehaveFormatError(f"{path}: missing key '{key}' (found {sorted(info)}); info.json needs config, "
                                    'intrinsic, cat, gender and kinects.')
    if info['gender'] not in ('male', 'female', 'neutral'):
        raise BehaveFormatError(f"{path}: 'gender' is {info['gender']!r}, expected 'male' or 'female'.")
    info = dict(info)
    info.setdefault('kinects', list(range(NUM_KINECTS)))
    info['config_dir'] = osp.normpath(osp.join(seq_dir, info['config']))
    info['intrinsic_dir'] = osp.normpath(osp.join(seq_dir, info['intrinsic']))
    return info


def load_split(path: str) -> dict:
    """Read ``split.json``: ``{'train': [seq names], 'test': [seq names]}``."""
    data = _dict_of(_load_json(path, 'train/test split (split.json)'), path, 'split.json')
    for key in ('train', 'test'):
        if not isinstance(data.get(key), list):
            raise BehaveFormatError(f"{path}: '{key}' must be a list of sequence names, got "
                                    f'{type(data.get(key)).__name__}.')
    overlap = set(data['train']) & set(data['test'])
    if overlap:
        raise BehaveFormatError(f'{path}: sequences listed in both train and test: {sorted(overlap)[:5]}.')
    return {'train': list(data['train']), 'test': list(data['test'])}


# ----------------------------------------------------------------------------- fits
def load_person_fit(path: str) -> dict:
    """Read ``person/fit02/person_fit.pkl`` (SMPL-H in the world frame).

    Returns:
        dict with ``pose`` (156,) axis-angle (global orient, 21 body joints, 15
        left-hand and 15 right-hand joints), ``betas`` (10,) and ``trans`` (3,)
        metres, all float32.
    """
    data = _dict_of(_load_pickle(path, 'SMPL-H fit (person_fit.pkl)'), path, 'the SMPL-H fit {pose, betas, trans}')
    return {
        'pose': _field(data, 'pose', (SMPLH_POSE_DIM, ), path),
        'betas': _field(data, 'betas', (NUM_BETAS, ), path),
        'trans': _field(data, 'trans', (3, ), path),
    }


def load_object_fit(path: str) -> dict:
    """Read ``<obj>/fit01/<obj>_fit.pkl``: ``angle`` (3,) axis-angle and ``trans`` (3,) metres, float32."""
    data = _dict_of(_load_pickle(path, 'object fit (<obj>_fit.pkl)'), path, 'the object fit {angle, trans}')
    return {'angle': _field(data, 'angle', (3, ), path), 'trans': _field(data, 'trans', (3, ), path)}


def find_object_fit(frame_dir: str, obj_name: str) -> str:
    """Path of the object fit in a frame folder, trying BEHAVE's detectron folder names too."""
    names = [obj_name] + ([OBJECT_FOLDER_ALIASES[obj_name]] if obj_name in OBJECT_FOLDER_ALIASES else [])
    tried = [osp.join(frame_dir, name, 'fit01', f'{name}_fit.pkl') for name in names]
    for path in tried:
        if osp.isfile(path):
            return path
    raise FileNotFoundError(f'object fit of {obj_name!r} not found; tried {tried}.')


# ----------------------------------------------------------------------------- per-image files
def find_frame_file(frame_dir: str, kinect: int, kind: str) -> str:
    """Path of one per-kinect file of a frame folder (BEHAVE's name first, then its fallbacks).

    Args:
        frame_dir: ``sequences/<seq>/t0003.000``.
        kinect: Camera index 0..3.
        kind: One of ``FRAME_FILE_NAMES`` (color, person_mask, obj_rend_mask,
            obj_rend_full, keypoints).
    """
    if kind not in FRAME_FILE_NAMES:
        raise KeyError(f'unknown frame file kind {kind!r}; choose from {sorted(FRAME_FILE_NAMES)}.')
    tried = [osp.join(frame_dir, name.format(k=kinect)) for name in FRAME_FILE_NAMES[kind]]
    for path in tried:
        if osp.isfile(path):
            return path
    raise FileNotFoundError(f'{kind} file of kinect {kinect} missing in {frame_dir}; tried {tried}.')


def load_image(path: str) -> np.ndarray:
    """Read a colour image as (H, W, 3) uint8 RGB."""
    _require_file(path, 'colour image')
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise BehaveFormatError(f'{path}: cannot decode the image (corrupt or not a jpg/png).')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def load_mask(path: str, expected_size: tuple = None) -> np.ndarray:
    """Read a 0/255 mask (jpg or png) and binarise it with ``> 127``.

    Args:
        path: Mask file.
        expected_size: Optional (width, height) in pixels to check against
            (e.g. from ``calibration.json``).

    Returns:
        (H, W) bool.
    """
    _require_file(path, 'mask image')
    mask = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise BehaveFormatError(f'{path}: cannot decode the mask (corrupt or not a jpg/png).')
    if expected_size is not None and (mask.shape[1], mask.shape[0]) != tuple(expected_size):
        raise BehaveFormatError(f'{path}: mask is {mask.shape[1]}x{mask.shape[0]} pixels, expected '
                                f'{expected_size[0]}x{expected_size[1]} (the width/height of calibration.json).')
    return mask > 127


def load_body_keypoints(path: str) -> np.ndarray:
    """Read OpenPose BODY_25 keypoints as (25, 3) float32 ``(x px, y px, confidence)``.

    Two layouts: BEHAVE's ``k*.color.json`` (``{"body_joints": [75 floats]}``) and OpenPose's own JSON
    (``{"people": [{"pose_keypoints_2d": [75 floats]}, ...]}``, e.g. StackFLOW's ``*.color_keypoints.json``), of
    which the first person is used (as StackFLOW); a file with no person gives all zeros (no detection).
    """
    data = _dict_of(_load_json(path, 'OpenPose keypoints'), path,
                    '{"body_joints": [75 floats]} or {"people": [{"pose_keypoints_2d": [75 floats]}]}')
    if 'people' in data and 'body_joints' not in data:
        people = data['people']
        if not isinstance(people, list):
            raise BehaveFormatError(f'{path}: "people" must be a list of persons, got {type(people).__name__}.')
        if not people:
            return np.zeros((NUM_BODY25, 3), np.float32)
        person = _dict_of(people[0], path, '{"pose_keypoints_2d": [75 floats]}')
        return _field(person, 'pose_keypoints_2d', (NUM_BODY25, 3), path)
    return _field(data, 'body_joints', (NUM_BODY25, 3), path)


#: StackFLOW renders its object coordinate maps at half the image resolution (``render_obj_coor_maps.py``).
COORDINATE_MAP_SCALE = 2.0


def load_correspondences(path: str, map_scale: float = COORDINATE_MAP_SCALE) -> dict:
    """Read an object correspondence pickle: EPro-PnP-style rows, or a StackFLOW coordinate map.

    Two formats are read (the file decides):

    - rows ``{x3d (n, 3), x2d (n, 2), w2d (n, 2)}`` (``epro_pnp/.../k<k>.obj_coor.pkl``, StackFLOW's demo files);
    - a coordinate map ``{u, l, h, w, coor}`` (``object_coor_maps[_extend]/.../k<k>.obj_coor.pkl``): ``coor`` (h, w, 3)
      holds the object-frame point seen at each pixel of the box whose top-left pixel is (row ``u``, column ``l``) of
      an image rendered at ``1 / map_scale`` resolution, zeros off the object; it becomes one row per object pixel
      (:func:`coordinate_map_correspondences`).

    Returns:
        ``{}`` when the object is invisible, else ``x3d`` (n, 3) object-frame metres, ``x2d`` (n, 2) full-resolution
        pixels and ``w2d`` (n, 2) weights, all float32.
    """
    data = _dict_of(_load_pickle(path, 'object correspondences (obj_coor.pkl)'), path, '{x3d, x2d, w2d}')
    if not data:
        return {}
    if 'coor' in data:
        return coordinate_map_correspondences(data, map_scale, path)
    if 'x3d' not in data:
        raise BehaveFormatError(f"{path}: missing key 'x3d' (found {sorted(data)}); expected x3d (n,3), x2d (n,2) "
                                'and w2d (n,2), a coordinate map {u, l, h, w, coor}, or an empty dict.')
    num = len(np.asarray(data['x3d']))
    return {
        'x3d': _field(data, 'x3d', (num, 3), path),
        'x2d': _field(data, 'x2d', (num, 2), path),
        'w2d': _field(data, 'w2d', (num, 2), path),
    }


def coordinate_map_correspondences(data: dict, map_scale: float = COORDINATE_MAP_SCALE, path: str = 'map') -> dict:
    """Rows ``x3d / x2d / w2d`` of a StackFLOW coordinate map ``{u, l, h, w, coor}``.

    The pixel (row ``u + i``, column ``l + j``) of the 1 / ``map_scale`` image has its centre at full-resolution pixel
    ``map_scale * (l + j, u + i)`` (the map's camera is the full one with ``fx, fy, cx, cy`` divided by
    ``map_scale``); pixels whose ``coor`` is all zero are off the object and left out; every row weighs 1.
    """
    coor = np.asarray(data.get('coor'), dtype=np.float32)
    if coor.ndim != 3 or coor.shape[-1] != 3:
        raise BehaveFormatError(f"{path}: 'coor' must be an (h, w, 3) coordinate map, got shape {coor.shape}.")
    for key in ('u', 'l'):
        if key not in data:
            raise BehaveFormatError(f"{path}: coordinate map without '{key}' (found {sorted(data)}).")
    rows, cols = np.nonzero(np.any(coor != 0, axis=-1))
    x2d = np.stack([cols + float(data['l']), rows + float(data['u'])], axis=1) * map_scale
    return {'x3d': coor[rows, cols].astype(np.float32), 'x2d': x2d.astype(np.float32),
            'w2d': np.ones((len(rows), 2), np.float32)}


# ----------------------------------------------------------------------------- frame names
def frame_folder_name(seconds: float) -> str:
    """BEHAVE frame-folder name, ``'t{:08.3f}'``: 3.0 -> ``'t0003.000'``."""
    return f't{seconds:08.3f}'


def list_frame_folders(seq_dir: str) -> list:
    """Sorted frame-folder names (``t*.000``) of a sequence folder."""
    if not osp.isdir(seq_dir):
        raise FileNotFoundError(f'sequence folder not found: {seq_dir}.')
    return sorted(name for name in os.listdir(seq_dir) if name.startswith('t') and name[1:].replace('.', '').isdigit()
                  and osp.isdir(osp.join(seq_dir, name)))


# ----------------------------------------------------------------------------- world <-> camera
def invert_rigid(rot: np.ndarray, trans: np.ndarray) -> tuple:
    """Inverse of ``x' = R x + t``: returns ``(R^T, -R^T t)``."""
    rot = np.asarray(rot, dtype=np.float64)
    return rot.T, -rot.T @ np.asarray(trans, dtype=np.float64)


def transform_points(points: np.ndarray, rot: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Apply ``x' = R x + t`` to (..., 3) points."""
    return np.asarray(points) @ np.asarray(rot).T + np.asarray(trans)


def world_to_camera_points(points: np.ndarray, cam_to_world_R: np.ndarray, cam_to_world_t: np.ndarray) -> np.ndarray:
    """World points (..., 3) to camera k, given camera k's ``config.json`` (R, t): ``x_k = R^T (x_w - t)``."""
    return transform_points(points, *invert_rigid(cam_to_world_R, cam_to_world_t))


def object_vertices(template_centred: np.ndarray, angle: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Posed object vertices ``R(angle) v + trans`` (V, 3) from a centred template (V, 3)."""
    return transform_points(template_centred, Rotation.from_rotvec(np.asarray(angle, np.float64)).as_matrix(), trans)


def object_pose_to_camera(angle: np.ndarray, trans: np.ndarray, cam_to_world_R: np.ndarray,
                          cam_to_world_t: np.ndarray) -> tuple:
    """World object pose -> camera k: ``R_k = R^T R(angle)``, ``t_k = R^T (trans - t)``.

    Returns:
        ``(rotmat (3, 3), trans (3,))`` float64 in camera k.
    """
    rot_cw, trans_cw = invert_rigid(cam_to_world_R, cam_to_world_t)
    rot_obj = Rotation.from_rotvec(np.asarray(angle, np.float64)).as_matrix()
    return rot_cw @ rot_obj, rot_cw @ np.asarray(trans, np.float64) + trans_cw


def transform_smplh_params(pose: np.ndarray, trans: np.ndarray, root_joint: np.ndarray, rot: np.ndarray,
                           offset: np.ndarray) -> tuple:
    """Express SMPL(-H) parameters in another frame, exactly (``x' = rot x + offset``).

    SMPL rotates about the rest root joint J0 before adding ``trans``, so the
    new translation is ``rot (trans + J0) + offset - J0`` (not ``rot trans + offset``).

    Args:
        pose: (..., 3k) axis-angle; only the first 3 numbers (global orient) change.
        trans: (..., 3) translation in metres.
        root_joint: (..., 3) rest root joint J0 for the body's betas
            (``SMPLH.rest_root_joint(betas)``).
        rot, offset: (3, 3) rotation and (3,) offset of the frame change.

    Returns:
        ``(pose', trans')`` with the input dtypes.
    """
    pose = np.asarray(pose)
    rot = np.asarray(rot, dtype=np.float64)
    orient = Rotation.from_rotvec(pose[..., :3].reshape(-1, 3).astype(np.float64)).as_matrix()
    new_orient = Rotation.from_matrix(rot @ orient).as_rotvec().reshape(pose[..., :3].shape)
    new_pose = pose.copy()
    new_pose[..., :3] = new_orient
    root = np.asarray(root_joint, dtype=np.float64)
    new_trans = (np.asarray(trans, np.float64) + root) @ rot.T + np.asarray(offset, np.float64) - root
    return new_pose, new_trans.astype(np.asarray(trans).dtype)


def smplh_params_to_camera(pose: np.ndarray, trans: np.ndarray, root_joint: np.ndarray, cam_to_world_R: np.ndarray,
                           cam_to_world_t: np.ndarray) -> tuple:
    """World SMPL-H fit -> camera k: ``orient_k = R^T orient``, ``trans_k = R^T (trans + J0 - t) - J0``.

    This is the exact formula of the BEHAVE camera conventions (docs/datasets.md) (StackFLOW's BEHAVE
    path drops the J0 terms). Arguments as :func:`transform_smplh_params`, with
    camera k's ``config.json`` (R, t).
    """
    return transform_smplh_params(pose, trans, root_joint, *invert_rigid(cam_to_world_R, cam_to_world_t))
