"""Geometry-derived facts about a template: interaction hints for the synthetic world and fallback keypoints.

Everything here is a pure function of the centred template vertices (+y up, the convention of the procedural
templates), so a template gets the same hints whether it is built procedurally or read back from a file.
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .catalogue import FAMILY_HINTS, SEAT_FAMILIES

UP_AXIS = 1  # y


def farthest_point_sampling(points: np.ndarray, num: int, selected: Sequence[int] = ()) -> np.ndarray:
    """Greedy farthest-point order of point ids, deterministic.

    Args:
        points: (N, 3) float positions.
        num: number of ids to return in total (including ``selected``), <= N.
        selected: ids already chosen; they come first, in their order. When empty, the point farthest from the
            centroid starts.

    Returns:
        (num,) int64 distinct ids.
    """
    points = np.asarray(points, dtype=np.float64)
    if num > len(points):
        raise ValueError(f'cannot pick {num} distinct points out of {len(points)}')
    chosen = [int(i) for i in selected]
    if not chosen:
        chosen = [int(np.argmax(np.linalg.norm(points - points.mean(axis=0), axis=1)))]
    distance = np.min(np.linalg.norm(points[:, None] - points[chosen][None], axis=2), axis=1)
    while len(chosen) < num:
        nxt = int(np.argmax(distance))
        chosen.append(nxt)
        distance = np.minimum(distance, np.linalg.norm(points - points[nxt], axis=1))
    return np.asarray(chosen[:num], dtype=np.int64)


def geometric_keypoints(vertices: np.ndarray, count: int) -> Tuple[List[str], List[List[int]]]:
    """Keypoints for a template that comes without a keypoint file.

    One keypoint is the centroid (the group of all vertices). Eight or more start with the vertices nearest to the 8
    corners of the axis-aligned bounding box (a box's corners); the rest, or fewer than 8, are spread over the surface
    by farthest-point sampling. Every keypoint but the centroid is one vertex.

    Args:
        vertices: (V, 3) template vertices [m].
        count: number of keypoints (1 .. 16).

    Returns:
        Names ``kp00``, ``kp01``, ... and their vertex-id groups.
    """
    if count == 1:
        return ['centre'], [list(range(len(vertices)))]
    corners = []
    if count >= 8:
        low, high = vertices.min(axis=0), vertices.max(axis=0)
        for corner in np.stack(np.meshgrid(*zip(low, high), indexing='ij'), axis=-1).reshape(-1, 3):
            nearest = int(np.argmin(np.linalg.norm(vertices - corner, axis=1)))
            if nearest not in corners:
                corners.append(nearest)
    ids = farthest_point_sampling(vertices, count, selected=corners)
    return [f'kp{k:02d}' for k in range(count)], [[int(i)] for i in ids]


def _nearest(vertices: np.ndarray, target: np.ndarray) -> np.ndarray:
    return vertices[np.argmin(np.linalg.norm(vertices - target, axis=1))]


def _horizontal_ends(vertices: np.ndarray) -> np.ndarray:
    """The two vertices nearest to the middles of the two far sides along the longest horizontal box axis."""
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    centre = (low + high) / 2
    axis = 0 if high[0] - low[0] >= high[2] - low[2] else 2
    ends = []
    for bound in (low[axis], high[axis]):
        target = centre.copy()
        target[axis] = bound
        ends.append(_nearest(vertices, target))
    return np.stack(ends)


def grasp_points(vertices: np.ndarray, style: str) -> np.ndarray:
    """Surface points where a synthetic person puts its hands.

    Args:
        vertices: (V, 3) centred template vertices [m], +y up.
        style: 'sides' (two hands on the far sides of the longest horizontal axis, at mid height), 'top_ends' (two
            hands on the ends of the top, e.g. a chair's backrest or a table's top), 'top' (one hand on top: a
            handle), 'bottom' (one hand at the lowest point: a racket's or umbrella's handle) or 'side' (one hand on
            the +x side at mid height: a bottle, a cup's handle).

    Returns:
        (n, 3) float64 template vertices [m], n = 2 for two-hand styles, 1 otherwise.
    """
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    centre = (low + high) / 2
    if style == 'sides':
        return _horizontal_ends(vertices)
    if style == 'top_ends':
        band = vertices[vertices[:, UP_AXIS] >= high[UP_AXIS] - 0.05 * (high[UP_AXIS] - low[UP_AXIS])]
        return _horizontal_ends(band)
    targets = {
        'top': [centre[0], high[1], centre[2]],
        'bottom': [centre[0], low[1], centre[2]],
        'side': [high[0], centre[1], centre[2]],
    }
    if style not in targets:
        raise ValueError(f'unknown grasp style {style!r}; use sides, top_ends, top, bottom or side')
    return _nearest(vertices, np.asarray(targets[style]))[None]


def support_height(vertices: np.ndarray, faces: np.ndarray, bin_size: float = 0.01) -> float:
    """Height [m] above the lowest point of the largest upward-facing surface (a seat, a table top, a lid).

    Faces whose normal is within ~25 degrees of +y are binned by height (``bin_size`` metres); the fullest bin by area
    wins and its area-weighted mean height is returned. Without upward faces the object's height is returned.
    """
    bottom = vertices[:, UP_AXIS].min()
    normals = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    area = np.linalg.norm(normals, axis=1) / 2
    upward = normals[:, UP_AXIS] > 0.9 * 2 * np.maximum(area, 1e-30)
    if not upward.any():
        return float(vertices[:, UP_AXIS].max() - bottom)
    height = vertices[faces[upward]][:, :, UP_AXIS].mean(axis=1) - bottom
    bins = np.floor(height / bin_size).astype(np.int64)
    per_bin = np.bincount(bins, weights=area[upward])
    best = bins == np.argmax(per_bin)
    return float(np.average(height[best], weights=area[upward][best]))


def interaction_hints(vertices: np.ndarray, faces: np.ndarray, family: str) -> Dict[str, object]:
    """Hints that let a synthetic person carry, lift, sit on, push or lean on a template.

    Args:
        vertices: (V, 3) float64 centred template vertices [m], +y up.
        faces: (F, 3) int64 faces.
        family: the object family (``hoirecon.objects.catalogue.OBJECT_FAMILY``).

    Returns:
        A dict with ``extents`` (3,) [m] of the axis-aligned box, ``up_axis`` ('+y'), ``resting_height`` [m] (the
        height of the template origin above the floor when the object stands on its lowest point),
        ``support_height`` [m above the lowest point] of the largest upward surface, ``seat_height`` (chairs and
        stools, same as ``support_height``), ``grasp_points`` (n, 3) [m], ``grasp_style`` and ``interactions``.
    """
    if family not in FAMILY_HINTS:
        raise ValueError(f'unknown object family {family!r}; known: {sorted(FAMILY_HINTS)}')
    style, interactions = FAMILY_HINTS[family]
    hints = {
        'extents': vertices.max(axis=0) - vertices.min(axis=0),
        'up_axis': '+y',
        'resting_height': float(-vertices[:, UP_AXIS].min()),
        'support_height': support_height(vertices, faces),
        'grasp_points': grasp_points(vertices, style),
        'grasp_style': style,
        'interactions': interactions,
    }
    if family in SEAT_FAMILIES:
        hints['seat_height'] = hints['support_height']
    return hints
