"""Geometry of the CHORE-style fields: exact point-to-mesh distances, body-part groups, query-point sampling and the
pixel-aligned projection of query points into the crop (docs/chore.md).

Everything here is numpy (data pipeline, float64) except :func:`crop_grid_coords`, which is torch (the model).
"""
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from scipy.spatial import cKDTree

#: Names of CHORE's 14 body parts (IP-Net / CHORE use 14 parts of SMPL; the grouping of the joints is ours).
PART_NAMES_14 = ('torso', 'head', 'left_upper_arm', 'right_upper_arm', 'left_forearm', 'right_forearm', 'left_hand',
                 'right_hand', 'left_thigh', 'right_thigh', 'left_shin', 'right_shin', 'left_foot', 'right_foot')
#: SMPL's 22 body joints (the body model's ``part_labels``) -> the 14 parts: torso = pelvis, spines and collars;
#: head = neck + head; per side upper arm (shoulder), forearm (elbow), hand (wrist + fingers), thigh (hip),
#: shin (knee), foot (ankle + toes).
SMPL22_TO_PARTS14 = np.array([0, 8, 9, 0, 10, 11, 0, 12, 13, 0, 12, 13, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7], dtype=np.int64)


def group_parts(part_labels: np.ndarray, num_parts: int) -> np.ndarray:
    """(V,) labels among the 22 body joints -> ``num_parts`` parts (22: unchanged, 14: :data:`SMPL22_TO_PARTS14`)."""
    part_labels = np.asarray(part_labels, np.int64)
    if num_parts == 22:
        return part_labels
    if num_parts == 14:
        return SMPL22_TO_PARTS14[part_labels]
    raise ValueError(f'num_parts must be 14 (CHORE) or 22 (the body joints), got {num_parts}.')


