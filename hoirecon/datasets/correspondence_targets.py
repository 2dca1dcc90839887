"""Dense object-coordinate targets of the correspondence network, rendered once from the annotation cache.

For every image of a split's annotation cache (:mod:`hoirecon.datasets.annotations`) the object template of the
object library is rendered (pyrender offscreen, EGL on a headless machine) with the image's camera ``cam_K`` and the
object's camera-frame pose ``object_R``, ``object_t``: the depth of the object alone (occluders ignored) gives, per
pixel, the object-frame point seen there, ``R^T (depth K^-1 (u, v, 1) - t)`` (OpenCV pixel centres at integers).
The visible mask is that silhouette AND the dataset's visible object mask (``object_mask_path``: BEHAVE's
``obj_rend_mask``, the object minus the person in front); without one the whole silhouette counts as visible.

Only the silhouette's bounding box is stored (everything outside it is background), at the image's resolution:

``<annotation_dir>/object_coordinates_<dataset>_<split>.npz`` (no pickles)
    ``img_id`` (N,), ``box`` (N, 4) int64 ``(col, row, width, height)`` of the silhouette's pixel box (zeros when the
    object is not in view), ``offset`` (N + 1,) int64 start of each image's pixels in the flat arrays,
    ``coords`` (P, 3) float16 object-frame metres, ``full`` (P,) bool silhouette, ``visible`` (P,) bool.
``object_coordinates_<dataset>_<split>.json``
    ``key`` (sha1 of every input: the cache's poses, cameras, image ids and mask paths, the templates, the format
    version), ``num_images``, ``seconds``, ``full_mask_iou`` (mean IoU of the rendered silhouette against the
    dataset's full object mask: a check that the poses, cameras and templates agree with the images).

:func:`ensure_coordinate_targets` builds it when it is missing or its key differs (a changed dataset or template
rebuilds it), under a file lock, writing both files atomically (JSON sidecar first).
"""
import hashlib
import json
import os.path as osp
import time
from typing import Dict, Tuple

import numpy as np
from mmengine.logging import print_log

from hoirecon.utils.file_lock import file_lock
from hoirecon.utils.offscreen import Intrinsics, camera_node_pose, pyrender_camera, release_offscreen_renderer
from .annotations import load_annotations, upsample_half_mask, write_npz_with_sidecar
from .behave_io import load_mask

#: Bump when the content or layout of the target cache changes.
COORDINATE_TARGET_VERSION = 3
#: Annotation-cache fields the targets are made of (they enter the key).
KEY_FIELDS = ('img_id', 'object_name', 'object_R', 'object_t', 'cam_K', 'image_size', 'object_mask_path')


def coordinate_target_files(annotation_dir: str, split: str, dataset: str = 'behave') -> Tuple[str, str]:
    """``(npz path, JSON sidecar path)`` of a split's coordinate targets."""
    stem = osp.join(annotation_dir, f'object_coordinates_{dataset}_{split}')
    return stem + '.npz', stem + '.json'


def unproject_depth_to_object(depth: np.ndarray, cam_K: np.ndarray, rotation: np.ndarray, translation: np.ndarray,
                              origin: Tuple[int, int] = (0, 0)) -> np.ndarray:
    """Object-frame points seen at each pixel of a depth map (or of a window of one).

    Args:
        depth: (H, W) camera-z of the surface, metres (0 = nothing there).
        cam_K: (3, 3) intrinsics; image pixel ``(row v, column u)`` is the point ``(u, v)`` (OpenCV centres).
        rotation, translation: object pose in the camera, ``x_cam = R x_obj + t``.
        origin: ``(column, row)`` of ``depth[0, 0]`` in the image, when ``depth`` is a window of the image.

    Returns:
        (H, W, 3) float64 object-frame metres, zeros where ``depth`` is 0.
    """
    height, width = depth.shape
    cols, rows = np.meshgrid(np.arange(width, dtype=np.float64) + origin[0],
                             np.arange(height, dtype=np.float64) + origin[1])
    z = depth.astype(np.float64)
    camera = np.stack([(cols - cam_K[0, 2]) / cam_K[0, 0] * z, (rows - cam_K[1, 2]) / cam_K[1, 1] * z, z], axis=-1)
    points = (camera - np.asarray(translation, np.float64)) @ np.asarray(rotation, np.float64)  # R^T (x - t)
    return np.where(z[..., None] > 0, points, 0.0)


