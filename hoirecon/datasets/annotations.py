"""The BEHAVE annotation cache: one pass over the dataset that writes every per-image target to one ``.npz``.

``build_annotations`` reads the BEHAVE tree (real or synthetic, ``docs/datasets.md``) and writes
``<annotation_dir>/behave_<split>.npz`` plus a JSON sidecar ``behave_<split>.json`` with the parameters, so that
training epochs never parse pickles, masks or JSON files again. The ``.npz`` holds one stacked array per field
(:data:`ANNOTATION_FIELDS`; strings as fixed-width unicode) and loads with ``allow_pickle=False``.

Conventions: everything in the colour-camera frame of the image's kinect (OpenCV axes, metres); boxes are
``x1, y1, x2, y2`` pixel *edges* (a mask pixel at column ``u`` covers ``[u - 0.5, u + 0.5]``, pixel centres at
integers); the SMPL-H translation uses the exact frame change ``trans_k = R^T (trans + J0 - T) - J0``.

The training body model is a source's: the male SMPL-H for BEHAVE and BEHAVE-extended (StackFLOW's SMPLHLayer
male), the neutral SMPL-X for InterCap (its SMPLXLayer neutral). The fields ``betas_male`` / ``transl_male`` /
``joints_3d`` hold that model's betas, translation and joints; the names say "male" for compatibility with the
BEHAVE caches, and for InterCap they hold the neutral SMPL-X model's.
"""
import json
import os
import os.path as osp
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from scipy.spatial.transform import Rotation
from tqdm import tqdm

from hoirecon.evaluation.functional.visibility import object_visibility_ratio, object_visibility_ratio_from_person
from hoirecon.structures.body_skeletons import NUM_BODY_JOINTS, NUM_HAND_JOINTS
from hoirecon.structures.file_layout import correspondence_file
from hoirecon.models.utils import hoi_frame
from hoirecon.objects import BEHAVE_OBJECTS, ObjectLibrary
from hoirecon.objects.catalogue import MAX_KEYPOINTS
from hoirecon.registry import BODY_MODELS
from .behave_io import (BehaveFormatError, find_frame_file, find_object_fit, intrinsic_matrix, list_frame_folders,
                        load_body_keypoints, load_extrinsics, load_intrinsics, load_mask, load_object_fit,
                        load_person_fit, load_sequence_info, load_split, object_pose_to_camera, smplh_params_to_camera,
                        world_to_camera_points)

#: Bump when the content of the cache changes; a cache of another version must be rebuilt.
ANNOTATION_VERSION = 1
DEFAULT_BODY_MODEL = dict(type='SMPLH', model_path='surrogate', gender='male')
#: The training body models a cache can be made for: model type -> gender (StackFLOW: SMPL-H male for BEHAVE,
#: SMPL-X neutral for InterCap).
TRAINING_BODY_MODELS = {'SMPLH': 'male', 'SMPLX': 'neutral'}
#: Settings of the training-model betas fit (StackFLOW: 100 Adam steps, lr 0.1, L1 on vertices + joints).
DEFAULT_FIT_CFG = dict(steps=100, lr=0.1, max_poses_per_shape=16, bodies_per_chunk=64)
#: Bodies per forward pass of the body model.
FORWARD_CHUNK = 256

_F32, _F64, _I64 = np.float32, np.float64, np.int64
#: field -> (per-image shape, dtype); ``str`` fields are stored as fixed-width unicode.
ANNOTATION_FIELDS: Dict[str, Tuple[tuple, type]] = {
    'img_id': ((), str),  # '{day}_{sub}_{obj}_{inter}_{frame}_{kinect}' (StackFLOW)
    'sequence': ((), str),
    'frame': ((), str),  # frame folder, e.g. 't0003.000'
    'kinect': ((), _I64),
    'img_path': ((), str),  # paths relative to the data root
    'person_mask_path': ((), str),
    'object_mask_path': ((), str),  # visible (occlusion-aware) object mask
    'object_full_mask_path': ((), str),  # full object mask (or the visible one when no full mask exists)
    'object_full_mask_scale': ((), _I64),  # 1: image resolution, 2: StackFLOW's half-resolution mask_full
    'keypoints_path': ((), str),  # '' when the OpenPose file is missing
    'corr_path': ((), str),  # epro_pnp/<seq>/<frame>/k<k>.obj_coor.pkl, '' when missing
    'gender': ((), str),
    'object_name': ((), str),
    'object_label': ((), _I64),
    'cam_K': ((3, 3), _F64),
    'image_size': ((2, ), _I64),  # (width, height) pixels, from calibration.json
    'person_box': ((4, ), _F32),  # xyxy pixel edges, zeros for an empty mask
    'object_box': ((4, ), _F32),  # from the FULL object mask
    'hoi_box': ((4, ), _F32),  # union of the non-empty person and object boxes
    'visibility': ((), _F32),  # visible / full object pixels (evaluation.functional.object_visibility_ratio)
    'betas': ((10, ), _F32),  # the ground-truth fit (gendered SMPL-H; SMPL-X for InterCap)
    'global_orient': ((3, 3), _F32),
    'body_pose': ((21, 3, 3), _F32),
    'hand_pose': ((30, 3, 3), _F32),  # left (15) then right (15) finger joints (the skeleton's last 30)
    'transl': ((3, ), _F32),  # exact camera-frame translation of the ground-truth fit
    'hoi_R': ((3, 3), _F32),  # = global_orient
    'hoi_t': ((3, ), _F32),  # camera-frame posed root joint J0
    'object_R': ((3, 3), _F32),
    'object_t': ((3, ), _F32),
    'rel_R': ((3, 3), _F32),  # hoi_R^T object_R
    'rel_t': ((3, ), _F32),  # hoi_R^T (object_t - hoi_t)
    # the training body model's (male SMPL-H; neutral SMPL-X for InterCap) betas fitted to the body (a copy for
    # subjects of the model's gender); the name is kept for compatibility
    'betas_male': ((10, ), _F32),
    'transl_male': ((3, ), _F32),  # training-model translation putting its root joint at hoi_t
    'joints_3d': ((NUM_BODY_JOINTS, 3), _F32),  # 22 body joints of the training model, camera frame
    'person_kpts': ((25, 3), _F32),  # OpenPose BODY_25 (x px, y px, confidence), zeros when missing
    'object_kpts_3d': ((MAX_KEYPOINTS, 3), _F32),  # object frame, zero-padded
    'object_kpts_weights': ((MAX_KEYPOINTS, ), _F32),  # 1 for real keypoints, 0 for padding
}


