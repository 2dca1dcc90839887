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

All functions are differentiable and broadcast over the leading dims (written
``B`` below; ``(B, k, ...)`` works the same as long as every argument has the
same leading dims). The crop mapping (:func:`to_crop_coords`,
:func:`to_crop_pixels`) also takes numpy arrays: it is the one formula that the
dataset transform (targets) and the model (2D losses) share.
"""
from typing import Optional, Union

import numpy as np
import torch

from .rotation import _check_last_dims

#: A torch tensor or a numpy array (the crop mapping takes either).
ArrayLike = Union[torch.Tensor, np.ndarray]


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


def to_crop_coords(points_px: ArrayLike, box_center: ArrayLike, box_size: ArrayLike,
                   rotation: Optional[ArrayLike] = None) -> ArrayLike:
    """Full-image pixels to normalised crop coordinates: ``R (p - box_center) / box_size``.

    THE full-image -> crop mapping of hoirecon: :class:`~hoirecon.datasets.transforms.HOICrop` (numpy, float64,
    with its in-plane rotation) makes the 2D targets with it, and the model's 2D losses (torch, axis-aligned: a
    rotated crop is folded into the camera by ``HOICrop``) map their projections with it. The crop centre maps to 0
    and the crop border to +-0.5, whatever the side of the network input (``crop pixels / img_size - 0.5``).

    Rounding: the value is computed as ``(R (p - c) * (1 / s) + 0.5) - 0.5``. That is ``R (p - c) / s`` in exact
    arithmetic, and it rounds exactly as the crop-pixel formula ``((p - c) * (n / s) + n / 2) / n - 0.5`` for every
    power-of-two crop side ``n`` (multiplying by a power of two commutes with rounding), the formula the documented
    numbers were trained with. A plain ``(p - c) / s`` differs in the last float32 bit, which training amplifies
    (docs/heads_and_losses.md, "Crop coordinates").

    Args:
        points_px: (..., N, 2) full-image pixel coordinates.
        box_center: (..., 2) crop centre, full-image pixels.
        box_size: (...) crop side, full-image pixels (a 0-d array or a number for unbatched points).
        rotation: optional (..., 2, 2) in-plane rotation of the crop (``HOICrop``'s ``rotation_2d(angle)``);
            None = an axis-aligned crop.

    Returns:
        (..., N, 2) normalised coordinates, unitless, of the type of ``points_px``.
    """
    _check_crop_args('to_crop_coords', points_px, box_center)
    offset = points_px - box_center[..., None, :]
    if rotation is not None:
        offset = offset @ rotation.swapaxes(-1, -2)
    inverse_size = 1.0 / (box_size[..., None, None] if hasattr(box_size, 'shape') else box_size)
    return (offset * inverse_size + 0.5) - 0.5


def to_crop_pixels(points_px: ArrayLike, box_center: ArrayLike, box_size: ArrayLike, crop_size: int = 256,
                   rotation: Optional[ArrayLike] = None) -> ArrayLike:
    """Full-image pixels to pixels of the ``crop_size`` x ``crop_size`` network crop.

    ``p_crop = (to_crop_coords(p) + 0.5) * crop_size``: ``(p - box_center) * crop_size / box_size + crop_size / 2``
    without rotation, the affine that ``cv2.warpAffine`` applies to the image (``HOICrop``'s ``crop_affine``).

    Args:
        points_px, box_center, box_size, rotation: as :func:`to_crop_coords`.
        crop_size: side of the network input, pixels (StackFLOW: 256).

    Returns:
        (..., N, 2) crop pixel coordinates.
    """
    return (to_crop_coords(points_px, box_center, box_size, rotation) + 0.5) * crop_size


def _check_crop_args(name: str, points_px: ArrayLike, box_center: ArrayLike) -> None:
    """Shape checks of the crop mapping: (..., N, 2) points and a (..., 2) centre, numpy or torch."""
    if len(points_px.shape) < 2 or points_px.shape[-1] != 2:
        raise ValueError(f'{name}: points_px must have shape (..., N, 2), got {tuple(points_px.shape)}.')
    if box_center.shape[-1:] != (2, ):
        raise ValueError(f'{name}: box_center must have shape (..., 2), got {tuple(box_center.shape)}.')
