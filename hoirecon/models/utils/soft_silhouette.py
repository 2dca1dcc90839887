"""A differentiable soft silhouette of triangle meshes, in torch (SoftRas-style; pytorch3d is not installable here).

Every face ``j`` covers pixel ``p`` with probability ``D_j(p) = sigmoid(s_j(p) d_j(p)^2 / sigma)``, where ``d_j(p)``
is the distance in pixels from the pixel centre to the face's projected triangle boundary and ``s_j(p)`` is +1 inside
the triangle and -1 outside; the silhouette is ``S(p) = 1 - prod_j (1 - D_j(p))``. As ``sigma -> 0`` this is the hard
mask of the projected faces; a larger ``sigma`` (pixels^2) spreads gradients further from the edges (PHOSA-style
fitting starts blurred and sharpens). Faces with a vertex at depth <= ``near`` are left out.

Cost: the image is processed in tiles with only the faces near each tile (``tile_size``), in chunks of faces so that
no intermediate exceeds ``max_chunk_elements``; gradients flow to the vertices (and the camera). Measured on the 2-core
EPYC while a training run shared it (float32, sigma 1, a 1064-face procedural stool seen at 3 m): 8 images of
512 x 384 in 12 s with 16-pixel tiles, against 47 s for one image with every face at every pixel.
"""
from typing import Optional, Tuple

import torch

#: Pixel centres are at integer coordinates (OpenCV convention): pixel (u, v) covers [u - 0.5, u + 0.5).
_EPS = 1e-12
_INF = float('inf')


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