# ----------------------------------------------------------------------------- small helpers
def annotation_files(annotation_dir: str, split: str, dataset: str = 'behave') -> Tuple[str, str]:
    """``(npz path, JSON sidecar path)`` of a split's cache: ``<dataset>_<split>.{npz,json}`` (``dataset`` is the
    frame source's name, 'behave' or 'behave_extended')."""
    stem = osp.join(annotation_dir, f'{dataset}_{split}')
    return stem + '.npz', stem + '.json'


def image_id(sequence: str, frame: str, kinect: int) -> str:
    """StackFLOW's image id ``'{day}_{sub}_{obj}_{inter}_{frame}_{kinect}'``.

    ``Date03_Sub04_keyboard_typing``, ``t0026.000``, 3 -> ``'3_4_keyboard_typing_026_3'``; ``inter`` is ``'none'``
    for three-part sequence names. Frames at whole seconds give 3 digits (StackFLOW's ``frame_name[2:5]``), others
    keep their decimals (``'003.033'``, as in BEHAVE-extended).
    """
    parts = sequence.split('_')
    if len(parts) < 3 or not parts[0].startswith('Date') or not parts[1].startswith('Sub'):
        raise ValueError(f"sequence name {sequence!r} does not follow 'Date<dd>_Sub<ss>_<obj>[_<action>]'.")
    try:
        day, sub, seconds = int(parts[0][4:]), int(parts[1][3:]), float(frame[1:])
    except ValueError as err:
        raise ValueError(f'cannot parse the day/subject of {sequence!r} or the frame {frame!r} (expected '
                         "'t0003.000'-style folder names).") from err
    inter = '_'.join(parts[3:]) or 'none'
    frame_id = f'{int(seconds):03d}' if seconds == int(seconds) else f'{seconds:07.3f}'
    return f'{day}_{sub}_{parts[2]}_{inter}_{frame_id}_{kinect}'


def mask_box(mask: np.ndarray) -> np.ndarray:
    """(4,) float32 ``x1, y1, x2, y2`` pixel edges of a (H, W) bool mask; zeros when it is empty."""
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return np.zeros(4, np.float32)
    return np.array([cols.min() - 0.5, rows.min() - 0.5, cols.max() + 0.5, rows.max() + 0.5], np.float32)


def union_box(*boxes: np.ndarray) -> np.ndarray:
    """(4,) float32 union of the non-empty xyxy boxes (zeros when all are empty)."""
    valid = [b for b in boxes if b[2] > b[0] and b[3] > b[1]]
    if not valid:
        return np.zeros(4, np.float32)
    stacked = np.stack(valid)
    return np.concatenate([stacked[:, :2].min(0), stacked[:, 2:].max(0)]).astype(np.float32)


