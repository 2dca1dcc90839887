"""Pinhole-camera helpers: crop camera <-> translation, projection, crop coordinates.

Conventions: OpenCV camera frame (x right, y down, z forward, metres); pixel
coordinates ``(u, v)`` with ``u`` along x; ``focal = (fx, fy)`` and
``principal = (cx, cy)`` in pixels of the full image. The square crop fed to
the network is centred at ``box_center`` and has side ``box_size`` (full-image
pixels), see data_formats §2.4.

The *crop camera* ``(s, tx, ty)`` is what the camera head predicts: ``s`` is a
scale (the crop sees the body at depth ``fx / (box_size * s)``) and
``(tx, ty)`` is the offset of the projected root from the box centre in units
of ``box_size``.

All functions are pure torch, differentiable, and broadcast over the leading
dims (written ``B`` below; ``(B, k, ...)`` works the same as long as every
argument has the same leading dims).
"""
import torch

from .rotation import _check_last_dims


def crop_cam_to_translation(cam: torch.Tensor, box_center: torch.Tensor, box_size: torch.Tensor, focal: torch.Tensor,
                            principal: torch.Tensor) -> torch.Tensor:
    """Camera-frame translation of the root from the crop camera (StackFLOW, method.md §3).

    ``z = fx / (box_size * s)``, ``x = (tx * box_size + box_cx - cx) * z / fx``,
    ``y = (ty * box_size + box_cy - cy) * z / fy``. No epsilon is added:
    ``s = 0`` gives an infinite depth, ``s < 0`` a point behind the camera.

    Args:
        cam: (B, 3) crop camera ``(s, tx, ty)``.
        box_center: (B, 2) crop centre, full-image pixels.
        box_size: (B,) crop side, full-image pixels.
        focal: (B, 2) ``(fx, fy)``, pixels.
        principal: (B, 2) ``(cx, cy)``, pixels.

    Returns:
        (B, 3) translation ``(x, y, z)`` in metres (the units of the body model).
    """
    _check_last_dims('crop_cam_to_translation: cam', cam, (3, ))
    _check_last_dims('crop_cam_to_translation: box_center', box_center, (2, ))
    _check_last_dims('crop_cam_to_translation: focal', focal, (2, ))
    _check_last_dims('crop_cam_to_translation: principal', principal, (2, ))
    scale, offset = cam[..., 0], cam[..., 1:]
    depth = focal[..., 0] / (box_size * scale)
    image_offset = offset * box_size.unsqueeze(-1) + box_center - principal  # root pixel minus principal point
    xy = image_offset * depth.unsqueeze(-1) / focal
    return torch.cat((xy, depth.unsqueeze(-1)), dim=-1)


def translation_to_crop_cam(translation: torch.Tensor, box_center: torch.Tensor, box_size: torch.Tensor,
                            focal: torch.Tensor, principal: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`crop_cam_to_translation` (e.g. the crop camera of a ground-truth translation).

    ``s = fx / (box_size * z)``, ``tx = (fx * x / z + cx - box_cx) / box_size``,
    ``ty = (fy * y / z + cy - box_cy) / box_size``.

    Args:
        translation: (B, 3) root position in the camera frame, metres, ``z != 0``.
        box_center: (B, 2) crop centre, full-image pixels.
        box_size: (B,) crop side, full-image pixels.
        focal: (B, 2) ``(fx, fy)``, pixels.
        principal: (B, 2) ``(cx, cy)``, pixels.

    Returns:
        (B, 3) crop camera ``(s, tx, ty)``.
    """
    _check_last_dims('translation_to_crop_cam: translation', translation, (3, ))
    _check_last_dims('translation_to_crop_cam: box_center', box_center, (2, ))
    _check_last_dims('translation_to_crop_cam: focal', focal, (2, ))
    _check_last_dims('translation_to_crop_cam: principal', principal, (2, ))
    depth = translation[..., 2]
    scale = focal[..., 0] / (box_size * depth)
    root_pixel = focal * translation[..., :2] / depth.unsqueeze(-1) + principal
    offset = (root_pixel - box_center) / box_size.unsqueeze(-1)
    return torch.cat((scale.unsqueeze(-1), offset), dim=-1)


def perspective_project(points: torch.Tensor, focal: torch.Tensor, principal: torch.Tensor) -> torch.Tensor:
    """Pinhole projection ``u = fx * X / Z + cx``, ``v = fy * Y / Z + cy`` (no distortion).

    Points at ``Z = 0`` give inf/NaN and points behind the camera (``Z < 0``)
    are mirrored; mask them in the caller if they can occur.

    Args:
        points: (B, N, 3) points in the camera frame, metres.
        focal: (B, 2) ``(fx, fy)``, pixels.
        principal: (B, 2) ``(cx, cy)``, pixels.

    Returns:
        (B, N, 2) pixel coordinates in the full image.
    """
    _check_last_dims('perspective_project: points', points, (3, ))
    _check_last_dims('perspective_project: focal', focal, (2, ))
    _check_last_dims('perspective_project: principal', principal, (2, ))
    if points.dim() < 2:
        raise ValueError(f'perspective_project: points must have shape (B, N, 3), got {tuple(points.shape)}.')
    return points[..., :2] / points[..., 2:] * focal.unsqueeze(-2) + principal.unsqueeze(-2)


def to_crop_pixels(points_px: torch.Tensor,
                   box_center: torch.Tensor,
                   box_size: torch.Tensor,
                   crop_size: int = 256) -> torch.Tensor:
    """Full-image pixels to pixels of the ``crop_size`` x ``crop_size`` network crop (no rotation).

    ``p_crop = (p - box_center) * crop_size / box_size + crop_size / 2``.

    Args:
        points_px: (B, N, 2) full-image pixel coordinates.
        box_center: (B, 2) crop centre, full-image pixels.
        box_size: (B,) crop side, full-image pixels.
        crop_size: side of the network input, pixels (StackFLOW: 256).

    Returns:
        (B, N, 2) crop pixel coordinates.
    """
    _check_last_dims('to_crop_pixels: points_px', points_px, (2, ))
    _check_last_dims('to_crop_pixels: box_center', box_center, (2, ))
    if points_px.dim() < 2:
        raise ValueError(f'to_crop_pixels: points_px must have shape (B, N, 2), got {tuple(points_px.shape)}.')
    scale = crop_size / box_size.unsqueeze(-1).unsqueeze(-1)
    return (points_px - box_center.unsqueeze(-2)) * scale + crop_size / 2


def to_crop_coords(points_px: torch.Tensor,
                   box_center: torch.Tensor,
                   box_size: torch.Tensor,
                   crop_size: int = 256) -> torch.Tensor:
    """Normalised crop coordinates of the 2D joint losses: ``crop pixels / crop_size - 0.5``.

    The crop centre maps to 0 and the crop border to +-0.5. Mathematically this
    equals ``(p - box_center) / box_size`` for every ``crop_size``; the argument
    only states the crop the numbers refer to.

    Args:
        points_px: (B, N, 2) full-image pixel coordinates.
        box_center: (B, 2) crop centre, full-image pixels.
        box_size: (B,) crop side, full-image pixels.
        crop_size: side of the network input, pixels (StackFLOW: 256).

    Returns:
        (B, N, 2) normalised coordinates, unitless.
    """
    return to_crop_pixels(points_px, box_center, box_size, crop_size) / crop_size - 0.5
