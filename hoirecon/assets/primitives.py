"""Closed triangle-mesh primitives that the procedural object templates are built from.

Every primitive returns a :class:`MeshPart` whose surface is closed (each edge shared by exactly two faces) and whose
faces wind counter-clockwise seen from outside (positive signed volume). Parts may overlap when merged: every connected
component stays closed, so the merged mesh is still watertight in trimesh's sense. All functions are pure and
deterministic; lengths are in metres.
"""
from typing import NamedTuple, Optional, Sequence

import numpy as np
from scipy.spatial.transform import Rotation


class MeshPart(NamedTuple):
    """A triangle mesh.

    Attributes:
        vertices: (V, 3) float64 positions [m].
        faces: (F, 3) int64 vertex ids, counter-clockwise seen from outside.
    """
    vertices: np.ndarray
    faces: np.ndarray


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Signed volume [m^3] enclosed by a closed mesh; positive when the faces wind outward."""
    v0, v1, v2 = (vertices[faces[:, k]] for k in range(3))
    return float(np.einsum('ij,ij->i', v0, np.cross(v1, v2)).sum() / 6.0)


def orient_outward(part: MeshPart) -> MeshPart:
    """Flip every face of a closed, consistently wound part if it winds inward."""
    if signed_volume(part.vertices, part.faces) < 0:
        return MeshPart(part.vertices, part.faces[:, ::-1].copy())
    return part


def grid_faces(ids: np.ndarray) -> np.ndarray:
    """Triangulate a (n, m) grid of vertex ids: two triangles per quad, all with the same winding.

    Args:
        ids: (n, m) int vertex ids; quad (i, j) has corners ids[i, j], ids[i, j+1], ids[i+1, j+1], ids[i+1, j].

    Returns:
        ((n-1) * (m-1) * 2, 3) int64 faces.
    """
    a, b = ids[:-1, :-1], ids[:-1, 1:]
    c, d = ids[1:, 1:], ids[1:, :-1]
    first = np.stack([a, b, c], axis=-1).reshape(-1, 3)
    second = np.stack([a, c, d], axis=-1).reshape(-1, 3)
    return np.concatenate([first, second]).astype(np.int64)


def box_mesh(extents: Sequence[float], divisions: Sequence[int]) -> MeshPart:
    """Axis-aligned box centred at the origin whose six sides are regular grids.

    Args:
        extents: (3,) side lengths [m] along x, y, z.
        divisions: (3,) number of grid cells along x, y, z (each >= 1).

    Returns:
        A closed part with (nx+1)(ny+1)(nz+1) - (nx-1)(ny-1)(nz-1) vertices.
    """
    extents = np.asarray(extents, dtype=np.float64)
    divisions = np.asarray(divisions, dtype=np.int64)
    if extents.shape != (3, ) or np.any(extents <= 0) or divisions.shape != (3, ) or np.any(divisions < 1):
        raise ValueError(f'box_mesh needs 3 positive extents and 3 divisions >= 1, got {extents}, {divisions}')
    on_surface = np.zeros(divisions + 1, dtype=bool)
    on_surface[[0, -1], :, :] = True
    on_surface[:, [0, -1], :] = True
    on_surface[:, :, [0, -1]] = True
    ids = np.full(divisions + 1, -1, dtype=np.int64)
    ids[on_surface] = np.arange(on_surface.sum())
    axes = [np.linspace(-e / 2, e / 2, n + 1) for e, n in zip(extents, divisions)]
    vertices = np.stack(np.meshgrid(*axes, indexing='ij'), axis=-1)[on_surface]
    faces = []
    for axis in range(3):
        for side, sign in ((0, -1.0), (-1, 1.0)):
            sheet = grid_faces(np.take(ids, side, axis=axis))
            v0, v1, v2 = (vertices[sheet[0, k]] for k in range(3))
            if np.cross(v1 - v0, v2 - v0)[axis] * sign < 0:
                sheet = sheet[:, ::-1]
            faces.append(sheet)
    return MeshPart(vertices, np.concatenate(faces))


def box_divisions(extents: Sequence[float], num_vertices: int) -> np.ndarray:
    """Grid divisions that give a :func:`box_mesh` about ``num_vertices`` vertices with near-square cells.

    Args:
        extents: (3,) side lengths [m].
        num_vertices: wanted vertex count (>= 8).

    Returns:
        (3,) int64 divisions.
    """
    extents = np.asarray(extents, dtype=np.float64)
    best, best_error = None, None
    for step in np.geomspace(extents.min() / 64, extents.max(), 512):
        divisions = np.maximum(1, np.round(extents / step)).astype(np.int64)
        count = np.prod(divisions + 1) - np.prod(divisions - 1)
        error = abs(int(count) - num_vertices)
        if best_error is None or error < best_error:
            best, best_error = divisions, error
    return best


def superellipsoid_mesh(extents: Sequence[float], divisions: Sequence[int], exponent: float) -> MeshPart:
    """A box with rounded edges: the grid of :func:`box_mesh` pushed onto the superellipsoid ``sum |x/a|^p = 1``.

    Args:
        extents: (3,) bounding-box side lengths [m].
        divisions: (3,) grid cells along x, y, z.
        exponent: p; 2 gives an ellipsoid, large values approach the box.
    """
    if exponent < 2:
        raise ValueError(f'superellipsoid exponent must be >= 2, got {exponent}')
    cube = box_mesh((2.0, 2.0, 2.0), divisions)
    norm = (np.abs(cube.vertices)**exponent).sum(axis=1, keepdims=True)**(1.0 / exponent)
    vertices = cube.vertices / norm * (np.asarray(extents, dtype=np.float64) / 2)
    return orient_outward(MeshPart(vertices, cube.faces))


def _ring_surface(rings: np.ndarray, start_pole: Optional[np.ndarray], end_pole: Optional[np.ndarray],
                  loop: bool) -> MeshPart:
    """Stitch (n, S, 3) rings of S points into a closed tube.

    Consecutive rings are joined by quads; the ring's last point joins its first. The tube is closed either by a fan
    to a pole at each end or, with ``loop``, by joining the last ring to the first.
    """
    num_rings, segments = rings.shape[:2]
    ids = np.arange(num_rings * segments).reshape(num_rings, segments)
    ids = np.concatenate([ids, ids[:, :1]], axis=1)
    if loop:
        ids = np.concatenate([ids, ids[:1]], axis=0)
    vertices = [rings.reshape(-1, 3)]
    faces = [grid_faces(ids)]
    if not loop:
        start_id, end_id = num_rings * segments, num_rings * segments + 1
        vertices.append(np.stack([start_pole, end_pole]))
        first, last = ids[0], ids[-1]
        faces.append(np.stack([np.full(segments, start_id), first[1:], first[:-1]], axis=1))
        faces.append(np.stack([np.full(segments, end_id), last[:-1], last[1:]], axis=1))
    return orient_outward(MeshPart(np.concatenate(vertices), np.concatenate(faces).astype(np.int64)))


def lathe_mesh(profile: Sequence[Sequence[float]], segments: int) -> MeshPart:
    """Surface of revolution about the y axis.

    Args:
        profile: (n, 2) points (radius [m], height y [m]) from one pole to the other; the first and last radius must be
            0 (the poles), all others > 0.
        segments: points per ring (around the axis).

    Returns:
        A closed part: vertex ``n - 2`` * segments is the first pole, the last vertex the second pole; ring k (profile
        point k + 1) starts at vertex k * segments, its point j at angle 2*pi*j/segments from +x towards -z.
    """
    profile = np.asarray(profile, dtype=np.float64)
    if profile.ndim != 2 or profile.shape[1] != 2 or len(profile) < 3:
        raise ValueError(f'lathe profile must be (n >= 3, 2) (radius, height), got shape {profile.shape}')
    if profile[0, 0] != 0 or profile[-1, 0] != 0 or np.any(profile[1:-1, 0] <= 0):
        raise ValueError('lathe profile must start and end on the axis (radius 0) with positive radii between')
    angles = 2 * np.pi * np.arange(segments) / segments
    radius, height = profile[1:-1, :1], profile[1:-1, 1:]
    rings = np.stack([radius * np.cos(angles), np.broadcast_to(height, radius.shape[:1] + angles.shape),
                      -radius * np.sin(angles)], axis=-1)
    return _ring_surface(rings, np.array([0.0, profile[0, 1], 0.0]), np.array([0.0, profile[-1, 1], 0.0]), loop=False)


def _path_plane_normal(path: np.ndarray) -> np.ndarray:
    """Unit normal of the plane of a planar path (any perpendicular for a straight one)."""
    centred = path - path.mean(axis=0)
    _, singular, basis = np.linalg.svd(centred)
    direction = basis[0]
    if len(singular) > 1 and singular[1] > 1e-9 * max(singular[0], 1e-12):
        normal = basis[2]
        if np.abs(centred @ normal).max() > 1e-6:
            raise ValueError('sweep_mesh needs a planar path (or an explicit normal)')
        return normal
    helper = np.eye(3)[np.argmin(np.abs(direction))]
    normal = np.cross(direction, helper)
    return normal / np.linalg.norm(normal)


def sweep_mesh(path: Sequence[Sequence[float]], radius, segments: int, loop: bool = False,
               normal: Optional[Sequence[float]] = None) -> MeshPart:
    """A tube of circular cross-section swept along a planar polyline.

    Args:
        path: (m, 3) centre-line points [m] (m >= 2).
        radius: tube radius [m], scalar or (m,) per path point.
        segments: points per cross-section ring.
        loop: join the last ring to the first (a closed ring such as a racket frame); otherwise both ends get a cap
            whose centre is a vertex (ids m * segments and m * segments + 1).
        normal: (3,) unit normal of the path's plane; derived from the path when None.

    Returns:
        A closed part; ring i (path point i) starts at vertex i * segments.
    """
    path = np.asarray(path, dtype=np.float64)
    if path.ndim != 2 or path.shape[1] != 3 or len(path) < 2:
        raise ValueError(f'sweep path must be (m >= 2, 3), got shape {path.shape}')
    normal = _path_plane_normal(path) if normal is None else np.asarray(normal, dtype=np.float64)
    if loop:
        tangents = np.roll(path, -1, axis=0) - np.roll(path, 1, axis=0)
    else:
        tangents = np.gradient(path, axis=0)
    side = np.cross(tangents, normal)
    side /= np.linalg.norm(side, axis=1, keepdims=True)
    angles = 2 * np.pi * np.arange(segments) / segments
    radius = np.broadcast_to(np.asarray(radius, dtype=np.float64), (len(path), ))[:, None, None]
    offsets = side[:, None] * np.cos(angles)[None, :, None] + normal[None, None] * np.sin(angles)[None, :, None]
    rings = path[:, None] + radius * offsets
    return _ring_surface(rings, path[0], path[-1], loop=loop)


def rotation(axis: str, degrees: float) -> np.ndarray:
    """(3, 3) rotation matrix about the x, y or z axis (right-handed)."""
    return Rotation.from_euler(axis, degrees, degrees=True).as_matrix()


def transformed(part: MeshPart, rotation_matrix: Optional[np.ndarray] = None,
                translation: Sequence[float] = (0.0, 0.0, 0.0)) -> MeshPart:
    """The part moved by ``R @ v + t`` (a rotation keeps the outward winding)."""
    vertices = part.vertices if rotation_matrix is None else part.vertices @ np.asarray(rotation_matrix).T
    return MeshPart(vertices + np.asarray(translation, dtype=np.float64), part.faces)
