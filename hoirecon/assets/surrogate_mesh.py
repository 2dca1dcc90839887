"""Closed tube meshes with elliptical sections and hemi-ellipsoid caps, batched over shape samples.

The surrogate body (:mod:`.surrogate_body`) is a union of such tubes. A tube follows a
polyline of nodes; every node carries one ring of vertices centred exactly on it
(``ring_size`` vertices at uniform angles, so the mean of the ring is the node),
segments between nodes get extra interpolated rings, and each end is closed by a
cap of shrinking rings and a pole. The topology depends only on the counts, so a
batch of S differently shaped bodies shares one face list.

Vertex order of a tube: ``[start pole, ring 0, ..., ring R-1, end pole]``, ring
``r`` holding vertices ``1 + r * ring_size + m``. Rings are ordered along the
tube, start-cap rings first.
"""
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass
class TubeMesh:
    """One meshed tube for S shape samples.

    Attributes:
        vertices: (S, V, 3) float64 positions, metres.
        faces: (F, 3) int64 triangles, consistently wound (outward or inward for the whole tube).
        ring_vertex_ids: (R, M) int64 vertex ids of each ring, in tube order.
        ring_arc: (S, R) float64 signed arc length of each ring along the centreline, metres, 0 at node 0
            (cap rings are negative / beyond the last node).
        node_rings: (N,) int64 ring index of each node.
        node_arc: (S, N) float64 arc length of each node.
        poles: (start pole id, end pole id); their arc lengths are the cap ends.
        pole_arc: (S, 2) float64 arc length of the two poles.
    """
    vertices: np.ndarray
    faces: np.ndarray
    ring_vertex_ids: np.ndarray
    ring_arc: np.ndarray
    node_rings: np.ndarray
    node_arc: np.ndarray
    poles: tuple
    pole_arc: np.ndarray