def point_triangle_closest(points: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Closest points of triangles ``(a, b, c)`` to ``points`` (all (..., 3), broadcast), exact (Voronoi regions of
    the vertices, edges and face, as in Ericson's Real-Time Collision Detection 5.1.5)."""
    ab, ac, ap = b - a, c - a, points - a
    d1, d2 = (ab * ap).sum(-1), (ac * ap).sum(-1)
    bp = points - b
    d3, d4 = (ab * bp).sum(-1), (ac * bp).sum(-1)
    cp = points - c
    d5, d6 = (ab * cp).sum(-1), (ac * cp).sum(-1)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    eps = 1e-30
    # face region (default)
    denom = va + vb + vc
    denom = np.where(np.abs(denom) < eps, eps, denom)
    v, w = vb / denom, vc / denom
    out = a + ab * v[..., None] + ac * w[..., None]
    # edge regions
    edge_bc = (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0)
    t_bc = (d4 - d3) / np.maximum((d4 - d3) + (d5 - d6), eps)
    out = np.where(edge_bc[..., None], b + (c - b) * t_bc[..., None], out)
    edge_ac = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
    t_ac = d2 / np.maximum(d2 - d6, eps)
    out = np.where(edge_ac[..., None], a + ac * t_ac[..., None], out)
    edge_ab = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
    t_ab = d1 / np.maximum(d1 - d3, eps)
    out = np.where(edge_ab[..., None], a + ab * t_ab[..., None], out)
    # vertex regions
    out = np.where(((d6 >= 0) & (d5 <= d6))[..., None], c, out)
    out = np.where(((d3 >= 0) & (d4 <= d3))[..., None], b, out)
    out = np.where(((d1 <= 0) & (d2 <= 0))[..., None], a, out)
    return out


def subdivide_triangles(tri: np.ndarray, max_radius: float) -> Tuple[np.ndarray, np.ndarray]:
    """Split (F, 3, 3) triangles at their edge midpoints (1 -> 4) until every centroid-to-vertex distance is at most
    ``max_radius``; returns the triangle soup (F', 3, 3) (same surface) and each one's original triangle (F',)."""
    parent = np.arange(len(tri))
    for _ in range(12):
        radius = np.linalg.norm(tri - tri.mean(1, keepdims=True), axis=-1).max(1)
        big = radius > max_radius
        if not big.any():
            break
        a, b, c = tri[big, 0], tri[big, 1], tri[big, 2]
        ab, bc, ca = (a + b) / 2, (b + c) / 2, (c + a) / 2
        split = np.concatenate([np.stack(t, 1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])
        tri = np.concatenate([tri[~big], split])
        parent = np.concatenate([parent[~big], np.tile(parent[big], 4)])
    return tri, parent


class MeshDistance:
    """Unsigned distance from points to a triangle mesh, with the closest point and triangle; exact below
    ``exact_below`` metres (all distances when it is ``inf``), and above it an upper bound that is itself at least
    ``exact_below`` (so ``min(d, exact_below)``, the clamped target, is always exact).

    Candidates are the triangles whose centroids are nearest (a ``cKDTree``), ``candidates`` of them first, and the
    exact distance to each is taken (:func:`point_triangle_closest`). With ``r_max`` the largest centroid-to-vertex
    distance of the mesh and ``D`` the farthest candidate centroid, no other triangle is nearer than ``D - r_max``:
    a point is settled when ``D - r_max >= best`` (exact) or ``D - r_max >= exact_below`` (beyond the clamp); the
    others are queried again with 8 times more candidates, up to every triangle. Triangles wider than
    ``max_radius`` are first split (midpoints, as a triangle soup of the same surface; :func:`subdivide_triangles`)
    so that a few large triangles do not loosen the bound; the triangle returned is the original one.
    ``max_candidates`` caps the candidates (None: up to every triangle, exact): with a cap the distance of an
    unsettled point is the nearest of its candidates, an upper bound (the training configs' speed setting; its
    error is measured in docs/chore.md). Checked against brute force and
    trimesh (tests/test_chore/test_geometry.py).
    """

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, candidates: int = 16,
                 exact_below: float = float('inf'), max_radius: float = 0.03,
                 max_candidates: Optional[int] = None):
        self.exact_below = float(exact_below)
        self.max_candidates = max_candidates
        self.vertices = np.asarray(vertices, np.float64)
        self.faces = np.asarray(faces, np.int64)
        self.tri, self.parent = subdivide_triangles(self.vertices[self.faces], max_radius)
        centroids = self.tri.mean(1)
        self.r_max = float(np.linalg.norm(self.tri - centroids[:, None], axis=-1).max())
        self.tree = cKDTree(centroids)
        self.candidates = int(min(candidates, len(self.tri)))

    def _query_k(self, points: np.ndarray, k: int):
        centroid_dist, idx = self.tree.query(points, k=k)
        idx, centroid_dist = idx.reshape(len(points), -1), centroid_dist.reshape(len(points), -1)
        tri = self.tri[idx]  # (N, k, 3, 3)
        closest = point_triangle_closest(points[:, None], tri[..., 0, :], tri[..., 1, :], tri[..., 2, :])
        dist = np.linalg.norm(closest - points[:, None], axis=-1)
        best = dist.argmin(1)
        rows = np.arange(len(points))
        bound = centroid_dist[:, -1] - self.r_max  # no triangle outside the candidates is nearer
        exact = (k >= len(self.tri)) | (bound >= np.minimum(dist[rows, best], self.exact_below))
        return dist[rows, best], closest[rows, best], self.parent[idx[rows, best]], exact

    def query(self, points: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(distance (N,), closest point (N, 3), closest triangle (N,))`` of (N, 3) points."""
        points = np.asarray(points, np.float64)
        dist, closest = np.empty(len(points)), np.empty((len(points), 3))
        tri = np.empty(len(points), np.int64)
        todo, k = np.arange(len(points)), self.candidates
        limit = len(self.tri) if self.max_candidates is None else min(int(self.max_candidates), len(self.tri))
        while len(todo):
            d, c, t, exact = self._query_k(points[todo], k)
            dist[todo], closest[todo], tri[todo] = d, c, t
            if k >= limit:
                break
            todo, k = todo[~exact], min(8 * k, limit)
        return dist, closest, tri


def sample_surface(vertices: np.ndarray, faces: np.ndarray, count: int,
                   rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """``count`` points uniform on the surface (area-weighted triangles, uniform barycentrics) and their triangles."""
    tri = np.asarray(vertices, np.float64)[np.asarray(faces)]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    face = rng.choice(len(tri), size=count, p=area / area.sum())
    u, v = rng.random(count), rng.random(count)
    flip = u + v > 1
    u, v = np.where(flip, 1 - u, u), np.where(flip, 1 - v, v)
    t = tri[face]
    return t[:, 0] + (t[:, 1] - t[:, 0]) * u[:, None] + (t[:, 2] - t[:, 0]) * v[:, None], face


def sample_frustum(count: int, box_center: np.ndarray, box_size: float, focal: np.ndarray, principal: np.ndarray,
                   depth_range: Tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """``count`` camera-frame points uniform in crop pixels (the square ``box_center`` +- ``box_size / 2`` of the
    full image) and uniform in depth over ``depth_range`` (metres), unprojected with ``focal`` / ``principal``."""
    pixels = np.asarray(box_center, np.float64) + (rng.random((count, 2)) - 0.5) * float(box_size)
    depth = rng.uniform(depth_range[0], depth_range[1], count)
    xy = (pixels - np.asarray(principal, np.float64)) / np.asarray(focal, np.float64) * depth[:, None]
    return np.concatenate([xy, depth[:, None]], axis=1)


def crop_grid_coords(points: torch.Tensor, focal: torch.Tensor, principal: torch.Tensor, box_center: torch.Tensor,
                     box_size: torch.Tensor, img_size: int) -> torch.Tensor:
    """(B, N, 2) ``grid_sample`` coordinates (``align_corners=False``) of (B, N, 3) camera-frame points in the
    ``img_size``-pixel crop that :class:`~hoirecon.datasets.transforms.HOICrop` makes (no rotation) of the square of
    side ``box_size`` (B,) around ``box_center`` (B, 2) full-image pixels.

    HOICrop maps full-image pixel ``p`` to crop pixel ``q = S / box_size (p - box_center) + S / 2`` (pixel centres at
    integers, so the crop's area is ``[-0.5, S - 0.5]``); ``grid_sample`` with ``align_corners=False`` puts -1 and 1
    at the edges of that area at every feature-map resolution, so ``x = (q + 0.5) / S * 2 - 1 =
    2 (p - box_center) / box_size + 1 / S``. A point projecting to the centre of crop pixel ``i`` reads exactly cell
    ``i`` of a feature map at the crop's resolution (tested).
    """
    z = points[..., 2:3].clamp(min=1e-6)
    pixels = points[..., :2] / z * focal[:, None] + principal[:, None]
    return 2.0 * (pixels - box_center[:, None]) / box_size[:, None, None] + 1.0 / img_size


def frustum_grid(focal: torch.Tensor, principal: torch.Tensor, box_center: torch.Tensor, box_size: torch.Tensor,
                 resolution: int, depth_range: Sequence[float]) -> torch.Tensor:
    """(B, R^3, 3) camera-frame grid of each crop's frustum: ``R x R`` cells of the square of side ``box_size`` (B,)
    around ``box_center`` (B, 2) full-image pixels (cell centres) x ``R`` depths uniform in ``depth_range`` (metres),
    unprojected with ``focal`` / ``principal`` (B, 2); depth-major, then rows, then columns."""
    device = focal.device
    steps = (torch.arange(resolution, device=device, dtype=torch.float32) + 0.5) / resolution - 0.5
    depth = torch.linspace(float(depth_range[0]), float(depth_range[1]), resolution, device=device)
    z, v, u = torch.meshgrid(depth, steps, steps, indexing='ij')
    pixels = torch.stack([u, v], -1).reshape(1, -1, 2) * box_size[:, None, None] + box_center[:, None]
    z = z.reshape(1, -1, 1)
    xy = (pixels - principal[:, None]) / focal[:, None] * z
    return torch.cat([xy, z.expand(len(xy), -1, -1)], -1)


def chunked_fields(field_fn: Callable[[torch.Tensor], Dict[str, torch.Tensor]], points: torch.Tensor,
                   chunk: int) -> Dict[str, torch.Tensor]:
    """``field_fn`` on (B, N, 3) points, ``chunk`` points of each image at a time, concatenated along N (memory)."""
    parts = [field_fn(points[:, i:i + chunk]) for i in range(0, points.shape[1], chunk)]
    return {k: torch.cat([p[k] for p in parts], dim=1) for k in parts[0]}
