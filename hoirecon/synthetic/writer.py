"""Writers of the BEHAVE on-disk files (the counterparts of :mod:`hoirecon.datasets.behave_io`).

Layout written (``docs/synthetic_world.md`` has the full tree)::

    calibs/intrinsics/<k>/calibration.json        calibs/Date0d/config/<k>/config.json
    sequences/<seq>/info.json                     sequences/<seq>/t0003.000/...
    epro_pnp/<seq>/<frame>/k<k>.obj_coor.pkl      object_coor_maps/<seq>/<frame>/k<k>.{mask_full.jpg,obj_coor.pkl}
    split.json

Masks are 0/255 single-channel JPEGs (BEHAVE's names); read them back with
``> 127``. Everything below a frame folder is written into a temporary folder
that is renamed into place when complete (see :func:`atomic_folder`).
"""
import contextlib
import json
import os
import os.path as osp
import pickle
import shutil
import uuid

import cv2
import numpy as np
import trimesh

from hoirecon.utils.offscreen import Intrinsics

JPEG_QUALITY = 95


def write_json(path: str, data) -> str:
    """Write ``data`` as JSON (parent folders created)."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(data, f, indent=1)
    return path


def write_pickle(path: str, data) -> str:
    """Pickle ``data`` (protocol 4, parent folders created)."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        pickle.dump(data, f, protocol=4)
    return path


def write_image(path: str, rgb: np.ndarray) -> str:
    """Write an (H, W, 3) uint8 RGB image as JPEG."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return path


def write_mask(path: str, mask: np.ndarray) -> str:
    """Write an (H, W) bool mask as a 0/255 single-channel JPEG (or PNG by extension)."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(path, np.where(mask, 255, 0).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return path


