"""A differentiable soft silhouette of triangle meshes, in torch (SoftRas-style; pytorch3d is not installable here).

Every face ``j`` covers pixel ``p`` with probability ``D_j(p) = sigmoid(s_j(p) d_j(p)^2 / sigma)``, where ``d_j(p)``
is the distance in pixels from the pixel centre to the face's projected triangle boundary and ``s_j(p)`` is +1 inside
the triangle and -1 outside; the silhouette is ``S(p) = 1 - prod_j (1 - D_j(p))``. As ``sigma -> 0`` this is the hard
mask of the projected faces; a larger ``sigma`` (pixels^2) spreads gradients further from the edges (PHOSA-style
fitting starts blurred and sharpens). Faces with a vertex at depth <= ``near`` are left out.

Cost: B x F x H x W distance evaluations, done in chunks of faces so that no intermediate exceeds
``max_chunk_elements``; gradients flow to the vertices (and the camera).
"""
from typing import Tuple

import torch

#: Pixel centres are at integer coordinates (OpenCV convention): pixel (u, v) covers [u - 0.5, u + 0.5).
_EPS = 1e-12


def project_vertices(vertices: torch.Tensor, K: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pinhole projection of camera-frame vertices.

    Args:
        vertices: (B, V, 3) camera frame (OpenCV axes: x right, y down, z forward), metres.
        K: (B, 3, 3) or (3, 3) intrinsics, pixels.

    Returns:
        pixels (B, V, 2) and depths (B, V).
    """
    K = K.expand(vertices.shape[0], 3, 3) if K.dim() == 2 else K
    z = vertices[..., 2]
    safe_z = torch.where(z.abs() > _EPS, z, torch.full_like(z, _EPS))
    u = K[:, None, 0, 0] * vertices[..., 0] / safe_z + K[:, None, 0, 2]
    v = K[:, None, 1, 1] * vertices[..., 1] / safe_z + K[:, None, 1, 2]
    return torch.stack([u, v], dim=-1), z


def _segment_distance_sq(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared distance from points p (..., 2) to segments [a, b] (..., 2)."""
    ab = b - a
    t = ((p - a) * ab).sum(-1) / (ab * ab).sum(-1).clamp_min(_EPS)
    closest = a + t.clamp(0.0, 1.0)[..., None] * ab
    return ((p - closest) ** 2).sum(-1)


def _edge_function(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """2D cross product (b - a) x (p - a): its sign says on which side of the edge p lies."""
    return (b[..., 0] - a[..., 0]) * (p[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (p[..., 0] - a[..., 0])


def soft_silhouette(vertices: torch.Tensor, faces: torch.Tensor, K: torch.Tensor, image_size: Tuple[int, int],
                    sigma: float = 1.0, near: float = 1e-3, max_chunk_elements: int = 2 ** 24) -> torch.Tensor:
    """Soft silhouettes of B meshes that share their faces.

    Args:
        vertices: (B, V, 3) camera-frame vertices, metres.
        faces: (F, 3) int64 vertex indices.
        K: (B, 3, 3) or (3, 3) intrinsics, pixels.
        image_size: (width, height) pixels.
        sigma: edge sharpness, pixels^2 (SoftRas' sigma): at distance d from an edge the coverage is
            ``sigmoid(+-d^2 / sigma)``; 0.05 is close to a hard mask, 1-10 for fitting.
        near: faces with a vertex at depth <= near (behind or at the camera) are left out.
        max_chunk_elements: bound on B x chunk x H x W of one face chunk (memory).

    Returns:
        (B, H, W) silhouette in [0, 1], differentiable in ``vertices`` and ``K``.
    """
    if vertices.dim() != 3 or vertices.shape[-1] != 3:
        raise ValueError(f'soft_silhouette: vertices must be (B, V, 3), got {tuple(vertices.shape)}.')
    if faces.dim() != 2 or faces.shape[-1] != 3:
        raise ValueError(f'soft_silhouette: faces must be (F, 3), got {tuple(faces.shape)}.')
    if sigma <= 0:
        raise ValueError(f'soft_silhouette: sigma must be > 0 (pixels^2), got {sigma}.')
    width, height = int(image_size[0]), int(image_size[1])
    batch = vertices.shape[0]
    pixels, depth = project_vertices(vertices, K.to(vertices))
    faces = faces.to(device=vertices.device, dtype=torch.long)
    tri = pixels[:, faces]                                   # (B, F, 3, 2)
    valid = (depth[:, faces] > near).all(-1)                 # (B, F)
    ys, xs = torch.meshgrid(torch.arange(height, device=vertices.device, dtype=vertices.dtype),
                            torch.arange(width, device=vertices.device, dtype=vertices.dtype), indexing='ij')
    grid = torch.stack([xs, ys], dim=-1).reshape(1, 1, -1, 2)  # (1, 1, HW, 2)
    log_empty = vertices.new_zeros(batch, height * width)   # sum_j log(1 - D_j)
    chunk = max(1, int(max_chunk_elements // max(1, batch * height * width)))
    for start in range(0, faces.shape[0], chunk):
        t = tri[:, start:start + chunk, None]                # (B, c, 1, 3, 2)
        a, b, c = t[..., 0, :], t[..., 1, :], t[..., 2, :]
        e0, e1, e2 = _edge_function(grid, a, b), _edge_function(grid, b, c), _edge_function(grid, c, a)
        inside = ((e0 >= 0) & (e1 >= 0) & (e2 >= 0)) | ((e0 <= 0) & (e1 <= 0) & (e2 <= 0))
        dist = torch.minimum(torch.minimum(_segment_distance_sq(grid, a, b), _segment_distance_sq(grid, b, c)),
                             _segment_distance_sq(grid, c, a))
        sign = torch.where(inside, torch.ones_like(dist), -torch.ones_like(dist))
        coverage = torch.sigmoid(sign * dist / sigma) * valid[:, start:start + chunk, None].to(dist)
        log_empty = log_empty + torch.log1p(-coverage.clamp(max=1.0 - 1e-7)).sum(1)
    return (1.0 - torch.exp(log_empty)).reshape(batch, height, width)
