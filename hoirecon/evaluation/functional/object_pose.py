"""Object pose accuracy of a PnP pose against the ground truth (pure numpy; the correspondence network's metric).

Poses map object-frame points to the camera, ``x_cam = R x_obj + t`` (metres). Every function takes one image.

========================  ===================================================================================
quantity                  definition
========================  ===================================================================================
rotation error (deg)      geodesic angle of ``R_pred^T R_gt``: ``arccos((trace - 1) / 2)``
translation error (cm)    ``|t_pred - t_gt|``
ADD (m)                   mean over the template's vertices of ``|(R_pred v + t_pred) - (R_gt v + t_gt)|``
ADD-S (m)                 mean over the vertices posed by the truth of the distance to the nearest vertex posed
                          by the prediction (for symmetric objects)
diameter (m)              largest distance between two vertices of the template
ADD(-S) accuracy          ADD (ADD-S for objects listed as symmetric) below ``threshold`` x diameter (0.1)
2D points within 5 px     share of the correspondences given to PnP whose 2D point lies within 5 px of the true
                          projection ``pi(R_gt x3d + t_gt)`` of their 3D point
object Chamfer (cm)       Chamfer distance (sum of the two one-sided mean distances, the HOI papers' definition,
                          :func:`~hoirecon.evaluation.functional.chamfer_distance`) between surface samples of the
                          template posed by the prediction and by the truth, in the camera frame, **without any
                          alignment** (object only)
========================  ===================================================================================

*Up to the object's symmetries* (``symmetries`` given, :mod:`hoirecon.objects.symmetry`): the truth is each of its
symmetric twins ``(R_gt G^T, t_gt + R_gt (c - G^T c))``, which show the same shape; the twin with the smallest ADD
is the one the prediction is scored against (rotation, translation, ADD), and the 2D test takes the twin that
explains most points. With only the identity this is the plain score.
"""
from typing import Dict, Optional

import numpy as np
from scipy.spatial import ConvexHull, cKDTree

from hoirecon.objects.symmetry import pose_under_symmetry
from .chamfer import chamfer_distance


def rotation_error_deg(R_pred: np.ndarray, R_gt: np.ndarray) -> float:
    """Geodesic angle between two rotations (3, 3), degrees in [0, 180]."""
    relative = np.asarray(R_pred, np.float64).T @ np.asarray(R_gt, np.float64)
    cosine = np.clip((np.trace(relative) - 1.0) / 2.0, -1.0, 1.0)
    return float(np.degrees(np.arccos(cosine)))


def revolution_axes(symmetries: np.ndarray, max_step_deg: float = 30.0) -> np.ndarray:
    """(A, 3) distinct unit axes (object frame) of the symmetries that turn by less than ``max_step_deg`` (but not
    0): a template symmetric under such a small step about an axis is a solid of revolution about it (the
    symmetries are found at sampled angles, :func:`hoirecon.objects.symmetry.object_symmetries`), one with two
    such axes is a ball."""
    axes: list = []
    for G in np.asarray(symmetries, np.float64).reshape(-1, 3, 3):
        angle = np.degrees(np.arccos(np.clip((np.trace(G) - 1) / 2, -1, 1)))
        if 1.0 < angle < max_step_deg:
            axis = np.array([G[2, 1] - G[1, 2], G[0, 2] - G[2, 0], G[1, 0] - G[0, 1]])
            axis /= np.linalg.norm(axis)
            if all(abs(axis @ a) < 0.99 for a in axes):
                axes.append(axis)
    return np.asarray(axes, np.float64).reshape(-1, 3)


def symmetric_rotation_error_deg(R_pred: np.ndarray, R_gt: np.ndarray, symmetries: np.ndarray) -> float:
    """The smallest :func:`rotation_error_deg` between ``R_pred`` and a symmetric twin ``R_gt G^T`` of the truth.

    The symmetries are found at sampled angles; where they show a continuous symmetry (:func:`revolution_axes`) the
    error is taken over the whole continuum: 0 for a ball; for a solid of revolution about ``a`` the angle between
    the two poses' axes, ``R_pred a`` and the twins' ``R_gt G^T a`` (the turn about the axis does not count).

    Args:
        R_pred, R_gt: (3, 3); symmetries: (S, 3, 3) the object's symmetries (identity included,
            :func:`hoirecon.objects.symmetry.object_symmetries`).
    """
    R_pred, R_gt = np.asarray(R_pred, np.float64), np.asarray(R_gt, np.float64)
    axes = revolution_axes(symmetries)
    if len(axes) >= 2:
        return 0.0
    if len(axes) == 1:
        a = axes[0]
        return min(float(np.degrees(np.arccos(np.clip((R_pred @ a) @ (R_gt @ np.asarray(G, np.float64).T @ a),
                                                      -1.0, 1.0)))) for G in symmetries)
    return min(rotation_error_deg(R_pred, R_gt @ np.asarray(G, np.float64).T) for G in symmetries)