class TemplateDepthRenderer:
    """Depth of one posed template at a time (pyrender offscreen; one GL context per image size).

    Example:
        >>> renderer = TemplateDepthRenderer()
        >>> depth = renderer.render(vertices, faces, R, t, cam_K, (512, 384))  # doctest: +SKIP
        >>> renderer.close()  # doctest: +SKIP
    """

    def __init__(self):
        self._renderers = {}
        self._meshes = {}

    def _mesh(self, key, vertices: np.ndarray, faces: np.ndarray):
        import pyrender
        import trimesh
        if key not in self._meshes:
            tri = trimesh.Trimesh(vertices=np.asarray(vertices, np.float64), faces=np.asarray(faces), process=False)
            self._meshes[key] = pyrender.Mesh.from_trimesh(tri, smooth=False)
        return self._meshes[key]

    def render(self, vertices: np.ndarray, faces: np.ndarray, rotation: np.ndarray, translation: np.ndarray,
               cam_K: np.ndarray, size: Tuple[int, int], key=None) -> np.ndarray:
        """Camera-z (H, W) float32 metres of the template posed by ``x_cam = R v + t`` (0 off the object).

        Args:
            vertices: (V, 3) object-frame template; faces: (F, 3).
            rotation, translation: object pose in the camera.
            cam_K: (3, 3) intrinsics; size: (width, height) pixels.
            key: reuse the GL mesh of an earlier call with this key (same template).
        """
        import pyrender
        size = (int(size[0]), int(size[1]))
        if size not in self._renderers:
            self._renderers[size] = pyrender.OffscreenRenderer(*size)
        intrinsics = Intrinsics(fx=float(cam_K[0, 0]), fy=float(cam_K[1, 1]), cx=float(cam_K[0, 2]),
                                cy=float(cam_K[1, 2]), width=size[0], height=size[1])
        pose = np.eye(4)
        pose[:3, :3], pose[:3, 3] = rotation, translation
        scene = pyrender.Scene(bg_color=[0.0, 0.0, 0.0, 0.0])
        scene.add(self._mesh(key if key is not None else id(vertices), vertices, faces), pose=pose)
        # near / far planes hugging the object: the depth buffer's precision is spent where the object is
        depth_range = (np.asarray(vertices, np.float64) @ np.asarray(rotation, np.float64).T + translation)[:, 2]
        znear = max(0.5 * float(depth_range.min()), 1e-3)
        zfar = max(2.0 * float(depth_range.max()), znear + 1.0)
        scene.add(pyrender_camera(intrinsics, znear=znear, zfar=zfar), pose=camera_node_pose(np.eye(3), np.zeros(3)))
        depth = self._renderers[size].render(scene, flags=pyrender.RenderFlags.DEPTH_ONLY)
        return np.asarray(depth, np.float32)

    def close(self):
        """Release the GL contexts."""
        for renderer in self._renderers.values():
            release_offscreen_renderer(renderer)
        self._renderers, self._meshes = {}, {}


def coordinate_target_key(arrays: Dict[str, np.ndarray], library) -> str:
    """sha1 of everything the targets depend on (see the module doc)."""
    digest = hashlib.sha1(f'object-coordinates-v{COORDINATE_TARGET_VERSION}'.encode())
    for name in KEY_FIELDS:
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    for name in sorted(set(str(n) for n in arrays['object_name'])):
        template = library[name]
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(template.vertices, np.float64).tobytes())
        digest.update(np.ascontiguousarray(template.faces, np.int64).tobytes())
    return digest.hexdigest()