def upsample_half_mask(mask: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Scale a half-resolution mask x2 (pixel repetition) to ``size`` = (width, height), padding odd sizes."""
    width, height = size
    full = np.zeros((height, width), bool)
    up = mask.repeat(2, axis=0).repeat(2, axis=1)[:height, :width]
    full[:up.shape[0], :up.shape[1]] = up
    return full


def _relative(path: str, data_root: str) -> str:
    return osp.relpath(path, data_root) if path else ''


# ----------------------------------------------------------------------------- per-image files
@dataclass
class KinectCalibration:
    """One kinect of a sequence: colour intrinsics and the camera -> world extrinsics."""
    cam_K: np.ndarray  # (3, 3) float64
    size: Tuple[int, int]  # (width, height) pixels
    cam_to_world_R: np.ndarray  # (3, 3) float64
    cam_to_world_t: np.ndarray  # (3,) float64 metres


def full_object_mask(data_root: str, sequence: str, frame: str, frame_dir: str, kinect: int,
                     size: Tuple[int, int]) -> Tuple[np.ndarray, str, int]:
    """The full (non-occluded) object mask of an image, at image resolution.

    Tried in order: ``k*.obj_rend_full.jpg`` in the frame folder; StackFLOW's half-resolution
    ``object_coor_maps/<seq>/<frame>/k*.mask_full.jpg`` scaled x2; the visible ``k*.obj_rend_mask.jpg``.

    Returns:
        ``(mask (H, W) bool, path, scale)`` with ``scale`` 2 for the half-resolution file, else 1.
    """
    try:
        path = find_frame_file(frame_dir, kinect, 'obj_rend_full')
        return load_mask(path, size), path, 1
    except FileNotFoundError:
        pass
    path = osp.join(data_root, 'object_coor_maps', sequence, frame, f'k{kinect}.mask_full.jpg')
    if osp.isfile(path):
        half = load_mask(path, (size[0] // 2, size[1] // 2))
        return upsample_half_mask(half, size), path, 2
    path = find_frame_file(frame_dir, kinect, 'obj_rend_mask')
    return load_mask(path, size), path, 1


def read_image_record(data_root: str, sequence: str, frame: str, kinect: int, size: Tuple[int, int]) -> dict:
    """Paths, boxes, visibility and OpenPose keypoints of one image (reads its masks once).

    Args:
        data_root: BEHAVE root.
        sequence, frame: Sequence and frame folder names.
        kinect: Camera index.
        size: (width, height) of the kinect's images (calibration.json).

    Returns:
        dict with the path fields (relative to ``data_root``), ``person_box``, ``object_box``, ``hoi_box``,
        ``visibility`` and ``person_kpts`` of :data:`ANNOTATION_FIELDS`.
    """
    frame_dir = osp.join(data_root, 'sequences', sequence, frame)
    img_path = find_frame_file(frame_dir, kinect, 'color')
    person_path = find_frame_file(frame_dir, kinect, 'person_mask')
    person = load_mask(person_path, size)
    visible_path = find_frame_file(frame_dir, kinect, 'obj_rend_mask')
    visible = load_mask(visible_path, size)
    full, full_path, scale = full_object_mask(data_root, sequence, frame, frame_dir, kinect, size)
    visibility = object_visibility_ratio(visible, full)  # the evaluation protocol's ratio, not clipped
    try:
        keypoints_path = find_frame_file(frame_dir, kinect, 'keypoints')
        person_kpts = load_body_keypoints(keypoints_path)
    except FileNotFoundError:
        keypoints_path, person_kpts = '', np.zeros((25, 3), np.float32)
    corr_path = correspondence_file(data_root, sequence, frame, kinect)
    person_box, object_box = mask_box(person), mask_box(full)
    return {
        'img_path': _relative(img_path, data_root),
        'person_mask_path': _relative(person_path, data_root),
        'object_mask_path': _relative(visible_path, data_root),
        'object_full_mask_path': _relative(full_path, data_root),
        'object_full_mask_scale': scale,
        'keypoints_path': _relative(keypoints_path, data_root),
        'corr_path': _relative(corr_path if osp.isfile(corr_path) else '', data_root),
        'person_box': person_box,
        'object_box': object_box,
        'hoi_box': union_box(person_box, object_box),
        'visibility': visibility,
        'person_kpts': person_kpts,
    }


def video_image_record(root: str, img_path: str, person_path: str, full_mask_path: str, keypoints_path: str,
                       corr_path: str, size: Tuple[int, int], where: str) -> Optional[dict]:
    """The record of one video frame of StackFLOW's sequence layouts (BEHAVE-extended, InterCap), as
    :func:`read_image_record` gives it for BEHAVE frames.

    The full object mask is StackFLOW's half-resolution ``mask_full`` render; visibility is
    ``1 - |full AND person| / |full|`` with masks binarised ``> 0``
    (:func:`~hoirecon.evaluation.functional.visibility.object_visibility_ratio_from_person`): an empty full mask gives
    NaN, a missing one counts as visible (1.0). Without a (non-empty) full mask ``object_box`` is None, for the builder
    to take the projected fit's box. Keypoints and correspondences are optional.

    Args:
        root: dataset root (paths in the record are relative to it).
        img_path, person_path, full_mask_path, keypoints_path, corr_path: the frame's files (absolute).
        size: (width, height) of the camera's images.
        where: the dataset and its layout hint, for the error of a missing person mask.

    Returns:
        The record, or None when the frame's image is missing (a video frame that was not extracted).
    """
    if not osp.isfile(img_path):
        return None
    if not osp.isfile(person_path):
        raise FileNotFoundError(f'person mask not found: {person_path} (the frame {img_path} exists; StackFLOW makes '
                                f'these masks with PointRend). {where}')
    person = load_mask(person_path, size)
    if osp.isfile(full_mask_path):
        half = load_mask(full_mask_path, (size[0] // 2, size[1] // 2))
        visibility = object_visibility_ratio_from_person(half, person, full_scale=2)
        object_box = mask_box(upsample_half_mask(half, size))
        if not object_box.any():
            object_box = None  # empty render: the box of the projected fit
    else:
        full_mask_path, visibility, object_box = '', 1.0, None
    if osp.isfile(keypoints_path):
        person_kpts = load_body_keypoints(keypoints_path)
    else:
        keypoints_path, person_kpts = '', np.zeros((25, 3), np.float32)
    person_box = mask_box(person)
    return {
        'img_path': _relative(img_path, root),
        'person_mask_path': _relative(person_path, root),
        'object_mask_path': '',  # no occlusion-aware object render in these layouts
        'object_full_mask_path': _relative(full_mask_path, root),
        'object_full_mask_scale': 2 if full_mask_path else 1,
        'keypoints_path': _relative(keypoints_path, root),
        'corr_path': _relative(corr_path if osp.isfile(corr_path) else '', root),
        'person_box': person_box,
        'object_box': object_box,
        'hoi_box': union_box(person_box, object_box) if object_box is not None else person_box,
        'visibility': np.float32(visibility),
        'person_kpts': person_kpts,
    }


# ----------------------------------------------------------------------------- sequences
@dataclass
class SequenceFits:
    """World-frame fits and calibration of one sequence.

    Attributes:
        name, gender, object_name: From the folder name / ``info.json``.
        frames: Frame folder names (F).
        pose: (F, 3J) float64 axis-angle in the body model's skeleton order: SMPL-H (F, 156), 52 joints; SMPL-X
            (F, 165), 55 joints (global, 21 body, jaw, left eye, right eye, 15 left and 15 right hand joints);
            the last 30 joints are the hands. betas (F, 10); trans (F, 3) metres (world = k1, InterCap: camera 1).
        object_angle, object_trans: (F, 3) float64 object fits (world).
        kinects: kinect index -> :class:`KinectCalibration`.
    """
    name: str
    gender: str
    object_name: str
    frames: List[str]
    pose: np.ndarray
    betas: np.ndarray
    trans: np.ndarray
    object_angle: np.ndarray
    object_trans: np.ndarray
    kinects: Dict[int, KinectCalibration]


def read_sequence_calibration(data_root: str, sequence: str,
                              kinects: Sequence[int]) -> Tuple[dict, Dict[int, KinectCalibration]]:
    """``sequences/<sequence>/info.json`` (its object checked against the catalogue) and the calibration of the
    wanted kinects that the sequence has."""
    seq_dir = osp.join(data_root, 'sequences', sequence)
    info = load_sequence_info(seq_dir)
    if info['cat'] not in BEHAVE_OBJECTS:
        raise BehaveFormatError(f"{osp.join(seq_dir, 'info.json')}: 'cat' is {info['cat']!r}, not one of the 20 "
                                f'BEHAVE objects {BEHAVE_OBJECTS}.')
    calibrations = {}
    for k in sorted(set(int(k) for k in info['kinects']) & set(kinects)):
        intr = load_intrinsics(osp.join(info['intrinsic_dir'], str(k), 'calibration.json'))
        rot, trans = load_extrinsics(osp.join(info['config_dir'], str(k), 'config.json'))
        calibrations[k] = KinectCalibration(intrinsic_matrix(intr), (intr['width'], intr['height']), rot, trans)
    return info, calibrations


def read_sequence_fits(data_root: str, sequence: str, kinects: Sequence[int]) -> SequenceFits:
    """Read ``info.json``, the calibration of the wanted kinects and every frame's person / object fit."""
    seq_dir = osp.join(data_root, 'sequences', sequence)
    info, calibrations = read_sequence_calibration(data_root, sequence, kinects)
    obj_name = info['cat']
    frames = list_frame_folders(seq_dir)
    if not frames:
        raise FileNotFoundError(f'sequence {seq_dir} has no frame folders (t0003.000, ...).')
    person, objects = [], []
    for frame in frames:
        frame_dir = osp.join(seq_dir, frame)
        person.append(load_person_fit(osp.join(frame_dir, 'person', 'fit02', 'person_fit.pkl')))
        objects.append(load_object_fit(find_object_fit(frame_dir, obj_name)))

    def stack(items, key):
        return np.stack([item[key] for item in items]).astype(np.float64)

    return SequenceFits(name=sequence, gender=info['gender'], object_name=obj_name, frames=frames,
                        pose=stack(person, 'pose'), betas=stack(person, 'betas'), trans=stack(person, 'trans'),
                        object_angle=stack(objects, 'angle'), object_trans=stack(objects, 'trans'),
                        kinects=calibrations)


# ----------------------------------------------------------------------------- body models
def _forward_joints(model, betas: np.ndarray, pose: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """(N, 22, 3) float64 body joints of ``model`` posed by axis-angle ``pose`` (N, 3k), in chunks."""
    out = []
    with torch.no_grad():
        for start in range(0, len(pose), FORWARD_CHUNK):
            part = slice(start, start + FORWARD_CHUNK)
            posed = model.forward_axis_angle(torch.as_tensor(betas[part], dtype=torch.float64),
                                             torch.as_tensor(pose[part], dtype=torch.float64),
                                             torch.as_tensor(trans[part], dtype=torch.float64))
            out.append(posed.joints[:, :NUM_BODY_JOINTS].numpy())
    return np.concatenate(out) if out else np.zeros((0, NUM_BODY_JOINTS, 3))


def rest_root_joints(model, betas: np.ndarray) -> np.ndarray:
    """(N, 3) float64 rest root joint J0 of ``model`` for betas (N, 10)."""
    with torch.no_grad():
        return model.rest_root_joint(torch.as_tensor(betas, dtype=torch.float64)).numpy()


def fit_betas_to_model(source_model, target_model, betas: np.ndarray, poses: List[np.ndarray], steps: int = 100,
                       lr: float = 0.1, bodies_per_chunk: int = 64) -> Tuple[np.ndarray, np.ndarray]:
    """Betas of ``target_model`` whose bodies match ``source_model``'s (e.g. male SMPL-H for a female subject).

    For each shape g, one betas vector is optimised (Adam, pose fixed, global orientation removed) so that the
    target body matches the source body in every pose of ``poses[g]``: L1 on the root-relative vertices plus L1 on
    the root-relative 22 body joints (the root joints are matched separately through the translation, see
    ``transl_male``). For a fixed pose, linear blend skinning with shape-dependent joints is affine in the betas, so
    each body is evaluated once at betas = 0 and once per basis vector and Adam runs on that exact affine map.
    Shapes are independent and fitted in chunks of about ``bodies_per_chunk`` bodies.

    Args:
        source_model, target_model: SMPL-H wrappers (e.g. female and male).
        betas: (G, 10) source betas, one row per distinct shape.
        poses: G arrays (P_g, 156) of SMPL-H axis-angle poses to fit in.
        steps, lr: Adam steps and learning rate (StackFLOW: 100, 0.1).
        bodies_per_chunk: Bodies (shape x pose) per optimisation batch.

    Returns:
        ``(fitted betas (G, 10) float32, mean root-relative vertex error (G,) float64 in metres)``, the error
        measured with a regular forward pass of both models.
    """
    fitted = np.zeros((len(betas), betas.shape[1]), np.float32)
    errors = np.zeros(len(betas))
    group = 0
    while group < len(betas):
        count, end = 0, group
        while end < len(betas) and (end == group or count + len(poses[end]) <= bodies_per_chunk):
            count += len(poses[end])
            end += 1
        fitted[group:end], errors[group:end] = _fit_chunk(source_model, target_model, betas[group:end],
                                                          poses[group:end], steps, lr)
        group = end
    return fitted, errors


def _root_relative_points(model, betas: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    """(B, V + 22, 3) vertices then body joints, minus the root joint, in chunks of :data:`FORWARD_CHUNK`."""
    out = []
    for start in range(0, len(pose), FORWARD_CHUNK):
        posed = model.forward_axis_angle(betas[start:start + FORWARD_CHUNK], pose[start:start + FORWARD_CHUNK])
        points = torch.cat([posed.vertices, posed.joints[:, :NUM_BODY_JOINTS]], dim=1)
        out.append(points - posed.joints[:, :1])
    return torch.cat(out)


def _fit_chunk(source_model, target_model, betas: np.ndarray, poses: List[np.ndarray], steps: int,
               lr: float) -> Tuple[np.ndarray, np.ndarray]:
    owner = torch.as_tensor(np.concatenate([np.full(len(p), g) for g, p in enumerate(poses)]), dtype=torch.long)
    pose = torch.as_tensor(np.concatenate(poses), dtype=torch.float32).clone()
    pose[:, :3] = 0.0
    source_betas = torch.as_tensor(betas, dtype=torch.float32)
    num_bodies, num_betas = len(pose), source_betas.shape[1]
    with torch.no_grad():
        want = _root_relative_points(source_model, source_betas[owner], pose)
        probes = torch.cat([torch.zeros(1, num_betas), torch.eye(num_betas)])  # betas = 0, then each basis vector
        grid = _root_relative_points(target_model, probes.repeat(num_bodies, 1), pose.repeat_interleave(
            num_betas + 1, dim=0)).reshape(num_bodies, num_betas + 1, -1, 3)
        offset, basis = grid[:, 0], grid[:, 1:] - grid[:, :1]
    num_vertices = want.shape[1] - NUM_BODY_JOINTS
    params = source_betas.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([params], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        residual = (offset + torch.einsum('bk,bkpc->bpc', params[owner], basis) - want).abs()
        loss = residual[:, :num_vertices].mean() + residual[:, num_vertices:].mean()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        got = _root_relative_points(target_model, params[owner], pose)
        per_body = (got - want)[:, :num_vertices].norm(dim=-1).mean(dim=1).double()
        errors = torch.zeros(len(betas), dtype=torch.float64).index_add_(0, owner, per_body)
        errors /= torch.bincount(owner, minlength=len(betas)).double()
    return params.detach().numpy(), errors.numpy()


class BodyModelSet:
    """The gendered models of the training body model's type, built on first use.

    Args:
        body_model: ``BODY_MODELS`` config of the training model, e.g. :data:`DEFAULT_BODY_MODEL`: an SMPL-H with
            gender 'male' (BEHAVE targets are made for the male SMPL-H, as in StackFLOW) or an SMPL-X with gender
            'neutral' (InterCap's, as in StackFLOW) (:data:`TRAINING_BODY_MODELS`).

    ``models[gender]`` is the model of that gender with the same type and ``model_path``; ``models.training`` is
    the training model and ``models.training_gender`` its gender.
    """

    def __init__(self, body_model: dict):
        body_model = dict(body_model)
        model_type = body_model.get('type')
        gender = body_model.get('gender', TRAINING_BODY_MODELS.get(model_type))
        if TRAINING_BODY_MODELS.get(model_type) != gender:
            raise ValueError(f"body_model must be an SMPL-H with gender 'male' (BEHAVE targets, StackFLOW's male "
                             f"SMPL-H) or an SMPL-X with gender 'neutral' (InterCap targets), got {body_model}; e.g. "
                             "dict(type='SMPLH', model_path='surrogate', gender='male') or dict(type='SMPLX', "
                             "model_path='surrogate', gender='neutral').")
        self.training_gender = gender
        self.cfg = dict(body_model, gender=gender)
        self._models = {}

    def __getitem__(self, gender: str):
        if gender not in self._models:
            self._models[gender] = BODY_MODELS.build(dict(self.cfg, gender=gender)).eval()
        return self._models[gender]

    @property
    def training(self):
        """The training body model (male SMPL-H or neutral SMPL-X)."""
        return self[self.training_gender]

    @property
    def is_surrogate(self) -> bool:
        return bool(self.training.is_surrogate)

    def files(self) -> Dict[str, str]:
        return {gender: model.model_file for gender, model in self._models.items()}


def fit_male_betas(models: BodyModelSet, sequences: List[SequenceFits], fit_cfg: dict) -> Tuple[dict, list]:
    """Training-model betas of every distinct shape of another gender (one fit per distinct betas vector, not per
    image): male SMPL-H betas for BEHAVE's female subjects, neutral SMPL-X betas for gendered InterCap fits.

    Returns:
        ``((gender, betas bytes) -> (10,) float32 training-model betas, report)``; the report lists per fitted
        shape the gender, the number of frames using it and the mean root-relative vertex error in metres.
    """
    shapes: Dict[Tuple[str, bytes], List[np.ndarray]] = {}
    originals: Dict[Tuple[str, bytes], np.ndarray] = {}
    for seq in sequences:
        if seq.gender == models.training_gender:
            continue
        for betas, pose in zip(seq.betas.astype(np.float32), seq.pose):
            key = (seq.gender, betas.tobytes())
            shapes.setdefault(key, []).append(pose)
            originals[key] = betas
    fitted, report = {}, []
    for gender in sorted({g for g, _ in shapes}):
        keys = [key for key in shapes if key[0] == gender]
        poses = []
        for key in keys:
            frames = np.stack(shapes[key])
            pick = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), fit_cfg['max_poses_per_shape'])).round())
            poses.append(frames[pick.astype(np.int64)])
        betas, errors = fit_betas_to_model(models[gender], models.training, np.stack([originals[k] for k in keys]),
                                           poses, fit_cfg['steps'], fit_cfg['lr'], fit_cfg['bodies_per_chunk'])
        for key, row, error in zip(keys, betas, errors):
            fitted[key] = row
            report.append(dict(gender=gender, frames=len(shapes[key]), mean_vertex_error_m=round(float(error), 6)))
    return fitted, report