def translation_error_cm(t_pred: np.ndarray, t_gt: np.ndarray) -> float:
    """Euclidean distance of two translations (3,) in metres, returned in centimetres."""
    return float(100.0 * np.linalg.norm(np.asarray(t_pred, np.float64) - np.asarray(t_gt, np.float64)))


def posed(vertices: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(V, 3) object-frame points posed in the camera, ``R v + t`` (float64)."""
    return np.asarray(vertices, np.float64) @ np.asarray(R, np.float64).T + np.asarray(t, np.float64)


def object_diameter(vertices: np.ndarray) -> float:
    """Largest distance between two vertices (V, 3), metres (attained on the convex hull)."""
    vertices = np.asarray(vertices, np.float64)
    try:
        vertices = vertices[ConvexHull(vertices).vertices]
    except Exception:  # flat or tiny point sets: all vertices
        pass
    best = 0.0
    for start in range(0, len(vertices), 512):
        block = vertices[start:start + 512]
        best = max(best, float(np.sqrt(((block[:, None] - vertices[None]) ** 2).sum(-1)).max()))
    return best


def add_error(vertices: np.ndarray, R_pred: np.ndarray, t_pred: np.ndarray, R_gt: np.ndarray,
              t_gt: np.ndarray) -> float:
    """ADD: mean distance between corresponding vertices posed by the prediction and by the truth, metres."""
    return float(np.linalg.norm(posed(vertices, R_pred, t_pred) - posed(vertices, R_gt, t_gt), axis=1).mean())


def adds_error(vertices: np.ndarray, R_pred: np.ndarray, t_pred: np.ndarray, R_gt: np.ndarray,
               t_gt: np.ndarray) -> float:
    """ADD-S: mean over the truth-posed vertices of the distance to the nearest prediction-posed vertex, metres."""
    distances, _ = cKDTree(posed(vertices, R_pred, t_pred)).query(posed(vertices, R_gt, t_gt))
    return float(distances.mean())


def reprojection_inlier_share(x3d: np.ndarray, x2d: np.ndarray, R_gt: np.ndarray, t_gt: np.ndarray,
                              cam_K: np.ndarray, threshold: float = 5.0) -> float:
    """Share of correspondences whose 2D point is within ``threshold`` pixels of its 3D point's true projection.

    Args:
        x3d: (N, 3) object-frame metres; x2d: (N, 2) full-image pixels.
        R_gt, t_gt: true object pose; cam_K: (3, 3) intrinsics.
        threshold: pixels.

    Returns:
        The share in [0, 1]; NaN for N = 0. Points behind the camera count as misses.
    """
    x3d = np.asarray(x3d, np.float64).reshape(-1, 3)
    if not len(x3d):
        return float('nan')
    camera = posed(x3d, R_gt, t_gt)
    cam_K = np.asarray(cam_K, np.float64)
    front = camera[:, 2] > 1e-6
    depth = np.where(front, camera[:, 2], 1.0)
    pixels = camera[:, :2] / depth[:, None] * np.diag(cam_K)[:2] + cam_K[:2, 2]
    close = np.linalg.norm(pixels - np.asarray(x2d, np.float64).reshape(-1, 2), axis=1) <= threshold
    return float(np.mean(close & front))


def object_chamfer_cm(surface: np.ndarray, R_pred: np.ndarray, t_pred: np.ndarray, R_gt: np.ndarray,
                      t_gt: np.ndarray) -> float:
    """Chamfer distance (cm) of the object's surface samples (S, 3) posed by the prediction vs by the truth.

    The same samples posed twice equal two samplings of the same mesh with the same random stream; no alignment.
    """
    return 100.0 * float(chamfer_distance(posed(surface, R_pred, t_pred), posed(surface, R_gt, t_gt),
                                          backend='kdtree'))


def object_pose_errors(vertices: np.ndarray, surface: np.ndarray, diameter: float, R_pred: Optional[np.ndarray],
                       t_pred: Optional[np.ndarray], R_gt: np.ndarray, t_gt: np.ndarray, x3d: np.ndarray,
                       x2d: np.ndarray, cam_K: np.ndarray, symmetric: bool = False, add_threshold: float = 0.1,
                       pixel_threshold: float = 5.0, symmetries: Optional[np.ndarray] = None,
                       centre: Optional[np.ndarray] = None) -> Dict[str, float]:
    """Every per-image quantity of the module doc.

    Args:
        vertices: (V, 3) template vertices (ADD / ADD-S); surface: (S, 3) samples of its surface (Chamfer).
        diameter: the template's diameter, metres.
        R_pred, t_pred: the PnP pose, or None when PnP failed (then the pose errors are NaN and the ADD(-S) test
            fails).
        R_gt, t_gt: the true pose.
        x3d, x2d: (N, 3) / (N, 2) the correspondences given to PnP.
        cam_K: (3, 3) intrinsics.
        symmetric: use ADD-S instead of ADD.
        add_threshold: ADD(-S) accuracy threshold as a fraction of the diameter.
        pixel_threshold: pixels of the 2D test.
        symmetries: optional (S, 3, 3) rotations about ``centre`` (3,) metres that map the object onto itself
            (identity included): score up to them (module doc).

    Returns:
        ``pnp_ok`` (0/1), ``add`` (m, ADD or ADD-S), ``add_correct`` (0/1), ``rotation_deg``, ``translation_cm``,
        ``chamfer_cm``, ``points_within_px`` (share), ``num_points``.
    """
    twins = [(np.asarray(R_gt, np.float64), np.asarray(t_gt, np.float64))]
    if symmetries is not None and len(symmetries) > 1:
        if centre is None:
            raise ValueError('object_pose_errors: symmetries need the centre they turn about.')
        twins = [pose_under_symmetry(twins[0][0], twins[0][1], np.asarray(G, np.float64), np.asarray(centre, float))
                 for G in symmetries]
    nan = float('nan')
    share = max(reprojection_inlier_share(x3d, x2d, R, t, cam_K, pixel_threshold) for R, t in twins)
    out = dict(pnp_ok=float(R_pred is not None), add=nan, add_correct=0.0, rotation_deg=nan, translation_cm=nan,
               chamfer_cm=nan, num_points=float(len(np.asarray(x3d).reshape(-1, 3))), points_within_px=share)
    if R_pred is None or not (np.all(np.isfinite(R_pred)) and np.all(np.isfinite(t_pred))):
        out['pnp_ok'] = 0.0
        return out
    if len(twins) > 1:
        R_gt, t_gt = min(twins, key=lambda twin: add_error(vertices, R_pred, t_pred, *twin))
    error = (adds_error if symmetric else add_error)(vertices, R_pred, t_pred, R_gt, t_gt)
    out.update(add=error, add_correct=float(error < add_threshold * diameter),
               rotation_deg=rotation_error_deg(R_pred, R_gt), translation_cm=translation_error_cm(t_pred, t_gt),
               chamfer_cm=object_chamfer_cm(surface, R_pred, t_pred, R_gt, t_gt))
    return out


def summarise_object_pose(records: list) -> Dict[str, float]:
    """Aggregate :func:`object_pose_errors` records.

    Returns:
        ``num_images``; ``pnp_success`` (share); ``add_accuracy`` (share of ALL images, failures count as wrong);
        ``rotation_deg``, ``translation_cm``, ``chamfer_cm`` mean and ``*_median`` over the images where PnP
        succeeded; ``points_within_px`` mean over images with correspondences.
    """
    def column(key):
        return np.array([r[key] for r in records], np.float64)

    ok = column('pnp_ok') > 0 if records else np.zeros(0, bool)
    out = dict(num_images=float(len(records)), pnp_success=float(ok.mean()) if len(ok) else float('nan'),
               add_accuracy=float(column('add_correct').mean()) if records else float('nan'))
    for key in ('rotation_deg', 'translation_cm', 'chamfer_cm'):
        values = column(key)[ok] if records else np.zeros(0)
        out[key] = float(values.mean()) if len(values) else float('nan')
        out[f'{key}_median'] = float(np.median(values)) if len(values) else float('nan')
    shares = column('points_within_px') if records else np.zeros(0)
    shares = shares[np.isfinite(shares)]
    out['points_within_px'] = float(shares.mean()) if len(shares) else float('nan')
    return out
