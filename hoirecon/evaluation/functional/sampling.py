"""Area-weighted uniform sampling of triangle-mesh surfaces, deterministic per (seed, key).

The draws come from counter-based random streams (SplitMix64 on a counter): draw
``j`` of a stream is a pure function of the stream's id and ``j``. A stream id is
a hash of ``(seed, key)``, where the key names one mesh (e.g. ``'<img_id>/gt_human'``),
so a mesh gets the same samples whether it is sampled alone or in a batch, on the
CPU or on a GPU, in any order.

Sampling follows trimesh's ``mesh.sample(n)``: a face is drawn with probability
proportional to its area, then a point uniformly inside it from two uniforms
``(a, b)`` folded into the triangle (``a + b > 1`` -> ``(1 - a, 1 - b)``). The
face draws are made in increasing order (normalised cumulative exponential
spacings, which have the law of sorted uniforms), so samples come out ordered
by face: spatially coherent, which speeds up kd-tree queries. Areas scale by
``s**2`` under a similarity transform, so the same draws give the transformed
samples of a transformed mesh.
"""
import hashlib
from typing import Hashable, Optional, Sequence

import torch

from .array_utils import ArrayLike, restore_kind, to_tensor

_GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_MIX_1 = 0xBF58476D1CE4E5B9
_MIX_2 = 0x94D049BB133111EB


def _signed64(value: int) -> int:
    """Reinterpret an unsigned 64-bit constant as a signed int64 (torch has no full uint64 arithmetic)."""
    return value - (1 << 64) if value >= (1 << 63) else value


