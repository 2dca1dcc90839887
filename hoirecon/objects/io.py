"""Template and keypoint files in the layouts of BEHAVE, InterCap and StackFLOW.

Layouts::

    BEHAVE   <template_dir>/<name>/<name>_f1000.ply   (or _f2000, _f2500, _closed_f1000, tried in this order)
             <template_dir>/<name>/<name>_keypoints.json   (optional; written by write_template_folder)
    InterCap <template_dir>/01.ply .. 10.ply           (objs/ of the InterCap release)
             <template_dir>/<name>_keypoints.json      (optional)
    StackFLOW keypoints <keypoint_dir>/<name>_keypoints.json = {"<kp_name>": [vertex ids], ...}
"""
import json
import os
import os.path as osp
from typing import List, Sequence, Tuple

import numpy as np
import trimesh
from tqdm import tqdm

from hoirecon.assets.procedural_objects import procedural_raw_mesh
from .catalogue import BEHAVE_SUFFIX_ORDER, BEHAVE_TEMPLATE_SUFFIX, MAX_KEYPOINTS, object_index, object_names

LAYOUT_HELP = {
    'behave': 'expected BEHAVE layout: <template_dir>/<name>/<name>_f1000.ply (or _f2000, _f2500, _closed_f1000), '
              'i.e. the objects/ folder of the BEHAVE release',
    'intercap': 'expected InterCap layout: <template_dir>/01.ply .. 10.ply, i.e. the objs/ folder of the InterCap '
                'release (obj_track/objs in its repository)',
}


def template_candidates(template_dir: str, name: str, dataset: str) -> List[str]:
    """Paths where the template of ``name`` may lie, in the order they are tried."""
    index = object_index(name, dataset)
    if dataset == 'behave':
        return [osp.join(template_dir, name, f'{name}{suffix}.ply') for suffix in BEHAVE_SUFFIX_ORDER]
    return [osp.join(template_dir, f'{index + 1:02d}.ply')]


def find_template_file(template_dir: str, name: str, dataset: str) -> str:
    """The first existing template file of ``name``; ``FileNotFoundError`` listing the tried paths otherwise."""
    candidates = template_candidates(template_dir, name, dataset)
    for path in candidates:
        if osp.isfile(path):
            return path
    raise FileNotFoundError(f'no template file for {dataset} object {name!r}: tried {", ".join(candidates)}; '
                            f'{LAYOUT_HELP[dataset]}')


def keypoint_file_beside(template_dir: str, name: str, dataset: str) -> str:
    """Where :func:`write_template_folder` puts the keypoint file of ``name`` (next to the template)."""
    if dataset == 'behave':
        return osp.join(template_dir, name, f'{name}_keypoints.json')
    return osp.join(template_dir, f'{name}_keypoints.json')


def read_mesh(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Read a triangle mesh without any processing (vertex order kept).

    Returns:
        (vertices (V, 3) float64 as stored, faces (F, 3) int64).

    Raises:
        ValueError: the file cannot be parsed or holds no triangles.
    """
    try:
        mesh = trimesh.load(path, process=False, force='mesh')
        vertices = np.asarray(mesh.vertices, dtype=np.float64)
        faces = np.asarray(mesh.faces, dtype=np.int64)
    except Exception as error:  # trimesh raises many types on bad input
        raise ValueError(f'cannot read template mesh {path}: {type(error).__name__}: {error}. Re-download or '
                         f're-export the file (a PLY with vertex and face elements).') from error
    if len(vertices) < 4 or faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise ValueError(f'template mesh {path} has {len(vertices)} vertices and {len(faces)} triangles; a template '
                         f'needs a triangle mesh. Re-download or re-export the file.')
    return vertices, faces


def read_keypoint_file(path: str, num_vertices: int) -> Tuple[List[str], List[List[int]]]:
    """Read a StackFLOW keypoint file ``{kp_name: [vertex ids]}``.

    Args:
        path: the json file.
        num_vertices: vertex count of the template the ids refer to.

    Returns:
        Keypoint names and their vertex-id groups, in file order.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'keypoint file {path} not found; expected <keypoint_dir>/<name>_keypoints.json '
                                f'holding {{"<kp_name>": [vertex ids], ...}}')
    try:
        with open(path) as file:
            content = json.load(file)
    except (OSError, ValueError) as error:
        raise ValueError(f'cannot parse keypoint file {path}: {error}') from error
    if not isinstance(content, dict) or not 1 <= len(content) <= MAX_KEYPOINTS:
        raise ValueError(f'keypoint file {path} must hold a json object of 1..{MAX_KEYPOINTS} entries '
                         f'{{"<kp_name>": [vertex ids]}}')
    names, groups = [], []
    for name, ids in content.items():
        valid = isinstance(ids, list) and len(ids) > 0 and all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < num_vertices for i in ids)
        if not valid:
            raise ValueError(f'keypoint file {path}: entry {name!r} must be a non-empty list of vertex ids in '
                             f'[0, {num_vertices}) of the template it belongs to')
        names.append(name)
        groups.append(ids)
    return names, groups


def _write_atomic(path: str, data: bytes):
    """Write ``data`` to ``path`` through a temporary file, so readers never see a partial file."""
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    temporary = f'{path}.tmp{os.getpid()}'
    with open(temporary, 'wb') as file:
        file.write(data)
    os.replace(temporary, path)


def write_keypoint_file(path: str, names: Sequence[str], groups: Sequence[Sequence[int]]):
    """Write keypoints in StackFLOW's format ``{kp_name: [vertex ids]}``."""
    content = {name: [int(i) for i in group] for name, group in zip(names, groups)}
    _write_atomic(path, json.dumps(content).encode())


def write_template_folder(out_dir: str, dataset: str = 'behave') -> List[str]:
    """Write the procedural templates of a dataset in the dataset's own folder layout.

    BEHAVE: ``out_dir/<name>/<name><suffix>.ply`` with the real suffixes (``monitor_closed_f1000``,
    ``chairblack_f2500``, ``chairwood_f2500``, ``tablesquare_f2000``, else ``_f1000``) and
    ``out_dir/<name>/<name>_keypoints.json``. InterCap: ``out_dir/01.ply`` .. ``10.ply`` and
    ``out_dir/<name>_keypoints.json``. Meshes are binary PLY with float32 vertices standing on y = 0 (not centred, like
    a real scan); ``ObjectLibrary(dataset, template_dir=out_dir)`` reads back exactly the procedural templates.

    Args:
        out_dir: the folder to fill (created if missing; existing files are replaced).
        dataset: 'behave' or 'intercap'.

    Returns:
        Paths of the written files (template, then keypoint file, per object).
    """
    written = []
    for index, name in enumerate(tqdm(object_names(dataset), desc=f'writing {dataset} templates', leave=False)):
        vertices, faces, names, groups = procedural_raw_mesh(name)
        if dataset == 'behave':
            mesh_path = osp.join(out_dir, name, f'{name}{BEHAVE_TEMPLATE_SUFFIX.get(name, "_f1000")}.ply')
        else:
            mesh_path = osp.join(out_dir, f'{index + 1:02d}.ply')
        _write_atomic(mesh_path, trimesh.Trimesh(vertices, faces, process=False).export(file_type='ply'))
        keypoint_path = keypoint_file_beside(out_dir, name, dataset)
        write_keypoint_file(keypoint_path, names, groups)
        written += [mesh_path, keypoint_path]
    return written