def _mask_or_none(data_root: str, relative: str, size: Tuple[int, int], scale: int = 1):
    if not relative:
        return None
    path = osp.join(data_root, relative)
    if not osp.isfile(path):
        return None
    if scale == 2:
        return upsample_half_mask(load_mask(path, (size[0] // 2, size[1] // 2)), size)
    return load_mask(path, size)


def build_coordinate_targets(data_root: str, split: str, annotation_dir: str, library, dataset: str = 'behave',
                             progress: bool = True) -> str:
    """Render and write the coordinate targets of every image of a split's annotation cache (see the module doc).

    Args:
        data_root: dataset root (the cache's paths are relative to it).
        split: the split whose cache ``<annotation_dir>/<dataset>_<split>.npz`` is read.
        annotation_dir: folder of the annotation cache; the targets are written next to it.
        library: the :class:`~hoirecon.objects.ObjectLibrary` the cache's objects come from.
        dataset: the frame source's name (cache file names).
        progress: show a tqdm bar.

    Returns:
        Path of the written ``.npz``.
    """
    from tqdm import tqdm
    start = time.time()
    arrays, _ = load_annotations(annotation_dir, split, dataset)
    key = coordinate_target_key(arrays, library)
    renderer = TemplateDepthRenderer()
    boxes, offsets, coords, fulls, visibles, ious = [], [0], [], [], [], []
    try:
        for i in tqdm(range(len(arrays['img_id'])), desc=f'object coordinates ({split})', disable=not progress):
            template = library[str(arrays['object_name'][i])]
            size = tuple(int(v) for v in arrays['image_size'][i])
            R, t = arrays['object_R'][i].astype(np.float64), arrays['object_t'][i].astype(np.float64)
            depth = renderer.render(template.vertices, template.faces, R, t, arrays['cam_K'][i], size,
                                    key=template.name)
            full = depth > 0
            rows, cols = np.nonzero(full)
            if not len(rows):
                boxes.append(np.zeros(4, np.int64))
                offsets.append(offsets[-1])
                continue
            r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
            points = unproject_depth_to_object(depth[r0:r1, c0:c1], arrays['cam_K'][i], R, t, (c0, r0))
            visible = _mask_or_none(data_root, str(arrays['object_mask_path'][i]), size)
            visible = full if visible is None else visible & full
            reference = _mask_or_none(data_root, str(arrays['object_full_mask_path'][i]), size,
                                      int(arrays['object_full_mask_scale'][i]))
            if reference is not None and (reference.any() or full.any()):
                ious.append(float((reference & full).sum() / max((reference | full).sum(), 1)))
            boxes.append(np.array([c0, r0, c1 - c0, r1 - r0], np.int64))
            offsets.append(offsets[-1] + points.shape[0] * points.shape[1])
            coords.append(points.reshape(-1, 3).astype(np.float16))
            fulls.append(full[r0:r1, c0:c1].reshape(-1))
            visibles.append(visible[r0:r1, c0:c1].reshape(-1))
    finally:
        renderer.close()
    out = dict(img_id=arrays['img_id'], box=np.stack(boxes) if boxes else np.zeros((0, 4), np.int64),
               offset=np.asarray(offsets, np.int64),
               coords=np.concatenate(coords) if coords else np.zeros((0, 3), np.float16),
               full=np.concatenate(fulls) if fulls else np.zeros(0, bool),
               visible=np.concatenate(visibles) if visibles else np.zeros(0, bool))
    params = dict(version=COORDINATE_TARGET_VERSION, key=key, dataset=dataset, split=split,
                  num_images=len(arrays['img_id']), num_pixels=int(out['offset'][-1]),
                  full_mask_iou=round(float(np.mean(ious)), 4) if ious else None,
                  seconds=round(time.time() - start, 2))
    npz_path, json_path = coordinate_target_files(annotation_dir, split, dataset)
    write_npz_with_sidecar(npz_path, json_path, out, params)
    print_log(f'object coordinate targets ({dataset} {split}): {params["num_images"]} images, '
              f'{params["num_pixels"]} object pixels, silhouette IoU vs the dataset masks {params["full_mask_iou"]} '
              f'-> {npz_path} ({params["seconds"]} s)', logger='current')
    return npz_path


def ensure_coordinate_targets(data_root: str, split: str, annotation_dir: str, library,
                              dataset: str = 'behave') -> Tuple[Dict[str, np.ndarray], dict]:
    """The coordinate targets of a split, (re)built first when missing or made from other inputs.

    Returns:
        ``(arrays, sidecar parameters)`` of the ``.npz`` / ``.json`` pair (see the module doc).
    """
    npz_path, json_path = coordinate_target_files(annotation_dir, split, dataset)
    arrays, _ = load_annotations(annotation_dir, split, dataset)
    key = coordinate_target_key(arrays, library)
    with file_lock(npz_path[:-len('.npz')] + '.lock'):
        params = None
        if osp.isfile(npz_path) and osp.isfile(json_path):
            with open(json_path) as f:
                params = json.load(f)
        if params is None or params.get('key') != key:
            why = 'not found' if params is None else 'made from other annotations or templates'
            print_log(f'{npz_path} {why}: rendering the object coordinate targets (once).', logger='current')
            build_coordinate_targets(data_root, split, annotation_dir, library, dataset)
            with open(json_path) as f:
                params = json.load(f)
    with np.load(npz_path, allow_pickle=False) as data:
        targets = {name: data[name] for name in data.files}
    return targets, params


def image_targets(targets: Dict[str, np.ndarray], index: int) -> dict:
    """One image's stored targets: ``coord_box`` (4,) int64 ``(col, row, width, height)``, ``coord_map``
    (h, w, 3) float16 object-frame metres, ``coord_full`` and ``coord_visible`` (h, w) bool."""
    col, row, width, height = (int(v) for v in targets['box'][index])
    start, stop = int(targets['offset'][index]), int(targets['offset'][index + 1])
    return dict(coord_box=targets['box'][index].copy(),
                coord_map=targets['coords'][start:stop].reshape(height, width, 3),
                coord_full=targets['full'][start:stop].reshape(height, width),
                coord_visible=targets['visible'][start:stop].reshape(height, width))
