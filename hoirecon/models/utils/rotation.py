"""Rotation representations and closed-form rigid fitting, batched over any leading dims.

6D convention (used everywhere in hoirecon): the 6D vector holds the first two
COLUMNS of the rotation matrix, flattened row by row, i.e.
``x = R[..., :, :2].reshape(..., 6)`` and ``A = x.view(..., 3, 2)``::

    x = (R00, R01, R10, R11, R20, R21)

Rotation matrices act on column vectors (``p' = R p``). Axis-angle vectors are
``angle * unit_axis`` in radians.
"""
from typing import Optional, Tuple

import roma
import torch
import torch.nn.functional as F

#: Damping of the rigid-fit derivative when the best rotation is ambiguous (see :func:`roma.special_procrustes`).
RIGID_FIT_GRADIENT_EPS = 1e-6


def _check_last_dims(name: str, tensor: torch.Tensor, shape: Tuple[int, ...]) -> None:
    if tuple(tensor.shape[-len(shape):]) != shape or tensor.dim() < len(shape):
        expected = ', '.join(['...'] + [str(s) for s in shape])
        raise ValueError(f'{name} must have shape ({expected}), got {tuple(tensor.shape)}.')


def rot6d_to_matrix(x: torch.Tensor) -> torch.Tensor:
    """Rotation matrices from 6D vectors by Gram-Schmidt on the two columns.

    ``A = x.view(..., 3, 2)``; ``b1 = a1 / |a1|``, ``b2`` = ``a2`` minus its
    component along ``b1``, normalised; ``b3 = b1 x b2``; ``R = [b1 b2 b3]``
    (columns). Inverse of :func:`matrix_to_rot6d` on rotation matrices.

    Args:
        x: (..., 6) float tensor, first two columns of R flattened row by row.

    Returns:
        (..., 3, 3) rotation matrices (det +1), same dtype as ``x``.
    """
    _check_last_dims('rot6d_to_matrix: x', x, (6, ))
    columns = x.reshape(*x.shape[:-1], 3, 2)
    b1 = F.normalize(columns[..., 0], dim=-1)
    a2 = columns[..., 1]
    b2 = F.normalize(a2 - (b1 * a2).sum(dim=-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)


def matrix_to_rot6d(matrix: torch.Tensor) -> torch.Tensor:
    """6D vectors ``R[..., :, :2].reshape(..., 6)`` (first two columns, row by row).

    Args:
        matrix: (..., 3, 3) rotation matrices.

    Returns:
        (..., 6) tensor.
    """
    _check_last_dims('matrix_to_rot6d: matrix', matrix, (3, 3))
    return matrix[..., :, :2].reshape(*matrix.shape[:-2], 6)


#: ``pytorch3d_6d[i] = hoirecon_6d(R^T)[PYTORCH3D_FROM_TRANSPOSED[i]]``: pytorch3d's 6D (the first two ROWS of R,
#: stacked) read from hoirecon's 6D of the transposed matrix.
PYTORCH3D_FROM_TRANSPOSED = (0, 2, 4, 1, 3, 5)
#: ``hoirecon_6d(R^T) = pytorch3d_6d(R)[TRANSPOSED_FROM_PYTORCH3D]`` (the inverse permutation).
TRANSPOSED_FROM_PYTORCH3D = (0, 3, 1, 4, 2, 5)


def pytorch3d_rot6d_to_matrix(x: torch.Tensor) -> torch.Tensor:
    """Rotation matrices from pytorch3d's 6D convention (StackFLOW's flows): Gram-Schmidt on the two ROWS.

    pytorch3d's ``rotation_6d_to_matrix`` orthonormalises ``a1 = x[:3]``, ``a2 = x[3:]`` into ``b1, b2`` and stacks
    ``b1, b2, b1 x b2`` as the rows of R. Read as columns, that is hoirecon's decoding of the permuted vector,
    transposed: ``rot6d_to_matrix(x[..., (0, 3, 1, 4, 2, 5)])^T``.

    Args:
        x: (..., 6) pytorch3d 6D vectors.

    Returns:
        (..., 3, 3) rotation matrices.
    """
    _check_last_dims('pytorch3d_rot6d_to_matrix: x', x, (6, ))
    return rot6d_to_matrix(x[..., list(TRANSPOSED_FROM_PYTORCH3D)]).transpose(-1, -2)


def matrix_to_pytorch3d_rot6d(matrix: torch.Tensor) -> torch.Tensor:
    """pytorch3d's 6D of rotation matrices: the first two ROWS, ``R[..., :2, :].reshape(..., 6)``.

    Args:
        matrix: (..., 3, 3) rotation matrices.

    Returns:
        (..., 6) tensor.
    """
    _check_last_dims('matrix_to_pytorch3d_rot6d: matrix', matrix, (3, 3))
    return matrix[..., :2, :].reshape(*matrix.shape[:-2], 6)


def rot6d_orthogonality_loss(x: torch.Tensor) -> torch.Tensor:
    """Mean of ``(A^T A - I)^2`` over all elements, ``A = x.view(..., 3, 2)`` (raw, before Gram-Schmidt).

    Zero exactly when the two columns are orthonormal; StackFLOW weighs it 0.1.

    Args:
        x: (..., 6) raw 6D network outputs.

    Returns:
        Scalar tensor (mean over the leading dims and the 2x2 entries).
    """
    _check_last_dims('rot6d_orthogonality_loss: x', x, (6, ))
    columns = x.reshape(*x.shape[:-1], 3, 2)
    gram = columns.transpose(-1, -2) @ columns
    eye = torch.eye(2, dtype=x.dtype, device=x.device)
    return ((gram - eye)**2).mean()


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices from axis-angle vectors (Rodrigues, via roma).

    Args:
        axis_angle: (..., 3) ``angle * unit_axis``, radians.

    Returns:
        (..., 3, 3) rotation matrices.
    """
    _check_last_dims('axis_angle_to_matrix: axis_angle', axis_angle, (3, ))
    return roma.rotvec_to_rotmat(axis_angle)


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """Axis-angle vectors (angle in [0, pi], radians) from rotation matrices (via roma).

    Args:
        matrix: (..., 3, 3) rotation matrices.

    Returns:
        (..., 3) axis-angle vectors.
    """
    _check_last_dims('matrix_to_axis_angle: matrix', matrix, (3, 3))
    return roma.rotmat_to_rotvec(matrix)


def rigid_fit(target: torch.Tensor,
              source: torch.Tensor,
              weights: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Rigid transform minimising ``sum_i w_i |R q_i + t - p_i|^2`` (weighted Kabsch).

    Computed in float64: centroids, cross-covariance
    ``M = sum_i w_i (p_i - p_mean)(q_i - q_mean)^T``, then the rotation nearest to
    ``M`` by SVD with the det-sign fix (``R = U diag(1, 1, det(U V^T)) V^T``,
    never a reflection) and ``t = p_mean - R q_mean``. Differentiable; where the
    rotation is ambiguous (collinear or coincident points) the derivative is
    damped rather than infinite (:data:`RIGID_FIT_GRADIENT_EPS`).

    Args:
        target: P, (..., N, 3) points to fit onto (e.g. predicted anchor positions, metres).
        source: Q, (..., N, 3) points that get moved (e.g. template anchors).
        weights: optional (..., N) non-negative weights, broadcastable to the
            leading dims of P; their sum must be positive.

    Returns:
        ``R`` (..., 3, 3) and ``t`` (..., 3), in the dtype of ``target``.
    """
    _check_last_dims('rigid_fit: target', target, (3, ))
    _check_last_dims('rigid_fit: source', source, (3, ))
    if target.dim() < 2 or target.shape != source.shape:
        raise ValueError(f'rigid_fit: target and source must both have shape (..., N, 3); '
                         f'got {tuple(target.shape)} and {tuple(source.shape)}.')
    dtype = target.dtype
    p = target.double()
    q = source.double()
    if weights is None:
        w = torch.ones(p.shape[:-1], dtype=torch.float64, device=p.device)
    else:
        leading = p.shape[:-1]
        if weights.dim() > len(leading) or any(ws not in (1, ps) for ws, ps in zip(weights.shape[::-1], leading[::-1])):
            raise ValueError(f'rigid_fit: weights must have shape (..., N) broadcastable to {tuple(leading)}, '
                             f'got {tuple(weights.shape)}.')
        w = weights.double().expand(leading)
    w = (w / w.sum(dim=-1, keepdim=True)).unsqueeze(-1)
    p_mean = (w * p).sum(dim=-2)
    q_mean = (w * q).sum(dim=-2)
    cross = (w * (p - p_mean.unsqueeze(-2))).transpose(-1, -2) @ (q - q_mean.unsqueeze(-2))
    rotation = roma.special_procrustes(cross, gradient_eps=RIGID_FIT_GRADIENT_EPS, method='svd')
    translation = p_mean - (rotation @ q_mean.unsqueeze(-1)).squeeze(-1)
    return rotation.to(dtype), translation.to(dtype)
