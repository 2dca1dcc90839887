"""Mesh export: PLY + OBJ per mesh, one GLB scene with a node per mesh, and pictures (:func:`save_image`).

Vertices are written in the order and number of :attr:`Mesh.vertices` (no merging, no reordering, no normals
added), in the OpenCV camera frame of the image (x right, y down, z forward, metres). Precision: PLY stores float32
(binary), OBJ 8 decimals, GLB float32 — sub-micrometre at camera distances.
"""
import os
import os.path as osp

import cv2
import numpy as np
import trimesh
from trimesh.exchange.obj import export_obj

from .meshes import check_image, check_meshes

#: 180 deg about x: OpenCV camera axes (y down, z forward) -> glTF axes (y up, z backward, towards the viewer).
CV_TO_GLTF = np.diag([1.0, -1.0, -1.0, 1.0])


def _check_names(meshes: list, name: str = 'meshes') -> None:
    """Names must be unique (case-insensitively: file systems) and usable as file names."""
    seen = {}
    for i, mesh in enumerate(meshes):
        if mesh.name in ('.', '..') or any(sep in mesh.name for sep in ('/', '\\', '\0')):
            raise ValueError(f'{name}[{i}].name {mesh.name!r} cannot be used as a file name')
        key = mesh.name.lower()
        if key in seen:
            raise ValueError(f'{name}[{seen[key]}] and {name}[{i}] have the same name {mesh.name!r} '
                             f'(names must differ, case-insensitively: they name the files and nodes)')
        seen[key] = i


def _trimesh(mesh, vertex_colors: bool) -> trimesh.Trimesh:
    colors = np.tile(mesh.rgba_uint8, (len(mesh.vertices), 1)) if vertex_colors else None
    return trimesh.Trimesh(vertices=mesh.vertices, faces=mesh.faces, vertex_colors=colors, process=False,
                           validate=False)


def export_meshes(out_dir: str, meshes: list) -> dict:
    """Write each mesh as ``<out_dir>/<name>.ply`` and ``<out_dir>/<name>.obj``.

    PLY: binary little-endian, float32 vertices, uint8 RGBA vertex colours (the mesh colour on every vertex).
    OBJ: text, ``v x y z r g b`` lines (colour as floats, an extension MeshLab and Blender read), no normals, no
    material file. Both keep the vertex order and count and the faces exactly; coordinates are in the camera frame.

    Args:
        out_dir: Output folder (created if missing; existing files of the same names are overwritten).
        meshes: :class:`Mesh` list with distinct names usable as file names.

    Returns:
        ``{mesh.name: {'ply': path, 'obj': path}}`` in the order of ``meshes``.
    """
    meshes = check_meshes(meshes, 'meshes')
    _check_names(meshes, 'meshes')
    if not isinstance(out_dir, (str, os.PathLike)):
        raise ValueError(f'out_dir must be a path, got {type(out_dir).__name__}')
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for mesh in meshes:
        tri = _trimesh(mesh, vertex_colors=True)
        ply_path = osp.join(os.fspath(out_dir), f'{mesh.name}.ply')
        obj_path = osp.join(os.fspath(out_dir), f'{mesh.name}.obj')
        tri.export(ply_path, file_type='ply', encoding='binary', vertex_normal=False)
        text = export_obj(tri, include_normals=False, include_color=True, include_texture=False, digits=8,
                          header=f'hoirecon {mesh.name}: OpenCV camera frame (x right, y down, z forward), metres')
        with open(obj_path, 'w') as f:
            f.write(text)
        paths[mesh.name] = {'ply': ply_path, 'obj': obj_path}
    return paths


def export_scene_glb(path: str, meshes: list, to_gltf_axes: bool = True) -> str:
    """Write all meshes into one binary glTF (GLB) scene, one node and one geometry per mesh.

    The vertex data are always the camera-frame vertices (OpenCV axes, metres, order kept). With ``to_gltf_axes``
    (the default) each node carries the transform :data:`CV_TO_GLTF` (a 180 deg turn about x: y and z negated), so
    that glTF viewers (y up) show the person upright, seen from the original camera's side; the original camera sits
    at the origin looking along -z, glTF's camera convention. Without it the nodes carry the identity and the scene
    is exactly the camera frame (upside down in y-up viewers). Either way the file is a faithful copy: apply the
    node transform's inverse (the same matrix) to get camera coordinates back.

    Each mesh gets a PBR material of its colour (``baseColorFactor``; alpha < 1 -> ``alphaMode`` BLEND,
    double-sided).

    Args:
        path: Output ``.glb`` file (its folder is created if missing).
        meshes: :class:`Mesh` list with distinct names (geometry and node names).
        to_gltf_axes: See above.

    Returns:
        ``path``.
    """
    meshes = check_meshes(meshes, 'meshes')
    if not meshes:
        raise ValueError('meshes must hold at least one Mesh for a GLB scene')
    _check_names(meshes, 'meshes')
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f'path must be a file path, got {type(path).__name__}')
    if not isinstance(to_gltf_axes, bool):
        raise ValueError(f'to_gltf_axes must be a bool, got {to_gltf_axes!r}')
    transform = CV_TO_GLTF if to_gltf_axes else np.eye(4)
    scene = trimesh.Scene()
    for mesh in meshes:
        tri = _trimesh(mesh, vertex_colors=False)
        rgba = mesh.rgba_uint8
        material = trimesh.visual.material.PBRMaterial(
            name=mesh.name, baseColorFactor=rgba, metallicFactor=0.0, roughnessFactor=0.7, doubleSided=True,
            alphaMode='BLEND' if rgba[3] < 255 else 'OPAQUE')
        tri.visual = trimesh.visual.TextureVisuals(material=material)
        scene.add_geometry(tri, geom_name=mesh.name, node_name=mesh.name, transform=transform)
    folder = osp.dirname(os.fspath(path))
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, 'wb') as f:
        f.write(scene.export(file_type='glb'))
    return path


def save_image(path: str, image: np.ndarray) -> str:
    """Write an (H, W, 3) uint8 RGB image (PNG/JPEG by extension), creating the folder; returns ``path``."""
    image = check_image(image, 'image')
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if not cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise ValueError(f'save_image: OpenCV could not write {path}; use a .png or .jpg name.')
    return path