def _shift_right_logical(values: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical (zero-filling) right shift of int64 values seen as unsigned 64-bit words."""
    return (values >> bits) & ((1 << (64 - bits)) - 1)


def stream_id(seed: int, key: Hashable) -> int:
    """Return the int64 id of the random stream for ``(seed, key)``.

    The id is a BLAKE2b hash of ``'{seed}/{key}'``: stable across runs, machines
    and Python versions (unlike ``hash()``).
    """
    digest = hashlib.blake2b(f'{seed}/{key}'.encode(), digest_size=8).digest()
    return int.from_bytes(digest, 'little', signed=True)


def stream_uniforms(stream_ids: torch.Tensor, num: int) -> torch.Tensor:
    """Draw ``num`` uniforms in ``[0, 1)`` from each stream (SplitMix64 outputs 1..num).

    Args:
        stream_ids: (B,) int64 stream ids (see :func:`stream_id`).
        num: number of draws per stream.

    Returns:
        (B, num) float64 tensor on ``stream_ids.device``, 53 random bits each.
    """
    counters = torch.arange(1, num + 1, dtype=torch.int64, device=stream_ids.device)
    # int64 products wrap around modulo 2**64, which is what SplitMix64 needs.
    state = stream_ids[:, None] + counters[None] * _signed64(_GOLDEN_GAMMA)
    state = (state ^ _shift_right_logical(state, 30)) * _signed64(_MIX_1)
    state = (state ^ _shift_right_logical(state, 27)) * _signed64(_MIX_2)
    state = state ^ _shift_right_logical(state, 31)
    return _shift_right_logical(state, 11).to(torch.float64) * 2.0**-53


def sample_surface(vertices: ArrayLike,
                   faces: ArrayLike,
                   num_samples: int,
                   seed: int = 0,
                   keys: Optional[Sequence[Hashable]] = None,
                   num_faces: Optional[ArrayLike] = None) -> ArrayLike:
    """Sample points uniformly on mesh surfaces (area-weighted), batched and deterministic.

    Args:
        vertices: (V, 3) or (B, V, 3) float vertices in metres. Padded rows are
            fine as long as no real face uses them.
        faces: (F, 3) or (B, F, 3) integer vertex indices; one (F, 3) array is
            shared by every item of a batch.
        num_samples: number of points N per mesh.
        seed: global seed of the random streams.
        keys: one hashable key per mesh naming its random stream (e.g. an image
            id); default: the item's position (0 for a single mesh).
        num_faces: (B,) number of real faces per item when ``faces`` is padded
            at the end; padded faces are never drawn.

    Returns:
        (N, 3) or (B, N, 3) samples, the same kind (numpy/torch), device and
        dtype as ``vertices``, in order of increasing face index (spatially
        coherent on meshes whose face order is).

    Raises:
        ValueError: on bad shapes, face indices out of range or a mesh of zero area.
    """
    source = to_tensor(vertices)
    out_dtype = source.dtype if source.is_floating_point() else torch.float64
    verts = source.to(torch.float64)
    batched = verts.ndim == 3
    if not batched:
        verts = verts[None]
    if verts.ndim != 3 or verts.shape[-1] != 3:
        raise ValueError(f'vertices must be (V, 3) or (B, V, 3), got shape {tuple(source.shape)}')
    batch, num_verts = verts.shape[:2]
    tris = to_tensor(faces, device=verts.device).long()
    if tris.ndim not in (2, 3) or tris.shape[-1] != 3 or (tris.ndim == 3 and tris.shape[0] != batch):
        raise ValueError(f'faces must be (F, 3) or (B, F, 3) with B={batch}, got shape {tuple(tris.shape)}')
    if not tris.numel() or int(tris.min()) < 0 or int(tris.max()) >= num_verts:
        raise ValueError(f'faces must be non-empty with indices in [0, {num_verts})')
    tris = tris.expand(batch, -1, -1)
    if num_samples < 1:
        raise ValueError(f'num_samples must be >= 1, got {num_samples}')
    keys = list(range(batch)) if keys is None else list(keys)
    if len(keys) != batch:
        raise ValueError(f'keys must name one stream per mesh: got {len(keys)} keys for {batch} meshes')

    flat_verts = verts.reshape(-1, 3)
    flat_tris = tris + (torch.arange(batch, device=verts.device) * num_verts)[:, None, None]
    origin, edge_1, edge_2 = (flat_verts.index_select(0, flat_tris[..., k].reshape(-1)) for k in range(3))
    edge_1, edge_2 = edge_1 - origin, edge_2 - origin  # (B * F, 3)
    weights = torch.linalg.cross(edge_1, edge_2).norm(dim=-1).view(batch, -1)  # (B, F): twice the face areas
    last_face = torch.full((batch, ), tris.shape[1] - 1, device=verts.device)
    if num_faces is not None:
        num_faces = to_tensor(num_faces, device=verts.device).long().reshape(batch)
        weights = torch.where(torch.arange(tris.shape[1], device=verts.device) < num_faces[:, None], weights, 0)
        last_face = num_faces - 1
    cdf = torch.cumsum(weights, dim=1)
    total = cdf[:, -1]
    bad = ~(total > 0) | ~torch.isfinite(total)
    if bool(bad.any()):
        names = [keys[i] for i in torch.nonzero(bad).flatten().tolist()]
        raise ValueError(f'cannot sample meshes with zero or non-finite surface area: {names}')

    ids = torch.tensor([stream_id(seed, key) for key in keys], dtype=torch.int64, device=verts.device)
    draws = stream_uniforms(ids, 3 * num_samples + 1)
    # Sorted uniforms as normalised cumulative exponential spacings: the law of N sorted iid uniforms in O(N).
    spacings = torch.cumsum(-torch.log1p(-draws[:, :num_samples + 1]), dim=1)
    targets = spacings[:, :-1] * (total / spacings[:, -1])[:, None]
    face_index = torch.minimum(torch.searchsorted(cdf, targets, right=True), last_face[:, None])
    coef_1, coef_2 = draws[:, num_samples + 1:].reshape(batch, num_samples, 2).unbind(-1)
    outside = coef_1 + coef_2 > 1
    coef_1 = torch.where(outside, 1 - coef_1, coef_1)
    coef_2 = torch.where(outside, 1 - coef_2, coef_2)
    picked = (face_index + torch.arange(batch, device=verts.device)[:, None] * tris.shape[1]).reshape(-1)
    points = (origin.index_select(0, picked) + coef_1.reshape(-1, 1) * edge_1.index_select(0, picked) +
              coef_2.reshape(-1, 1) * edge_2.index_select(0, picked)).view(batch, num_samples, 3)
    points = points.to(out_dtype)
    return restore_kind(points if batched else points[0], vertices)