# ----------------------------------------------------------------------------- per-sequence targets
def sequence_targets(seq: SequenceFits, models: BodyModelSet, male_betas: dict,
                     library: ObjectLibrary) -> Dict[int, Dict[str, np.ndarray]]:
    """Camera-frame body / object / relation targets of every (frame, kinect) of a sequence.

    Body forward passes are batched over the frames (world frame, chunks of :data:`FORWARD_CHUNK`); the per-kinect
    results are rigid transforms of them.

    Returns:
        kinect -> field -> (F, ...) arrays (the fields of :data:`ANNOTATION_FIELDS` that do not depend on masks).
    """
    num = len(seq.frames)
    root = rest_root_joints(models[seq.gender], seq.betas)
    if seq.gender == models.training_gender:
        betas_male = seq.betas.astype(np.float32)
    else:
        betas_male = np.stack([male_betas[(seq.gender, b.tobytes())] for b in seq.betas.astype(np.float32)])
    root_male = rest_root_joints(models.training, betas_male)
    trans_male_world = seq.trans + root - root_male  # the training model's root joint where the fit's is
    joints_world = _forward_joints(models.training, betas_male, seq.pose[:, :3 * NUM_BODY_JOINTS], trans_male_world)
    template = library[seq.object_name]
    kpts = np.zeros((MAX_KEYPOINTS, 3), np.float32)
    kpts[:len(template.keypoints)] = template.keypoints
    kpt_weights = np.zeros(MAX_KEYPOINTS, np.float32)
    kpt_weights[:len(template.keypoints)] = 1.0

    out = {}
    for k, calib in seq.kinects.items():
        pose_k, trans_k = smplh_params_to_camera(seq.pose, seq.trans, root, calib.cam_to_world_R,
                                                 calib.cam_to_world_t)
        rotmats = Rotation.from_rotvec(pose_k.reshape(-1, 3)).as_matrix().reshape(num, -1, 3, 3)
        hoi_R, hoi_t = rotmats[:, 0], trans_k + root
        object_R, object_t = map(np.stack, zip(*[
            object_pose_to_camera(angle, trans, calib.cam_to_world_R, calib.cam_to_world_t)
            for angle, trans in zip(seq.object_angle, seq.object_trans)
        ]))
        rel_R, rel_t = (value.numpy() for value in hoi_frame.decompose_object_pose(*(
            torch.as_tensor(np.asarray(v, np.float64)) for v in (hoi_R, hoi_t, object_R, object_t))))
        out[k] = {
            'betas': seq.betas, 'global_orient': hoi_R, 'body_pose': rotmats[:, 1:NUM_BODY_JOINTS],
            'hand_pose': rotmats[:, -2 * NUM_HAND_JOINTS:], 'transl': trans_k, 'hoi_R': hoi_R, 'hoi_t': hoi_t,
            'object_R': object_R, 'object_t': object_t, 'rel_R': rel_R, 'rel_t': rel_t, 'betas_male': betas_male,
            'transl_male': hoi_t - root_male,
            'joints_3d': world_to_camera_points(joints_world, calib.cam_to_world_R, calib.cam_to_world_t),
            'object_kpts_3d': np.broadcast_to(kpts, (num, MAX_KEYPOINTS, 3)),
            'object_kpts_weights': np.broadcast_to(kpt_weights, (num, MAX_KEYPOINTS)),
            'cam_K': np.broadcast_to(calib.cam_K, (num, 3, 3)),
            'image_size': np.broadcast_to(np.asarray(calib.size), (num, 2)),
        }
    return out


