"""Image-space data terms of the refiners: per-image L1 reprojection errors of keypoints and correspondences.

Every function returns one value per image, so a batched optimisation is the sum of independent per-image
problems (Adam adapts per parameter, so batch composition does not change any image's result).
"""
import torch

from hoirecon.models.utils import perspective_project

#: Points closer to the camera plane than this (metres) are left out of the reprojection terms.
MIN_DEPTH = 1e-3


def _project(points: torch.Tensor, focal: torch.Tensor, principal: torch.Tensor):
    """Pixels (B, N, 2) of camera-frame points (B, N, 3) and a (B, N) mask of points in front of the camera."""
    in_front = points[..., 2] > MIN_DEPTH
    safe = torch.where(in_front[..., None], points, torch.ones_like(points))
    return perspective_project(safe, focal, principal), in_front


def keypoint_reprojection_loss(joints: torch.Tensor, keypoints: torch.Tensor, focal: torch.Tensor,
                               principal: torch.Tensor, pixel_scale=1.0) -> torch.Tensor:
    """StackFLOW's person term: confidence-weighted L1 between projected joints and detected keypoints.

    ``mean over joints and x/y of |project(joint) - keypoint| * confidence * pixel_scale``; undetected
    keypoints have confidence 0 (OpenPose writes ``(0, 0, 0)``), so an image without keypoints scores 0.

    Args:
        joints: (B, J, 3) camera-frame joints (e.g. BODY_25), metres.
        keypoints: (B, J, 3) detections ``(x px, y px, confidence)`` in the full image.
        focal: (B, 2) ``(fx, fy)`` px; principal: (B, 2) ``(cx, cy)`` px.
        pixel_scale: residuals are multiplied by it, a number or a (B,) tensor (e.g. 4 expresses a 512 px image's
            errors in BEHAVE's 2048 px, so the BEHAVE weights carry over).

    Returns:
        (B,) loss per image.
    """
    pixels, in_front = _project(joints, focal, principal)
    confidence = keypoints[..., 2] * in_front
    residual = (pixels - keypoints[..., :2]).abs() * confidence[..., None]
    return residual.flatten(1).mean(dim=1) * pixel_scale


def correspondence_reprojection_loss(object_R: torch.Tensor, object_t: torch.Tensor, x3d: torch.Tensor,
                                     x2d: torch.Tensor, w2d: torch.Tensor, focal: torch.Tensor,
                                     principal: torch.Tensor, pixel_scale=1.0) -> torch.Tensor:
    """StackFLOW's object term: weighted L1 between projected object-frame points and their 2D matches.

    ``sum(|project(R x3d + t) - x2d| * w2d) * pixel_scale / (2 * n)`` over the image's n correspondences (rows
    with a positive weight), i.e. the mean over real rows; padding rows (weight 0) do not count, and an image
    without correspondences scores 0.

    Args:
        object_R: (B, 3, 3), object_t: (B, 3): object pose in the camera, ``x_cam = R x_obj + t`` (metres).
        x3d: (B, N, 3) object-frame points, metres; x2d: (B, N, 2) pixels; w2d: (B, N, 2) weights.
        focal, principal: (B, 2) pixels.
        pixel_scale: see :func:`keypoint_reprojection_loss`.

    Returns:
        (B,) loss per image.
    """
    points = x3d @ object_R.transpose(1, 2) + object_t[:, None]
    pixels, in_front = _project(points, focal, principal)
    weights = w2d * in_front[..., None]
    real = (w2d.sum(dim=-1) > 0).sum(dim=1).clamp(min=1)
    return ((pixels - x2d).abs() * weights).flatten(1).sum(dim=1) * pixel_scale / (2 * real)
