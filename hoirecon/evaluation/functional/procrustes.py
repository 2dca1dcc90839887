"""Similarity Procrustes (Umeyama with the reflection fix), batched, in float64.

For point sets X1 (source) and X2 (target) in correspondence, centred on their
means mu1 and mu2: ``K = X1 X2^T``, ``U S V^T = svd(K)``, ``Z = diag(1, 1,
sign det(U V^T))``, ``R = V Z U^T``, ``s = tr(R K) / |X1|^2``, ``t = mu2 - s R mu1``.

The fit only needs the first and second moments of the correspondences
(:class:`PointMoments`). Moments of disjoint point sets merge exactly
(:func:`merge_moments`), which is how the human + object ("HOI") fit and the
windowed sequence fits are built without concatenating vertices.
"""
from typing import NamedTuple, Optional, Tuple

import torch

from .array_utils import ArrayLike, restore_kind, to_tensor


class SimilarityTransform(NamedTuple):
    """A batch of similarity transforms ``x -> scale * rotation @ x + translation``.

    Attributes:
        scale: (B,) float64.
        rotation: (B, 3, 3) float64 rotation matrices (det +1).
        translation: (B, 3) float64, in the units of the points (metres).
    """
    scale: torch.Tensor
    rotation: torch.Tensor
    translation: torch.Tensor

    @classmethod
    def identity(cls, batch: int, device: Optional[torch.device] = None) -> 'SimilarityTransform':
        """Return ``batch`` identity transforms."""
        return cls(torch.ones(batch, dtype=torch.float64, device=device),
                   torch.eye(3, dtype=torch.float64, device=device).expand(batch, 3, 3).clone(),
                   torch.zeros(batch, 3, dtype=torch.float64, device=device))

    def apply(self, points: ArrayLike) -> ArrayLike:
        """Transform (B, N, 3) points (float64 maths; returns the input's kind and dtype)."""
        pts = to_tensor(points, device=self.scale.device)
        out = self.scale[:, None, None] * (pts.to(torch.float64) @ self.rotation.transpose(1, 2))
        out = out + self.translation[:, None, :]
        return restore_kind(out.to(pts.dtype if pts.is_floating_point() else torch.float64), points)

    def apply_inverse(self, points: ArrayLike) -> ArrayLike:
        """Map (B, N, 3) points through the inverse transform (needs ``scale > 0``)."""
        pts = to_tensor(points, device=self.scale.device)
        out = ((pts.to(torch.float64) - self.translation[:, None, :]) @ self.rotation) / self.scale[:, None, None]
        return restore_kind(out.to(pts.dtype if pts.is_floating_point() else torch.float64), points)

    def index(self, selection) -> 'SimilarityTransform':
        """Return the transforms at ``selection`` (an index, slice, mask or index tensor)."""
        return SimilarityTransform(self.scale[selection], self.rotation[selection], self.translation[selection])


class PointMoments(NamedTuple):
    """Sufficient statistics of corresponding point sets for a similarity fit.

    All float64; leading dimensions are batch dimensions.

    Attributes:
        count: (...,) number of correspondences.
        mean_src: (..., 3) mean of the source points.
        mean_dst: (..., 3) mean of the target points.
        cross: (..., 3, 3) ``sum (x - mean_src)(y - mean_dst)^T``.
        spread_src: (...,) ``sum |x - mean_src|^2``.
    """
    count: torch.Tensor
    mean_src: torch.Tensor
    mean_dst: torch.Tensor
    cross: torch.Tensor
    spread_src: torch.Tensor

    def index(self, selection) -> 'PointMoments':
        """Return the moments at ``selection`` along the leading dimension(s)."""
        return PointMoments(*(field[selection] for field in self))


