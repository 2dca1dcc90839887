"""Object pose from 2D-3D correspondences with RANSAC PnP (OpenCV): the refiner's optional object initialiser.

:func:`solve_object_pnp` finds a pose; :func:`check_pnp` decides whether it is trustworthy enough to replace the
network's object (enough inliers, a large enough share of inliers, a small reprojection error, and, when the object
mask is known, the correspondence points landing on the mask) and says why not.
"""
from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np


@dataclass
class PnPResult:
    """Object pose in the camera (``x_cam = R x_obj + t``) and the RANSAC inliers.

    Attributes:
        R: (3, 3) rotation; t: (3,) translation, metres.
        inliers: (n,) indices into the used correspondences.
        num_used: correspondences given to RANSAC (weight above the threshold).
        used: (num_used,) their row indices (None when not recorded).
    """
    R: np.ndarray
    t: np.ndarray
    inliers: np.ndarray
    num_used: int
    used: Optional[np.ndarray] = None


def solve_object_pnp(x3d: np.ndarray,
                     x2d: np.ndarray,
                     w2d: np.ndarray,
                     K: np.ndarray,
                     min_weight: float = 0.1,
                     reprojection_error: float = 8.0,
                     iterations: int = 200,
                     confidence: float = 0.999,
                     min_inliers: int = 6,
                     seed: int = 0) -> Optional[PnPResult]:
    """RANSAC EPnP on the weighted correspondences, then Levenberg-Marquardt on the inliers.

    Args:
        x3d: (N, 3) object-frame points, metres.
        x2d: (N, 2) pixels (undistorted).
        w2d: (N, 2) per-axis weights; a row is used when its mean weight exceeds ``min_weight`` (padding rows
            have weight 0).
        K: (3, 3) intrinsics, pixels.
        min_weight: weight threshold of the rows given to RANSAC.
        reprojection_error: RANSAC inlier threshold, pixels.
        iterations: RANSAC iterations.
        confidence: RANSAC confidence.
        min_inliers: fewer inliers (or used rows) than this returns None.
        seed: OpenCV's RNG seed (RANSAC is deterministic for a seed).

    Returns:
        :class:`PnPResult`, or None when there are too few points, RANSAC fails, or the object lands behind the
        camera.
    """
    x3d = np.asarray(x3d, np.float64).reshape(-1, 3)
    x2d = np.asarray(x2d, np.float64).reshape(-1, 2)
    w2d = np.asarray(w2d, np.float64).reshape(-1, 2)
    if not len(x3d) == len(x2d) == len(w2d):
        raise ValueError(f'solve_object_pnp: x3d, x2d and w2d must have the same number of rows, got '
                         f'{len(x3d)}, {len(x2d)}, {len(w2d)}.')
    used = np.flatnonzero(w2d.mean(axis=1) > min_weight)
    if len(used) < max(min_inliers, 4):
        return None
    cv2.setRNGSeed(int(seed))
    K = np.asarray(K, np.float64)
    ok, rvec, tvec, inliers = cv2.solvePnPRansac(x3d[used], x2d[used], K, None, iterationsCount=int(iterations),
                                                 reprojectionError=float(reprojection_error),
                                                 confidence=float(confidence), flags=cv2.SOLVEPNP_EPNP)
    if not ok or inliers is None or len(inliers) < min_inliers:
        return None
    inliers = inliers.reshape(-1)
    rvec, tvec = cv2.solvePnPRefineLM(x3d[used][inliers], x2d[used][inliers], K, None, rvec, tvec)
    R = cv2.Rodrigues(rvec)[0]
    t = tvec.reshape(3)
    if not np.all(np.isfinite(R)) or not np.all(np.isfinite(t)) or (x3d[used][inliers] @ R.T + t)[:, 2].min() <= 0:
        return None
    return PnPResult(R=R, t=t, inliers=used[inliers], num_used=len(used), used=used)


@dataclass
class PnPCheck:
    """Acceptance thresholds of a PnP pose (:func:`check_pnp`).

    Attributes:
        min_inliers: fewest RANSAC inliers.
        min_inlier_ratio: fewest inliers as a share of the rows given to RANSAC (real EPro-PnP maps keep 30-90 %
            at 8 px on 2048 px frames; a pose from a handful of rows among thousands is chance).
        max_mean_error: largest mean reprojection error of the inliers after refinement, pixels (same units as
            the RANSAC threshold).
        min_mask_overlap: fewest of the used rows whose 3D point, posed and projected, falls on the object mask
            (checked only when a mask is given).
    """
    min_inliers: int = 12
    min_inlier_ratio: float = 0.2
    max_mean_error: float = 8.0
    min_mask_overlap: float = 0.5