def _face_coverage_log(grid: torch.Tensor, tri: torch.Tensor, valid: torch.Tensor, sigma: float,
                       max_chunk_elements: int) -> torch.Tensor:
    """``sum_j log(1 - D_j(p))`` over faces ``tri`` (B, F, 3, 2) for pixels ``grid`` (P, 2); ``valid`` (B, F)."""
    batch, num_pixels = tri.shape[0], grid.shape[0]
    out = tri.new_zeros(batch, num_pixels)
    grid = grid.reshape(1, 1, num_pixels, 2)
    chunk = max(1, int(max_chunk_elements // max(1, batch * num_pixels)))
    for start in range(0, tri.shape[1], chunk):
        t = tri[:, start:start + chunk, None]                # (B, c, 1, 3, 2)
        a, b, c = t[..., 0, :], t[..., 1, :], t[..., 2, :]
        e0, e1, e2 = _edge_function(grid, a, b), _edge_function(grid, b, c), _edge_function(grid, c, a)
        inside = ((e0 >= 0) & (e1 >= 0) & (e2 >= 0)) | ((e0 <= 0) & (e1 <= 0) & (e2 <= 0))
        dist = torch.minimum(torch.minimum(_segment_distance_sq(grid, a, b), _segment_distance_sq(grid, b, c)),
                             _segment_distance_sq(grid, c, a))
        sign = torch.where(inside, torch.ones_like(dist), -torch.ones_like(dist))
        coverage = torch.sigmoid(sign * dist / sigma) * valid[:, start:start + chunk, None].to(dist)
        out = out + torch.log1p(-coverage.clamp(max=1.0 - 1e-7)).sum(1)
    return out


def soft_silhouette(vertices: torch.Tensor, faces: torch.Tensor, K: torch.Tensor, image_size: Tuple[int, int],
                    sigma: float = 1.0, near: float = 1e-3, max_chunk_elements: int = 2 ** 24,
                    tile_size: Optional[int] = 16) -> torch.Tensor:
    """Soft silhouettes of B meshes that share their faces.

    Args:
        vertices: (B, V, 3) camera-frame vertices, metres.
        faces: (F, 3) int64 vertex indices.
        K: (B, 3, 3) or (3, 3) intrinsics, pixels.
        image_size: (width, height) pixels.
        sigma: edge sharpness, pixels^2 (SoftRas' sigma): at distance d from an edge the coverage is
            ``sigmoid(+-d^2 / sigma)``; 0.05 is close to a hard mask, 1-10 for fitting.
        near: faces with a vertex at depth <= near (behind or at the camera) are left out.
        max_chunk_elements: bound on B x chunk x pixels of one face chunk (memory).
        tile_size: the image is processed in tiles of this many pixels a side, each with only the faces whose
            bounding box, grown by ``3.1 sqrt(sigma) + 1`` pixels (where a face's coverage falls below 1e-4), meets
            the tile; None evaluates every face at every pixel. A small object in a large image costs a fraction.

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
    grid = torch.stack([xs, ys], dim=-1)                     # (H, W, 2)
    if tile_size is None:
        log_empty = _face_coverage_log(grid.reshape(-1, 2), tri, valid, sigma, max_chunk_elements)
        return (1.0 - torch.exp(log_empty)).reshape(batch, height, width)
    margin = 3.1 * float(sigma) ** 0.5 + 1.0
    low = tri.detach().amin(dim=2) - margin                  # (B, F, 2) grown face boxes
    high = tri.detach().amax(dim=2) + margin
    rows = []
    for y0 in range(0, height, tile_size):
        y1 = min(y0 + tile_size, height)
        tiles = []
        for x0 in range(0, width, tile_size):
            x1 = min(x0 + tile_size, width)
            meets = valid & (high[..., 0] >= x0) & (low[..., 0] <= x1 - 1) & (high[..., 1] >= y0) & \
                (low[..., 1] <= y1 - 1)                        # (B, F)
            picked = torch.nonzero(meets.any(0)).reshape(-1)
            if picked.numel() == 0:
                tiles.append(vertices.new_zeros(batch, y1 - y0, x1 - x0))
                continue
            log_tile = _face_coverage_log(grid[y0:y1, x0:x1].reshape(-1, 2), tri[:, picked], meets[:, picked], sigma,
                                          max_chunk_elements)
            tiles.append(log_tile.reshape(batch, y1 - y0, x1 - x0))
        rows.append(torch.cat(tiles, dim=2))
    log_empty = torch.cat(rows, dim=1)
    return (1.0 - torch.exp(log_empty)).reshape(batch, height, width)


def hard_silhouette(vertices: torch.Tensor, faces: torch.Tensor, K: torch.Tensor, image_size: Tuple[int, int],
                    near: float = 1e-3, max_chunk_elements: int = 2 ** 22) -> torch.Tensor:
    """Hard (B, H, W) bool masks of B meshes sharing their faces, by scanlines (no gradient): a pixel is covered when
    its centre lies in a projected face (edges included). The limit of :func:`soft_silhouette` as ``sigma -> 0``, at
    a cost proportional to the pixel rows each face spans (each face is intersected with those rows only, then the
    spans are filled by a running sum): what lets a search score thousands of poses
    (:meth:`~hoirecon.models.baselines.phosa.PHOSAObjectFitter.search_poses`).

    Measured (``python tools/analysis/benchmark_silhouette.py``; 2-core AMD EPYC VM, AVX2, idle, float64, the
    toolbox template in a 64 px square at 296 faces / 128 px at 992 faces): 0.19 / 0.90 ms a pose, against
    2.57 / 23.4 ms when every face met every row (docs/refiners.md).

    Args:
        vertices: (B, V, 3) camera frame, metres. faces: (F, 3). K: (B, 3, 3) or (3, 3). image_size: (W, H).
        near: faces with a vertex at depth <= near are left out.
        max_chunk_elements: bound on the (face, row) pairs of one chunk of meshes (memory; a mesh is never split).
    """
    width, height = int(image_size[0]), int(image_size[1])
    batch = vertices.shape[0]
    device = vertices.device
    out = torch.zeros(batch, height, width, dtype=torch.bool, device=device)
    faces = faces.to(device=device, dtype=torch.long)
    with torch.no_grad():
        pixels, depth = project_vertices(vertices.detach(), K.to(vertices).detach())
        tri = pixels[:, faces]                                               # (B, F, 3, 2)
        valid = (depth[:, faces] > near).all(-1)                             # (B, F)
        # the pixel rows (centres at integers) each face may cross
        first = torch.ceil(tri[..., 1].amin(-1)).clamp(0, height)            # (B, F)
        last = torch.floor(tri[..., 1].amax(-1)).clamp(-1, height - 1)
        counts = torch.where(valid, (last - first + 1).clamp_min(0), torch.zeros_like(first)).long()   # (B, F)
        per_mesh = counts.sum(1).tolist()
        start = 0
        while start < batch:  # chunks of whole meshes holding at most max_chunk_elements (face, row) pairs
            stop, total = start + 1, per_mesh[start]
            while stop < batch and total + per_mesh[stop] <= max_chunk_elements:
                total += per_mesh[stop]
                stop += 1
            if total:
                out[start:stop] = _fill_spans(tri[start:stop], first[start:stop], counts[start:stop], width, height)
            start = stop
    return out


def _fill_spans(tri: torch.Tensor, first: torch.Tensor, counts: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """(b, H, W) bool coverage of b meshes' projected faces ``tri`` (b, F, 3, 2), each face crossing ``counts``
    (b, F) pixel rows from row ``first`` (b, F) on (:func:`hard_silhouette`)."""
    b, num_faces = first.shape
    device = tri.device
    counts = counts.flatten()
    owner = torch.repeat_interleave(torch.arange(counts.numel(), device=device), counts)    # (T,) mesh x face
    offset = torch.arange(len(owner), device=device) - torch.repeat_interleave(counts.cumsum(0) - counts, counts)
    ys = first.flatten()[owner] + offset                                     # (T,) the row of each (face, row) pair
    a = tri.reshape(-1, 3, 2)[owner]                                         # (T, 3, 2) the three edges a -> b
    b_ = a.roll(-1, dims=1)
    ay, by, y = a[..., 1], b_[..., 1], ys[:, None]
    # half-open crossing rule: a scanline through a corner meets exactly two edges of the triangle
    crosses = ((ay <= y) & (by > y)) | ((by <= y) & (ay > y))                # (T, 3)
    x = a[..., 0] + (y - ay) * (b_[..., 0] - a[..., 0]) / torch.where(by == ay, torch.ones_like(by), by - ay)
    left = torch.where(crosses, x, torch.full_like(x, _INF)).amin(1)
    right = torch.where(crosses, x, torch.full_like(x, -_INF)).amax(1)
    lo = torch.ceil(left).clamp(0, width)
    hi = torch.floor(right).clamp(-1, width - 1)
    keep = (crosses.sum(1) >= 2) & (lo <= hi)
    # +1 at the first covered column, -1 after the last; a running sum > 0 is covered
    base = ((owner[keep] // num_faces) * height + ys[keep].long()) * (width + 1)
    diff = torch.zeros(b * height * (width + 1), device=device, dtype=torch.int32)
    ones = torch.ones_like(base, dtype=torch.int32)
    diff.index_add_(0, base + lo[keep].long(), ones)
    diff.index_add_(0, base + hi[keep].long() + 1, -ones)
    return diff.view(b, height, width + 1).cumsum(2)[..., :width] > 0


def silhouette_iou(vertices: torch.Tensor, faces: torch.Tensor, K: torch.Tensor, image_size: Tuple[int, int],
                   target: torch.Tensor, occluder: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(B,) IoU of the hard masks of B meshes (:func:`soft_silhouette` at sigma 0.05, thresholded at 0.5) against
    (B, H, W) ``target`` masks (> 0.5), in ``vertices``' dtype. Pixels of ``occluder`` (> 0.5; e.g. the person in
    front of the object) outside the target are not counted: they may hide the mesh. An empty union counts as 1."""
    hard = soft_silhouette(vertices, faces, K, image_size, sigma=0.05) > 0.5
    return mask_iou(hard, target, occluder, vertices.dtype)


def mask_iou(masks: torch.Tensor, target: torch.Tensor, occluder: Optional[torch.Tensor] = None,
             dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(B,) occlusion-aware IoU of (B, H, W) bool ``masks`` against ``target`` (> 0.5; (B, H, W) or (H, W)):
    pixels of ``occluder`` (> 0.5) outside the target are not counted. An empty union counts as 1."""
    target = target > 0.5
    counted = torch.ones_like(target) if occluder is None else ~((occluder > 0.5) & ~target)
    inter = (masks & target & counted).sum(dim=(-2, -1)).to(dtype)
    union = ((masks | target) & counted).sum(dim=(-2, -1)).to(dtype).clamp_min(1)
    return inter / union