def point_moments(src: ArrayLike, dst: ArrayLike, mask: Optional[ArrayLike] = None) -> PointMoments:
    """Compute the moments of (B, P, 3) correspondences ``src[b, i] <-> dst[b, i]``.

    Args:
        src: (B, P, 3) source points.
        dst: (B, P, 3) target points, same shape.
        mask: optional (B, P) bool, True for correspondences to use (padding False).

    Returns:
        :class:`PointMoments` with batch shape (B,), on ``src``'s device.
    """
    src_t = to_tensor(src, dtype=torch.float64)
    dst_t = to_tensor(dst, dtype=torch.float64, device=src_t.device)
    if src_t.shape != dst_t.shape or src_t.ndim != 3 or src_t.shape[-1] != 3:
        raise ValueError('src and dst must both be (B, P, 3) with the same P (correspondence by index); got '
                         f'{tuple(src_t.shape)} and {tuple(dst_t.shape)}')
    if mask is None:
        weight = torch.ones(src_t.shape[:2], dtype=torch.float64, device=src_t.device)
    else:
        weight = to_tensor(mask, device=src_t.device).reshape(src_t.shape[:2]).to(torch.float64)
    count = weight.sum(dim=1)
    safe_count = count.clamp_min(1)[:, None]
    mean_src = (weight[..., None] * src_t).sum(dim=1) / safe_count
    mean_dst = (weight[..., None] * dst_t).sum(dim=1) / safe_count
    centred_src = (src_t - mean_src[:, None]) * weight[..., None]
    centred_dst = dst_t - mean_dst[:, None]
    cross = centred_src.transpose(1, 2) @ centred_dst
    spread_src = (centred_src**2).sum(dim=(1, 2))
    return PointMoments(count, mean_src, mean_dst, cross, spread_src)


def merge_moments(moments: PointMoments, valid: Optional[torch.Tensor] = None) -> PointMoments:
    """Merge moments along their last batch dimension (the union of the point sets).

    Args:
        moments: moments with batch shape (G, K): K disjoint parts per group.
        valid: optional (G, K) bool; False parts are left out.

    Returns:
        Moments with batch shape (G,), exactly those of the concatenated points.
    """
    weight = moments.count if valid is None else moments.count * valid.to(torch.float64)
    count = weight.sum(dim=1)
    safe_count = count.clamp_min(1)[:, None]
    mean_src = (weight[..., None] * moments.mean_src).sum(dim=1) / safe_count
    mean_dst = (weight[..., None] * moments.mean_dst).sum(dim=1) / safe_count
    offset_src = moments.mean_src - mean_src[:, None]
    offset_dst = moments.mean_dst - mean_dst[:, None]
    part_weight = weight > 0
    cross = torch.where(part_weight[..., None, None],
                        moments.cross + weight[..., None, None] * offset_src[..., :, None] * offset_dst[..., None, :],
                        0).sum(dim=1)
    spread_src = torch.where(part_weight, moments.spread_src + weight * (offset_src**2).sum(-1), 0).sum(dim=1)
    return PointMoments(count, mean_src, mean_dst, cross, spread_src)


def transform_from_moments(moments: PointMoments) -> SimilarityTransform:
    """Fit the similarity transform (Umeyama, reflection fixed) from (B,) moments.

    A degenerate source (all points equal) gets ``scale = 0``: every point maps
    to the target mean, which is then the least-squares optimum.
    """
    left, _, right_t = torch.linalg.svd(moments.cross)
    right = right_t.transpose(-1, -2)
    reflection = torch.linalg.det(left @ right_t)
    fix = torch.ones_like(moments.mean_src)
    fix[:, 2] = torch.where(reflection < 0, -1.0, 1.0)
    rotation = right @ (fix[:, :, None] * left.transpose(-1, -2))
    trace = torch.einsum('bij,bji->b', rotation, moments.cross)
    scale = trace / moments.spread_src.clamp_min(torch.finfo(torch.float64).tiny)
    translation = moments.mean_dst - scale[:, None] * (rotation @ moments.mean_src[..., None])[..., 0]
    return SimilarityTransform(scale, rotation, translation)


def similarity_procrustes(src: ArrayLike,
                          dst: ArrayLike,
                          mask: Optional[ArrayLike] = None) -> Tuple[ArrayLike, SimilarityTransform]:
    """Align ``src`` to ``dst`` with the least-squares similarity transform.

    Args:
        src: (P, 3) or (B, P, 3) source points (e.g. predicted vertices, metres).
        dst: same shape, target points in correspondence by index (ground truth).
        mask: optional (B, P) bool of correspondences to fit on (padding False).

    Returns:
        ``(aligned_src, transform)``: aligned points of the input's kind, dtype
        and shape (computed in float64), and the float64 :class:`SimilarityTransform`
        with batch shape (B,) ((1,) for unbatched input).
    """
    src_t = to_tensor(src)
    batched = src_t.ndim == 3
    src_b = src_t if batched else src_t[None]
    dst_b = to_tensor(dst, device=src_t.device)
    dst_b = dst_b if batched else dst_b[None]
    transform = transform_from_moments(point_moments(src_b, dst_b, mask))
    aligned = transform.apply(src_b)
    return restore_kind(aligned if batched else aligned[0], src), transform