def mask_grid(mask: np.ndarray, size: int = 64) -> Tuple[np.ndarray, np.ndarray]:
    """A mask as its box and a fixed-size grid of it (what the PnP check reads; stackable across images).

    Args:
        mask: (H, W) bool / uint8 (> 0 = object), full image.
        size: grid cells per side.

    Returns:
        (4,) float32 xyxy box of the mask in pixels (pixel edges: ``x1 = last column + 1``) and the (size, size)
        float32 grid (1 = object) of the mask inside that box; an empty mask gives a zero box and grid.
    """
    mask = np.asarray(mask) > 0
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return np.zeros(4, np.float32), np.zeros((size, size), np.float32)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    crop = mask[y0:y1, x0:x1].astype(np.uint8)
    grid = cv2.resize(crop, (size, size), interpolation=cv2.INTER_NEAREST if max(crop.shape) <= size
                      else cv2.INTER_AREA)
    return np.array([x0, y0, x1, y1], np.float32), (grid > 0).astype(np.float32)


def points_on_mask(pixels: np.ndarray, box: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(N,) bool: which pixels (N, 2) fall on a mask given as :func:`mask_grid`'s box and grid."""
    box = np.asarray(box, np.float64)
    size = np.array([grid.shape[1], grid.shape[0]], np.float64)
    extent = np.maximum(box[2:] - box[:2], 1e-9)
    cell = np.floor((np.asarray(pixels, np.float64) - box[:2]) / extent * size).astype(np.int64)
    inside = np.all((cell >= 0) & (cell < size.astype(np.int64)), axis=1) & (extent > 1e-6).all()
    hit = np.zeros(len(cell), bool)
    hit[inside] = grid[cell[inside, 1], cell[inside, 0]] > 0.5
    return hit


def check_pnp(result: Optional[PnPResult],
              x3d: np.ndarray,
              x2d: np.ndarray,
              K: np.ndarray,
              check: PnPCheck = PnPCheck(),
              mask_box: Optional[np.ndarray] = None,
              mask: Optional[np.ndarray] = None) -> Tuple[bool, str]:
    """Whether a PnP pose may replace the network's object, and why (one line for the console and the JSON).

    Args:
        result: from :func:`solve_object_pnp` (None = it failed).
        x3d: (N, 3), x2d: (N, 2): the correspondences given to it (all rows; ``result.inliers`` index them).
        K: (3, 3) intrinsics.
        check: thresholds; ``max_mean_error`` in the same pixels as ``x2d``.
        mask_box, mask: the object mask as :func:`mask_grid` gives it, or None to skip the overlap check.

    Returns:
        (accepted, reason): e.g. ``(True, 'pnp: 2870/3104 inliers (92 %), mean error 1.3 px, 97 % on the mask')``
        or ``(False, 'inlier ratio 0.3 % < 20 %')``.
    """
    if result is None:
        return False, 'PnP failed (too few weighted correspondences or no RANSAC consensus)'
    x3d = np.asarray(x3d, np.float64).reshape(-1, 3)
    x2d = np.asarray(x2d, np.float64).reshape(-1, 2)
    count = len(result.inliers)
    ratio = count / max(result.num_used, 1)
    camera_points = x3d[result.inliers] @ result.R.T + result.t
    projected = camera_points[:, :2] / camera_points[:, 2:] * np.diag(K)[:2] + K[:2, 2]
    error = float(np.linalg.norm(projected - x2d[result.inliers], axis=1).mean())
    summary = f'{count}/{result.num_used} inliers ({100 * ratio:.0f} %), mean error {error:.1f} px'
    if count < check.min_inliers:
        return False, f'{count} inliers < {check.min_inliers} ({summary})'
    if ratio < check.min_inlier_ratio:
        return False, f'inlier ratio {100 * ratio:.1f} % < {100 * check.min_inlier_ratio:.0f} % ({summary})'
    if not error <= check.max_mean_error:
        return False, f'mean inlier error {error:.1f} px > {check.max_mean_error:g} px ({summary})'
    if mask is not None and mask_box is not None and np.asarray(mask).any():
        # every row that RANSAC saw, posed by the PnP pose: a right pose puts the visible surface on the mask
        rows = result.inliers if result.used is None else result.used
        posed = x3d[rows] @ result.R.T + result.t
        front = posed[:, 2] > 1e-6
        pixels = posed[front, :2] / posed[front, 2:] * np.diag(K)[:2] + K[:2, 2]
        overlap = float(points_on_mask(pixels, mask_box, mask).mean()) if front.any() else 0.0
        if overlap < check.min_mask_overlap:
            return False, (f'{100 * overlap:.0f} % of the posed points on the object mask < '
                           f'{100 * check.min_mask_overlap:.0f} % ({summary})')
        summary += f', {100 * overlap:.0f} % on the mask'
    return True, f'pnp: {summary}'