def write_mesh_ply(path: str, vertices: np.ndarray, faces: np.ndarray) -> str:
    """Write a binary PLY mesh (vertex order kept)."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    trimesh.Trimesh(vertices=vertices, faces=faces, process=False).export(path)
    return path


@contextlib.contextmanager
def atomic_folder(final_dir: str):
    """Yield a temporary sibling folder that is renamed to ``final_dir`` if the block succeeds.

    An existing ``final_dir`` is replaced; a failed block leaves nothing behind,
    so a folder that exists is always complete.
    """
    parent = osp.dirname(final_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = osp.join(parent, f'.{osp.basename(final_dir)}.tmp-{uuid.uuid4().hex[:8]}')
    os.makedirs(tmp)
    try:
        yield tmp
        if osp.isdir(final_dir):
            shutil.rmtree(final_dir)
        os.rename(tmp, final_dir)
    finally:
        if osp.isdir(tmp):
            shutil.rmtree(tmp)


def remove_stale_temporaries(parent: str):
    """Delete the temporary folders that an interrupted :func:`atomic_folder` left in ``parent``."""
    if osp.isdir(parent):
        for name in os.listdir(parent):
            if name.startswith('.') and '.tmp-' in name:
                shutil.rmtree(osp.join(parent, name), ignore_errors=True)


@contextlib.contextmanager
def atomic_file(path: str):
    """Yield a temporary sibling path (``.<stem>.tmp-<hex><ext>``, same extension) that is renamed to ``path`` if the
    block succeeds, so a file that exists is always complete (for layouts without per-frame folders)."""
    folder, base = osp.split(path)
    stem, ext = osp.splitext(base)
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{stem}.tmp-{uuid.uuid4().hex[:8]}{ext}')
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def remove_stale_temporary_files(folder: str):
    """Delete the temporary files that an interrupted :func:`atomic_file` left in ``folder``."""
    if osp.isdir(folder):
        for name in os.listdir(folder):
            if name.startswith('.') and '.tmp-' in name and osp.isfile(osp.join(folder, name)):
                os.remove(osp.join(folder, name))


# ----------------------------------------------------------------------------- calibration and sequence files
def calibration_dict(intrinsics: Intrinsics) -> dict:
    """BEHAVE ``calibration.json`` content for a distortion-free colour camera.

    ``opencv`` is ``[cx, cy, fx, fy]`` followed by 8 zero distortion coefficients
    (readers use ``opencv[4:]``). The depth block repeats the colour one (no
    depth images are written) and the colour<->depth transforms are identities.
    """
    color = {
        'fx': intrinsics.fx, 'fy': intrinsics.fy, 'cx': intrinsics.cx, 'cy': intrinsics.cy,
        'width': intrinsics.width, 'height': intrinsics.height,
        'opencv': [intrinsics.cx, intrinsics.cy, intrinsics.fx, intrinsics.fy] + [0.0] * 8,
    }
    identity = {'rotation': np.eye(3).reshape(-1).tolist(), 'translation': [0.0, 0.0, 0.0]}
    return {'color': color, 'depth': dict(color), 'color_to_depth': identity, 'depth_to_color': dict(identity)}


def write_intrinsics(calibs_dir: str, intrinsics: list) -> list:
    """Write ``calibs/intrinsics/<k>/calibration.json`` for every kinect."""
    return [write_json(osp.join(calibs_dir, 'intrinsics', str(k), 'calibration.json'), calibration_dict(intr))
            for k, intr in enumerate(intrinsics)]


def date_name(date: int) -> str:
    return f'Date{date:02d}'


def write_date_config(calibs_dir: str, date: int, cam_to_world_R: np.ndarray, cam_to_world_t: np.ndarray) -> list:
    """Write ``calibs/Date0d/config/<k>/config.json`` (camera k -> world, row-major rotation)."""
    return [
        write_json(osp.join(calibs_dir, date_name(date), 'config', str(k), 'config.json'),
                   {'rotation': np.asarray(rot).reshape(-1).tolist(), 'translation': np.asarray(trans).tolist()})
        for k, (rot, trans) in enumerate(zip(cam_to_world_R, cam_to_world_t))
    ]


def write_sequence_info(seq_dir: str, date: int, obj_name: str, gender: str, num_kinects: int = 4) -> str:
    """Write ``sequences/<seq>/info.json`` with paths relative to the sequence folder, as BEHAVE does."""
    return write_json(osp.join(seq_dir, 'info.json'), {
        'config': f'../../calibs/{date_name(date)}/config',
        'intrinsic': '../../calibs/intrinsics',
        'cat': obj_name,
        'gender': gender,
        'empty': None,
        'kinects': list(range(num_kinects)),
        'beta': None,
    })


# ----------------------------------------------------------------------------- per-frame files
def write_person_fit(frame_dir: str, pose: np.ndarray, betas: np.ndarray, trans: np.ndarray, vertices: np.ndarray,
                     faces: np.ndarray) -> str:
    """Write ``person/fit02/person_fit.pkl`` (pose 156, betas 10, trans 3, float32) and ``person_fit.ply``."""
    fit_dir = osp.join(frame_dir, 'person', 'fit02')
    write_mesh_ply(osp.join(fit_dir, 'person_fit.ply'), vertices, faces)
    return write_pickle(osp.join(fit_dir, 'person_fit.pkl'), {
        'pose': np.asarray(pose, np.float32), 'betas': np.asarray(betas, np.float32),
        'trans': np.asarray(trans, np.float32)})


def write_object_fit(frame_dir: str, obj_name: str, angle: np.ndarray, trans: np.ndarray, vertices: np.ndarray,
                     faces: np.ndarray) -> str:
    """Write ``<obj>/fit01/<obj>_fit.pkl`` (angle 3, trans 3, float32) and ``<obj>_fit.ply``."""
    fit_dir = osp.join(frame_dir, obj_name, 'fit01')
    write_mesh_ply(osp.join(fit_dir, f'{obj_name}_fit.ply'), vertices, faces)
    return write_pickle(osp.join(fit_dir, f'{obj_name}_fit.pkl'), {
        'angle': np.asarray(angle, np.float32), 'trans': np.asarray(trans, np.float32)})


def write_keypoints(path: str, keypoints: np.ndarray) -> str:
    """Write ``k*.color.json``: ``{"body_joints": [75 floats]}`` from (25, 3) ``(x, y, conf)``."""
    return write_json(path, {'body_joints': np.asarray(keypoints, np.float64).reshape(-1).round(3).tolist()})


def write_openpose_keypoints(path: str, keypoints: np.ndarray) -> str:
    """Write OpenPose's own JSON (``*.color_keypoints.json``): one person whose ``pose_keypoints_2d`` are the 75
    numbers of (25, 3) ``(x, y, conf)``; the other OpenPose lists are empty."""
    person = {'person_id': [-1], 'pose_keypoints_2d': np.asarray(keypoints, np.float64).reshape(-1).round(3).tolist(),
              'face_keypoints_2d': [], 'hand_left_keypoints_2d': [], 'hand_right_keypoints_2d': [],
              'pose_keypoints_3d': [], 'face_keypoints_3d': [], 'hand_left_keypoints_3d': [],
              'hand_right_keypoints_3d': []}
    return write_json(path, {'version': 1.3, 'people': [person]})


def coordinate_map(object_full: np.ndarray, object_coords: np.ndarray) -> tuple:
    """StackFLOW's half-resolution object mask and coordinate-map crop of one view.

    Args:
        object_full: (H, W) bool full-resolution object silhouette.
        object_coords: (H, W, 3) float32 object-frame XYZ (metres) of the surface seen at each pixel
            (ignored outside ``object_full``).

    Returns:
        ``(mask (H // 2, W // 2) bool, crop)``: the crop is ``{}`` for an invisible object, else ``{'u': top row,
        'l': left column, 'h': rows, 'w': columns, 'coor': (h, w, 3) float32}``: the mean coordinates of each 2x2
        block of the bounding box, at half resolution, zero where fewer than 2 of the 4 pixels are on the object.
    """
    height, width = object_full.shape
    blocks = object_full[:height // 2 * 2, :width // 2 * 2].reshape(height // 2, 2, width // 2, 2)
    count = blocks.sum(axis=(1, 3))
    half_mask = count >= 2
    if not half_mask.any():
        return half_mask, {}
    coords = np.where(object_full[..., None], object_coords, 0)[:height // 2 * 2, :width // 2 * 2]
    coords = coords.reshape(height // 2, 2, width // 2, 2, 3).sum(axis=(1, 3)) / np.maximum(count, 1)[..., None]
    coords[~half_mask] = 0
    rows, cols = np.nonzero(half_mask)
    top, left, bottom, right = rows.min(), cols.min(), rows.max() + 1, cols.max() + 1
    return half_mask, {'u': int(top), 'l': int(left), 'h': int(bottom - top), 'w': int(right - left),
                       'coor': coords[top:bottom, left:right].astype(np.float32)}


def write_coordinate_map(out_dir: str, kinect: int, object_full: np.ndarray, object_coords: np.ndarray) -> list:
    """Write StackFLOW's half-resolution ``k*.mask_full.jpg`` and ``k*.obj_coor.pkl`` (:func:`coordinate_map`).

    Args:
        out_dir: ``object_coor_maps/<seq>/<frame>``.
        kinect: Camera index.
        object_full: (H, W) bool full-resolution object silhouette.
        object_coords: (H, W, 3) float32 object-frame XYZ (metres) of the surface seen at each pixel
            (ignored outside ``object_full``).
    """
    half_mask, crop = coordinate_map(object_full, object_coords)
    return [write_mask(osp.join(out_dir, f'k{kinect}.mask_full.jpg'), half_mask),
            write_pickle(osp.join(out_dir, f'k{kinect}.obj_coor.pkl'), crop)]


def half_resolution_mask(mask: np.ndarray) -> np.ndarray:
    """StackFLOW's half-resolution mask of a full-resolution (H, W) bool mask: (H // 2, W // 2) bool, on where at
    least 2 of the 4 pixels of a 2x2 block are (the rule of :func:`write_coordinate_map`)."""
    height, width = mask.shape
    blocks = mask[:height // 2 * 2, :width // 2 * 2].reshape(height // 2, 2, width // 2, 2)
    return blocks.sum(axis=(1, 3)) >= 2


def write_npz(path: str, **arrays) -> str:
    """Write an uncompressed ``.npz`` atomically (a temporary file renamed into place; parent folders created)."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = f'{path}.tmp-{uuid.uuid4().hex[:8]}.npz'
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return path