# ----------------------------------------------------------------------------- frame sources
class BEHAVEFrameSource:
    """Where the 1 fps BEHAVE layout keeps what the cache is made of (the default frame source).

    A frame source tells :func:`build_annotations` which sequences a split has, reads one sequence's world-frame fits
    and calibration (:class:`SequenceFits`) and one image's files (:func:`read_image_record`'s dict), and names the
    images. :class:`hoirecon.datasets.behave_extended_frames.BEHAVEExtendedFrameSource` is the 30 fps one.

    Args:
        data_root: BEHAVE root (``calibs/``, ``objects/``, ``sequences/``, ``split.json``).
    """
    #: Name of the cache files (``<name>_<split>.npz``) and of the sidecar's ``dataset``.
    name = 'behave'
    #: Printed with the cache summary.
    title = 'BEHAVE'
    #: The training body model of the targets (``build_annotations``'s default).
    body_model = DEFAULT_BODY_MODEL

    def __init__(self, data_root: str):
        self.data_root = osp.abspath(data_root)

    def split_sequences(self, split: str) -> List[str]:
        """The sequence names of ``split`` in ``split.json``."""
        split_path = osp.join(self.data_root, 'split.json')
        splits = load_split(split_path)
        if split not in splits:
            raise ValueError(f'unknown split {split!r}; {split_path} has {sorted(splits)}.')
        return list(splits[split])

    def read_sequence(self, name: str, kinects: Sequence[int]) -> SequenceFits:
        return read_sequence_fits(self.data_root, name, kinects)

    def read_image(self, sequence: str, frame: str, kinect: int, size: Tuple[int, int]) -> Optional[dict]:
        """:func:`read_image_record` (None would mean: no image for this frame, leave it out)."""
        return read_image_record(self.data_root, sequence, frame, kinect, size)

    def image_id(self, sequence: str, frame: str, kinect: int) -> str:
        return image_id(sequence, frame, kinect)

    def object_library(self) -> ObjectLibrary:
        """The source's object templates: BEHAVE's from ``<data_root>/objects``."""
        return ObjectLibrary('behave', template_dir=osp.join(self.data_root, 'objects'))


