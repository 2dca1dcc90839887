"""Object pose from 2D-3D correspondences with RANSAC PnP (OpenCV): the refiner's optional object initialiser."""
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np


@dataclass
class PnPResult:
    """Object pose in the camera (``x_cam = R x_obj + t``) and the RANSAC inliers.

    Attributes:
        R: (3, 3) rotation; t: (3,) translation, metres.
        inliers: (n,) indices into the used correspondences.
        num_used: correspondences given to RANSAC (weight above the threshold).
    """
    R: np.ndarray
    t: np.ndarray
    inliers: np.ndarray
    num_used: int


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
    return PnPResult(R=R, t=t, inliers=used[inliers], num_used=len(used))
