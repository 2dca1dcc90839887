"""Object-coordinate conventions of the correspondence network: per-object normalisation and the crop's pixel grid.

*Object frame*: the template's frame as the object library gives it (vertices centred at their mean, metres), the
frame in which ``object_R``, ``object_t`` pose the object (``x_cam = R x_obj + t``) and in which the refiner reads
``corr_x3d``.

*Normalised object coordinates* (StackFLOW's ``OBJECT_COORDINATE_NORM``, one box per object): ``(x - centre) /
extent`` with ``centre`` and ``extent`` the middle and the side lengths of the template's axis-aligned bounding box,
so every object's surface lies in ``[-0.5, 0.5]^3`` whatever its size. The network regresses these.

*Crop box*: ``(x1, y1, side)`` in full-image pixels, OpenCV convention (pixel centres at integers, so a pixel
``u`` covers ``[u - 0.5, u + 0.5]``): the square ``[x1, x1 + side] x [y1, y1 + side]``. Cell ``(i, j)`` of an
``S x S`` output grid is centred at ``(x1 + (j + 0.5) side / S, y1 + (i + 0.5) side / S)``.
"""
from typing import Tuple, Union

import numpy as np
import torch

Array = Union[np.ndarray, torch.Tensor]


def object_coordinate_norm(vertices: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Centre and extent of a template's axis-aligned bounding box.

    Args:
        vertices: (V, 3) object-frame vertices, metres.

    Returns:
        ``(centre (3,), extent (3,))`` float64 metres; extents below 1 mm are raised to 1 mm (a flat object).
    """
    vertices = np.asarray(vertices, np.float64).reshape(-1, 3)
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    return (low + high) / 2, np.maximum(high - low, 1e-3)


def library_coordinate_norms(library) -> Tuple[np.ndarray, np.ndarray]:
    """:func:`object_coordinate_norm` of every object of an :class:`~hoirecon.objects.ObjectLibrary`, by label.

    Returns:
        ``(centres (L, 3), extents (L, 3))`` float32 metres, row ``i`` for the object of label ``i``.
    """
    centres, extents = zip(*(object_coordinate_norm(library.by_index(i).vertices) for i in range(len(library))))
    return np.stack(centres).astype(np.float32), np.stack(extents).astype(np.float32)


def crop_grid(crop_box: Array, size: int) -> Array:
    """Full-image pixel centres of the cells of an ``size x size`` grid over square crop boxes.

    Args:
        crop_box: (3,) or (B, 3) ``(x1, y1, side)`` pixels.
        size: cells per side S.

    Returns:
        (S * S, 2) or (B, S * S, 2) ``(x, y)`` pixels, row-major (cell ``(i, j)`` at row ``i * S + j``); numpy in,
        numpy out (float64), torch in, torch out (the box's dtype and device).
    """
    if isinstance(crop_box, torch.Tensor):
        steps = (torch.arange(size, dtype=crop_box.dtype, device=crop_box.device) + 0.5) / size
        rows, cols = torch.meshgrid(steps, steps, indexing='ij')
        unit = torch.stack([cols.reshape(-1), rows.reshape(-1)], dim=-1)  # (S * S, 2) in [0, 1]
        return crop_box[..., None, :2] + unit * crop_box[..., None, 2:3]
    crop_box = np.asarray(crop_box, np.float64)
    steps = (np.arange(size, dtype=np.float64) + 0.5) / size
    rows, cols = np.meshgrid(steps, steps, indexing='ij')
    unit = np.stack([cols.reshape(-1), rows.reshape(-1)], axis=-1)
    return crop_box[..., None, :2] + unit * crop_box[..., None, 2:3]


def project(points: torch.Tensor, cam_K: torch.Tensor, min_depth: float = 1e-2) -> torch.Tensor:
    """Pinhole projection of camera-frame points.

    Args:
        points: (B, N, 3) metres, camera frame (OpenCV axes).
        cam_K: (B, 3, 3) intrinsics, pixels.
        min_depth: depths are clamped to at least this (metres), so points behind the camera stay finite.

    Returns:
        (B, N, 2) full-image pixels.
    """
    depth = points[..., 2:].clamp(min=min_depth)
    focal = torch.stack([cam_K[:, 0, 0], cam_K[:, 1, 1]], dim=-1)[:, None]
    principal = cam_K[:, None, :2, 2]
    return points[..., :2] / depth * focal + principal