def _normalize(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def tube_faces(num_rings: int, ring_size: int) -> np.ndarray:
    """Triangles of a ring stack closed by two pole fans (vertex order as in the module docstring).

    Args:
        num_rings: R, rings in the stack (caps included).
        ring_size: M, vertices per ring.

    Returns:
        (2 * M * R, 3) int64 faces; every directed edge appears once (closed, consistently wound).
    """
    m = np.arange(ring_size)
    m_next = (m + 1) % ring_size
    last_pole = 1 + num_rings * ring_size
    faces = [np.stack([np.zeros_like(m), 1 + m_next, 1 + m], axis=1)]
    for r in range(num_rings - 1):
        a, b = 1 + r * ring_size + m, 1 + r * ring_size + m_next
        c, d = b + ring_size, a + ring_size
        faces += [np.stack([a, b, c], axis=1), np.stack([a, c, d], axis=1)]
    base = 1 + (num_rings - 1) * ring_size
    faces.append(np.stack([np.full_like(m, last_pole), base + m, base + m_next], axis=1))
    return np.concatenate(faces).astype(np.int64)


def make_tube(centres: np.ndarray,
              radii: np.ndarray,
              cap_lengths: np.ndarray,
              width_axis: Sequence[float],
              subdivisions: Sequence[int],
              ring_size: int,
              cap_rings: Sequence[int] = (3, 3)) -> TubeMesh:
    """Mesh a tapered tube along a polyline, for S shape samples at once.

    Between two nodes the centre and the two radii are interpolated linearly.
    A ring lies in the plane normal to the local tangent (the segment direction;
    at a node the mean of the adjacent directions); its first axis is
    ``width_axis`` made orthogonal to the tangent, the second is tangent x first.

    Args:
        centres: (S, N, 3) node positions, metres, N >= 2.
        radii: (S, N, 2) half-axes of the section at each node along (first, second) ring axis, metres.
        cap_lengths: (S, 2) how far the start / end pole lies beyond the first / last node, metres.
        width_axis: (3,) direction of the first section axis (must not be parallel to the tube).
        subdivisions: (N-1,) rings per segment, counting the ring at the segment's first node (>= 1).
        ring_size: M, vertices per ring (even, so every ring is point-symmetric about its centre).
        cap_rings: rings in the (start, end) cap, besides the pole.

    Returns:
        :class:`TubeMesh`.
    """
    centres = np.asarray(centres, dtype=np.float64)
    radii = np.asarray(radii, dtype=np.float64)
    num_samples, num_nodes = centres.shape[:2]
    if num_nodes < 2 or len(subdivisions) != num_nodes - 1 or min(subdivisions) < 1 or ring_size % 2:
        raise ValueError('make_tube: need N >= 2 nodes, N-1 subdivisions >= 1 and an even ring_size; got '
                         f'N={num_nodes}, subdivisions={list(subdivisions)}, ring_size={ring_size}.')
    seg = centres[:, 1:] - centres[:, :-1]
    seg_len = np.linalg.norm(seg, axis=-1)
    seg_dir = seg / seg_len[..., None]
    node_tangent = np.concatenate([seg_dir[:, :1], seg_dir[:, :-1] + seg_dir[:, 1:], seg_dir[:, -1:]], axis=1)
    node_tangent = _normalize(node_tangent)
    node_arc = np.concatenate([np.zeros((num_samples, 1)), np.cumsum(seg_len, axis=1)], axis=1)

    # rings along the body of the tube
    ring_c, ring_r, ring_t, ring_s, node_rings = [], [], [], [], []
    for k, count in enumerate(subdivisions):
        for j in range(count):
            f = j / count
            node_rings += [len(ring_c)] if j == 0 else []
            ring_c.append((1 - f) * centres[:, k] + f * centres[:, k + 1])
            ring_r.append((1 - f) * radii[:, k] + f * radii[:, k + 1])
            ring_t.append(node_tangent[:, k] if j == 0 else seg_dir[:, k])
            ring_s.append(node_arc[:, k] + f * seg_len[:, k])
    node_rings.append(len(ring_c))
    ring_c.append(centres[:, -1])
    ring_r.append(radii[:, -1])
    ring_t.append(node_tangent[:, -1])
    ring_s.append(node_arc[:, -1])
    ring_c, ring_r, ring_t, ring_s = (np.stack(a, axis=1) for a in (ring_c, ring_r, ring_t, ring_s))

    # caps: shrinking rings towards each pole (hemi-ellipsoids)
    start_phi = np.arange(cap_rings[0], 0, -1) / (cap_rings[0] + 1) * (np.pi / 2)
    end_phi = np.arange(1, cap_rings[1] + 1) / (cap_rings[1] + 1) * (np.pi / 2)
    start_off = -cap_lengths[:, :1] * np.sin(start_phi)  # (S, ks)
    end_off = cap_lengths[:, 1:] * np.sin(end_phi)  # (S, ke)
    t0, t1 = ring_t[:, :1], ring_t[:, -1:]
    cap_c = [ring_c[:, :1] + start_off[..., None] * t0, ring_c[:, -1:] + end_off[..., None] * t1]
    cap_r = [ring_r[:, :1] * np.cos(start_phi)[None, :, None], ring_r[:, -1:] * np.cos(end_phi)[None, :, None]]
    centres_all = np.concatenate([cap_c[0], ring_c, cap_c[1]], axis=1)
    radii_all = np.concatenate([cap_r[0], ring_r, cap_r[1]], axis=1)
    tangents_all = np.concatenate([np.repeat(t0, cap_rings[0], 1), ring_t, np.repeat(t1, cap_rings[1], 1)], axis=1)
    arc_all = np.concatenate([start_off, ring_s, ring_s[:, -1:] + end_off], axis=1)

    width = np.asarray(width_axis, dtype=np.float64)
    u = _normalize(width - (tangents_all @ width)[..., None] * tangents_all)
    v = np.cross(tangents_all, u)
    theta = 2 * np.pi * np.arange(ring_size) / ring_size
    rings = (centres_all[:, :, None] + radii_all[:, :, None, :1] * np.cos(theta)[:, None] * u[:, :, None] +
             radii_all[:, :, None, 1:] * np.sin(theta)[:, None] * v[:, :, None])
    start_pole = ring_c[:, 0] - cap_lengths[:, :1] * t0[:, 0]
    end_pole = ring_c[:, -1] + cap_lengths[:, 1:] * t1[:, 0]
    num_rings = centres_all.shape[1]
    vertices = np.concatenate([start_pole[:, None], rings.reshape(num_samples, -1, 3), end_pole[:, None]], axis=1)
    return TubeMesh(vertices=vertices,
                    faces=tube_faces(num_rings, ring_size),
                    ring_vertex_ids=1 + np.arange(num_rings * ring_size).reshape(num_rings, ring_size),
                    ring_arc=arc_all,
                    node_rings=np.asarray(node_rings) + cap_rings[0],
                    node_arc=node_arc,
                    poles=(0, 1 + num_rings * ring_size),
                    pole_arc=np.concatenate([-cap_lengths[:, :1], node_arc[:, -1:] + cap_lengths[:, 1:]], axis=1))


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Signed volume enclosed by closed triangle meshes (positive when faces wind counter-clockwise outside).

    Args:
        vertices: (..., V, 3) positions.
        faces: (F, 3) vertex ids.

    Returns:
        (...) volumes, in cubic units of ``vertices``.
    """
    a, b, c = (vertices[..., faces[:, k], :] for k in range(3))
    return np.einsum('...fi,...fi->...', a, np.cross(b, c)) / 6.0


def ramp_weights(arc: np.ndarray, node_arc: np.ndarray, bones: Sequence[int], end_arc: Sequence[float],
                 num_joints: int) -> np.ndarray:
    """Skinning weights along a tube: one bone per region, linear 50/50 blends across the nodes.

    Region ``k`` (between node ``k-1`` and node ``k``; region 0 is the start cap and region N the end cap)
    follows joint ``bones[k]``. Where two regions follow different joints the weight ramps linearly over
    ``node +- w`` with ``w = min(4 cm, 45 % of the shorter adjacent region)``.

    Args:
        arc: (P,) arc length of each point, metres.
        node_arc: (N,) arc length of each node.
        bones: (N+1,) joint index per region.
        end_arc: (start, end) arc length of the two poles (bound the cap regions).
        num_joints: J, columns of the result.

    Returns:
        (P, J) float64 weights, rows sum to 1.
    """
    bounds = np.concatenate([[end_arc[0]], node_arc, [end_arc[1]]])
    region = np.clip(np.searchsorted(node_arc, arc, side='right'), 0, len(node_arc))
    weights = np.zeros((len(arc), num_joints))
    weights[np.arange(len(arc)), np.asarray(bones)[region]] = 1.0
    for k, s_node in enumerate(node_arc):
        before, after = bones[k], bones[k + 1]
        if before == after:
            continue
        half = min(0.04, 0.45 * min(bounds[k + 1] - bounds[k], bounds[k + 2] - bounds[k + 1]))
        near = np.abs(arc - s_node) < half
        alpha = 0.5 + (arc[near] - s_node) / (2 * half)
        weights[near] = 0.0
        weights[near, before] = 1.0 - alpha
        weights[near, after] = alpha
    return weights
