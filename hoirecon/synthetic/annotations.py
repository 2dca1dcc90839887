"""Per-image annotations derived from the ground truth: noisy OpenPose keypoints and 2D-3D correspondences.

These imitate what a detector would give (OpenPose BODY_25 for the person,
EPro-PnP's dense object correspondences), with controllable noise, so that
downstream code can be trained and evaluated without running those networks.
"""
import numpy as np

from hoirecon.utils.offscreen import Intrinsics

#: BODY_25 ids of wrists, ankles, toes and heels: detected less precisely.
EXTREMITY_JOINTS = (4, 7, 11, 14, 19, 20, 21, 22, 23, 24)


def unproject_depth(depth: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Camera-frame points (H, W, 3) float32 of a depth map (H, W) in metres (OpenCV pixel centres)."""
    height, width = depth.shape
    cols, rows = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    x = (cols - intrinsics.cx) / intrinsics.fx * depth
    y = (rows - intrinsics.cy) / intrinsics.fy * depth
    return np.stack([x, y, depth], axis=-1).astype(np.float32)


def object_coordinates(depth: np.ndarray, intrinsics: Intrinsics, rotation: np.ndarray,
                       translation: np.ndarray) -> np.ndarray:
    """Template-frame coordinates (H, W, 3) float32 of the object surface seen at each pixel.

    Args:
        depth: (H, W) object depth in metres (0 off the object).
        intrinsics: The camera.
        rotation, translation: Object pose in this camera (``x_cam = R v + t``).
    """
    points = unproject_depth(depth, intrinsics).astype(np.float64)
    coords = (points - translation) @ np.asarray(rotation)  # R^T (x - t), row-wise
    return np.where(depth[..., None] > 0, coords, 0).astype(np.float32)


def noisy_body25(rng: np.random.Generator, joints_cam: np.ndarray, intrinsics: Intrinsics, object_depth: np.ndarray,
                 noise_px: float, drop_prob: float = 0.03) -> np.ndarray:
    """OpenPose-like BODY_25 detections from the true joints.

    Visible joints get Gaussian noise of ``noise_px`` pixels (1.5x on the
    extremities) and confidences in [0.55, 0.95]; joints hidden behind the object
    get 3x the noise and confidences in [0.05, 0.45]; joints behind the camera,
    outside the image or randomly dropped are ``(0, 0, 0)`` as in OpenPose.

    Args:
        rng: Random generator.
        joints_cam: (25, 3) BODY_25 joints in the camera frame (metres).
        intrinsics: The camera.
        object_depth: (H, W) object depth (metres, 0 off the object) for occlusion.
        noise_px: Standard deviation of the localisation noise in pixels.
        drop_prob: Probability that a joint is not detected.

    Returns:
        (25, 3) float32 ``(x px, y px, confidence)``.
    """
    num = len(joints_cam)
    in_front = joints_cam[:, 2] > 1e-3
    uv = intrinsics.project(np.where(in_front[:, None], joints_cam, 1.0))
    inside = in_front & (uv[:, 0] >= 0) & (uv[:, 0] <= intrinsics.width - 1) & (uv[:, 1] >= 0) & (
        uv[:, 1] <= intrinsics.height - 1)
    pixel = np.clip(np.round(uv).astype(np.int64), 0, [intrinsics.width - 1, intrinsics.height - 1])
    depth_at = object_depth[pixel[:, 1], pixel[:, 0]]
    occluded = inside & (depth_at > 0) & (depth_at < joints_cam[:, 2] - 0.02)
    sigma = np.full(num, float(noise_px))
    sigma[list(EXTREMITY_JOINTS)] *= 1.5
    sigma[occluded] *= 3.0
    noisy = uv + rng.standard_normal((num, 2)) * sigma[:, None]
    confidence = np.where(occluded, rng.uniform(0.05, 0.45, num), rng.uniform(0.55, 0.95, num))
    detected = inside & (rng.random(num) >= drop_prob)
    out = np.zeros((num, 3), dtype=np.float32)
    out[detected, :2] = noisy[detected]
    out[detected, 2] = confidence[detected]
    return out


def sample_correspondences(rng: np.random.Generator, visible: np.ndarray, coords: np.ndarray, num_points: int,
                           noise_px: float, outlier_ratio: float) -> dict:
    """EPro-PnP-style 2D-3D correspondences on the visible object surface.

    Args:
        rng: Random generator.
        visible: (H, W) bool visible object pixels.
        coords: (H, W, 3) template-frame coordinates of the object surface at each pixel.
        num_points: Points to draw (fewer if fewer pixels are visible).
        noise_px: Gaussian noise added to the 2D points, pixels.
        outlier_ratio: Fraction of points whose 2D location is replaced by a
            uniform random pixel of the object's bounding box (grown by 20 %).

    Returns:
        ``{}`` if nothing is visible, else ``x3d`` (n, 3) template-frame metres,
        ``x2d`` (n, 2) pixels ``(x, y)`` and ``w2d`` (n, 2) per-axis weights in
        (0, 1] (inliers in [0.5, 1], outliers in [0.02, 0.3]), all float32.
    """
    rows, cols = np.nonzero(visible)
    if len(rows) == 0:
        return {}
    pick = rng.choice(len(rows), size=min(num_points, len(rows)), replace=False)
    rows, cols = rows[pick], cols[pick]
    x3d = coords[rows, cols]
    x2d = np.stack([cols, rows], axis=1).astype(np.float64) + rng.standard_normal((len(rows), 2)) * noise_px
    w2d = rng.uniform(0.5, 1.0, size=(len(rows), 2))
    num_out = int(round(outlier_ratio * len(rows)))
    if num_out:
        out = rng.choice(len(rows), size=num_out, replace=False)
        low = np.array([cols.min(), rows.min()], np.float64)
        high = np.array([cols.max(), rows.max()], np.float64)
        margin = 0.2 * (high - low) + 1.0
        x2d[out] = rng.uniform(low - margin, high + margin, size=(num_out, 2))
        w2d[out] = rng.uniform(0.02, 0.3, size=(num_out, 2))
    return {'x3d': x3d.astype(np.float32), 'x2d': x2d.astype(np.float32), 'w2d': w2d.astype(np.float32)}