def projected_box(vertices: np.ndarray, cam_K: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """(4,) float32 xyxy pixel-edge box of camera-frame points (N, 3) projected with ``cam_K``, clipped to the image
    ``size`` = (width, height); zeros when no point is in front of the camera or the box misses the image."""
    points = vertices[vertices[:, 2] > 1e-6]
    if not len(points):
        return np.zeros(4, np.float32)
    uv = points[:, :2] / points[:, 2:] * np.diag(cam_K)[:2] + cam_K[:2, 2]
    box = np.concatenate([uv.min(0) - 0.5, uv.max(0) + 0.5])
    box = np.clip(box, -0.5, [size[0] - 0.5, size[1] - 0.5] * 2).astype(np.float32)
    return box if box[2] > box[0] and box[3] > box[1] else np.zeros(4, np.float32)


# ----------------------------------------------------------------------------- the builder
def build_annotations(data_root: str,
                      split: str = 'train',
                      kinects: Sequence[int] = (0, 1, 2, 3),
                      body_model: Optional[dict] = None,
                      annotation_dir: Optional[str] = None,
                      fit_cfg: Optional[dict] = None,
                      workers: int = 4,
                      progress: bool = True,
                      source=None) -> str:
    """Build (overwrite) the annotation cache of one split.

    Args:
        data_root: Dataset root (BEHAVE: ``calibs/``, ``objects/``, ``sequences/``, ``split.json``).
        split: 'train' or 'test' (a key of ``split.json``).
        kinects: Cameras to include.
        body_model: ``BODY_MODELS`` config of the training model (default: the source's ``body_model``, the male
            SMPL-H :data:`DEFAULT_BODY_MODEL` for BEHAVE); the gendered fits are read with the same type and
            ``model_path``.
        annotation_dir: Output folder (default ``<data_root>/annotations``).
        fit_cfg: Overrides of :data:`DEFAULT_FIT_CFG` for the training-model betas fit.
        workers: Threads reading masks and keypoint files.
        progress: Show tqdm progress bars.
        source: Frame source (default :class:`BEHAVEFrameSource` of ``data_root``); its ``name`` names the files.

    Returns:
        Path of the written ``<source.name>_<split>.npz``. Images that the source leaves out (``read_image`` gives
        None, e.g. a 30 fps fit without an extracted video frame) are counted in the sidecar's ``missing_images``.
    """
    start = time.time()
    data_root = osp.abspath(data_root)
    source = BEHAVEFrameSource(data_root) if source is None else source
    annotation_dir = osp.join(data_root, 'annotations') if annotation_dir is None else annotation_dir
    body_model = dict(getattr(source, 'body_model', DEFAULT_BODY_MODEL) if body_model is None else body_model)
    fit_cfg = dict(DEFAULT_FIT_CFG, **(fit_cfg or {}))
    kinects = sorted(int(k) for k in kinects)
    if hasattr(source, 'bind_body_model'):  # a source that reads body-model files (InterCap's hand PCA basis)
        source.bind_body_model(body_model)
    names = source.split_sequences(split)
    models = BodyModelSet(body_model)
    library = source.object_library()

    sequences = [source.read_sequence(name, kinects)
                 for name in tqdm(names, desc=f'reading {split} fits', disable=not progress)]
    tasks = [(seq.name, frame, k, calib.size) for seq in sequences for frame in seq.frames
             for k, calib in seq.kinects.items()]
    with ThreadPoolExecutor(max(1, workers)) as pool:
        records = list(tqdm(pool.map(lambda task: source.read_image(*task), tasks), total=len(tasks),
                            desc=f'reading {split} masks', disable=not progress))
    records = iter(records)
    male_betas, fit_report = fit_male_betas(models, sequences, fit_cfg)
    columns: Dict[str, list] = {name: [] for name in ANNOTATION_FIELDS}
    missing = 0
    for seq in sequences:
        targets = sequence_targets(seq, models, male_betas, library)
        label = library.index(seq.object_name)
        template = library[seq.object_name].vertices
        for i, frame in enumerate(seq.frames):
            for k in seq.kinects:
                record = next(records)
                if record is None:
                    missing += 1
                    continue
                row = dict(record, img_id=source.image_id(seq.name, frame, k), sequence=seq.name, frame=frame,
                           kinect=k, gender=seq.gender, object_name=seq.object_name, object_label=label)
                row.update({name: values[i] for name, values in targets[k].items()})
                if row['object_box'] is None:  # no object mask: the box of the fitted template's projection
                    placed = template @ row['object_R'].T.astype(np.float64) + row['object_t']
                    row['object_box'] = projected_box(placed, row['cam_K'], tuple(row['image_size']))
                    row['hoi_box'] = union_box(row['person_box'], row['object_box'])
                for name in ANNOTATION_FIELDS:
                    columns[name].append(row[name])
    arrays = {name: _stack_column(name, values) for name, values in columns.items()}
    params = {
        'version': ANNOTATION_VERSION, 'dataset': source.name, 'split': split, 'kinects': kinects,
        'body_model': body_model, 'surrogate': models.is_surrogate, 'body_model_files': models.files(),
        'betas_fit': dict(fit_cfg, shapes=fit_report), 'num_images': len(arrays['img_id']),
        'missing_images': missing, 'num_sequences': len(sequences), 'object_keypoints': {
            name: library[name].meta.get('keypoint_source') for name in sorted({s.object_name for s in sequences})},
        'synthetic': osp.isfile(osp.join(data_root, 'synthetic_manifest.json')),
        'seconds': round(time.time() - start, 2),
    }
    path = write_annotations(annotation_dir, split, arrays, params, source.name)
    print_log(f'{source.title} {split} annotations: {params["num_images"]} images of {len(sequences)} sequences -> '
              f'{path} ({params["seconds"]} s{f", {missing} without an image" if missing else ""})',
              logger='current')
    return path


def _stack_column(name: str, values: list) -> np.ndarray:
    shape, dtype = ANNOTATION_FIELDS[name]
    if dtype is str:
        return np.array(values, dtype=str) if values else np.zeros(0, dtype='<U1')
    return np.asarray(values, dtype=dtype).reshape((len(values), ) + shape)


def write_annotations(annotation_dir: str, split: str, arrays: Dict[str, np.ndarray], params: dict,
                      dataset: str = 'behave') -> str:
    """Write the JSON sidecar, then the ``.npz``, each atomically, so that an existing ``.npz`` has its sidecar."""
    npz_path, json_path = annotation_files(annotation_dir, split, dataset)
    write_npz_with_sidecar(npz_path, json_path, arrays, params)
    return npz_path


def write_npz_with_sidecar(npz_path: str, json_path: str, arrays: Dict[str, np.ndarray], params: dict) -> None:
    """Write ``params`` as JSON, then ``arrays`` as ``.npz``, each through a temporary file renamed into place.

    The order makes an existing ``.npz`` always have its sidecar (the cache checks read the sidecar first).
    """
    os.makedirs(osp.dirname(npz_path) or '.', exist_ok=True)
    for path, write in ((json_path, lambda f: f.write(json.dumps(params, indent=1).encode())),
                        (npz_path, lambda f: np.savez(f, **arrays))):
        tmp = f'{path}.tmp{os.getpid()}'
        with open(tmp, 'wb') as f:
            write(f)
        os.replace(tmp, path)


def load_annotations(annotation_dir: str, split: str, dataset: str = 'behave') -> Tuple[Dict[str, np.ndarray], dict]:
    """Read a cache written by :func:`build_annotations` (``dataset``: the frame source's name).

    Returns:
        ``(field -> stacked array, sidecar parameters)``.

    Raises:
        FileNotFoundError: the cache is missing.
        BehaveFormatError: a field is missing or mis-shaped, or the cache has another version.
    """
    npz_path, json_path = annotation_files(annotation_dir, split, dataset)
    for path in (npz_path, json_path):
        if not osp.isfile(path):
            raise FileNotFoundError(f'annotation cache {path} not found; build it with `python '
                                    'tools/dataset_converters/behave.py --data-root <BEHAVE root>`.')
    with open(json_path) as f:
        params = json.load(f)
    if params.get('version') != ANNOTATION_VERSION:
        raise BehaveFormatError(f'{json_path}: annotation cache version {params.get("version")}, this hoirecon '
                                f'writes version {ANNOTATION_VERSION}; rebuild it with `python '
                                'tools/dataset_converters/behave.py --data-root <BEHAVE root>`.')
    with np.load(npz_path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    num = len(arrays.get('img_id', ()))
    for name, (shape, _) in ANNOTATION_FIELDS.items():
        if name not in arrays or arrays[name].shape[1:] != shape or len(arrays[name]) != num:
            got = arrays[name].shape if name in arrays else 'missing'
            raise BehaveFormatError(f"{npz_path}: field '{name}' is {got}, expected ({num}, *{shape}); rebuild the "
                                    'cache with tools/dataset_converters/behave.py.')
    return arrays, params
