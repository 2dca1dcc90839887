"""PHOSA-style human-object arrangement by optimisation (Zhang et al., ECCV 2020), written from the paper.

PHOSA places a known object template next to a person estimated by a body regressor, from instance masks only:

0. **search** (``num_search`` > 0): thousands of rotations per image placed in the mask's box and scored by the IoU
   of their hard silhouette, the best few climbed by random perturbations (:meth:`PHOSAObjectFitter.search_poses`);
1. **object alone**: per image, the template's differentiable silhouette is fitted to the object's instance mask from
   those starts, or from random rotations (the person's mask is ignored where it covers the object:
   occlusion-aware), the best starts by IoU are kept (``num_candidates``; 1 is PHOSA's choice);
2. **jointly with the person**: the candidates' rotation, translation and intrinsic scale are refined under

   ================  =====================================================================================
   term              definition (per image; all in :class:`PHOSAObjectFitter`)
   ================  =====================================================================================
   ``silhouette``    occlusion-aware mean squared difference between the object's soft silhouette and its
                     mask, over the object's square (stage 1's), pixels claimed by the person mask alone ignored
   ``interaction``   when the person's and the object's mask boxes overlap: mean over the active contact
                     parts (default the hands) of the distance from the part to the nearest object surface
                     point (a part is active when its projected centre falls in the object's mask box)
   ``depth``         ordinal depth: where both rendered surfaces cover a pixel that one mask owns, the owner
                     must be nearer: ``tau softplus((D_owner - D_other) / tau)``, mean over the region's pixels
   ``collision``     body vertices inside the object: ``sum relu(-(x - o) . n)^2`` with ``o``, ``n`` the nearest
                     object surface sample and its outward normal (metres)
   ``scale``         ``((s - mean_c) / std_c)^2``, a Gaussian prior on the object's scale per category
   ================  =====================================================================================

   and the candidate with the lowest total wins.

Everything is batched: stage 1 over images x starts, stage 2 over images x candidates, per object category (the soft
silhouette shares one face list); the device follows the inputs. What differs from PHOSA: the person is the network's
(fixed: PHOSA also rescales and moves it), masks are the dataset's (PHOSA: PointRend), the scale prior is centred on
the template's own size (PHOSA: sizes from the web), the renderer is :mod:`~hoirecon.models.utils.soft_silhouette`
(PHOSA: Neural Mesh Renderer) and ordinal depth reads a hard z-buffer (:func:`render_depth`). docs/refiners.md,
"PHOSA-style baseline".
"""
import hashlib
import os
import os.path as osp
import zipfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from hoirecon.models.refiners.silhouette_fit import _random_rotations
from hoirecon.models.utils import axis_angle_to_matrix, matrix_to_rot6d, rot6d_to_matrix
from hoirecon.models.utils.soft_silhouette import (hard_silhouette, mask_iou, project_vertices, silhouette_iou,
                                                   soft_silhouette)
from hoirecon.registry import REFINERS

#: Loss weights of the joint stage (chosen on the synthetic world, docs/refiners.md; PHOSA tunes its own per category).
DEFAULT_LOSS_WEIGHTS = dict(silhouette=1.0, interaction=0.5, depth=0.2, collision=50.0, scale=0.01)
#: SMPL-family body parts (22-part labels of the body model, hands folded into the wrists) used as contact parts.
HAND_PARTS = (20, 21)
_INF = float('inf')
_SOURCE_DIGEST: Optional[str] = None


def _source_digest() -> str:
    """sha256 of the source files of this module, of the silhouette renderers, of the random rotations and of the
    rotation conversions, and of torch's version (the code a cached search result came from;
    :meth:`PHOSAObjectFitter.search_cache_key`)."""
    global _SOURCE_DIGEST
    if _SOURCE_DIGEST is None:
        import inspect

        from hoirecon.models.utils import soft_silhouette
        files = {__file__, soft_silhouette.__file__, inspect.getsourcefile(_random_rotations),
                 inspect.getsourcefile(axis_angle_to_matrix), inspect.getsourcefile(matrix_to_rot6d),
                 inspect.getsourcefile(rot6d_to_matrix)}
        digest = hashlib.sha256(torch.__version__.encode())
        for module_file in sorted(files):
            with open(module_file, 'rb') as f:
                digest.update(f.read())
        _SOURCE_DIGEST = digest.hexdigest()
    return _SOURCE_DIGEST


#: pixels by which render_depth grows a face's box before testing it for a pixel centre (far above rounding).
_BOX_MARGIN = 1e-3


# ---------------------------------------------------------------------------------------------- regions of interest
def square_roi(box: np.ndarray, padding: float = 0.1, min_side: float = 8.0) -> np.ndarray:
    """(3,) float64 ``x0, y0, side``: the square (pixel edges) around an xyxy box, grown by ``padding`` x its side."""
    box = np.asarray(box, np.float64)
    centre = (box[:2] + box[2:]) / 2
    side = max(float((box[2:] - box[:2]).max()) * (1 + 2 * padding), min_side)
    return np.array([centre[0] - side / 2, centre[1] - side / 2, side])


def roi_intrinsics(K: torch.Tensor, roi: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 3, 3) intrinsics of the ``size`` x ``size`` image of ``roi`` (B, 3) ``x0, y0, side`` (pixel edges).

    Pixel centres at integer coordinates: full-image ``u`` maps to ``(u + 0.5 - x0) size / side - 0.5``.
    """
    scale = size / roi[:, 2]
    out = K.clone()
    out[:, 0, 0] = K[:, 0, 0] * scale
    out[:, 1, 1] = K[:, 1, 1] * scale
    out[:, 0, 1] = K[:, 0, 1] * scale
    out[:, 0, 2] = (K[:, 0, 2] + 0.5 - roi[:, 0]) * scale - 0.5
    out[:, 1, 2] = (K[:, 1, 2] + 0.5 - roi[:, 1]) * scale - 0.5
    return out


def crop_mask(mask: np.ndarray, roi: np.ndarray, size: int) -> np.ndarray:
    """(size, size) float32: the share of each cell of ``roi`` covered by the (H, W) bool mask (zero outside it)."""
    import cv2
    mask = np.asarray(mask) > 0
    x0, y0, side = (float(v) for v in roi)
    # an integer-aligned window holding the roi, padded with zeros where it leaves the image
    ix0, iy0 = int(np.floor(x0)), int(np.floor(y0))
    ix1, iy1 = int(np.ceil(x0 + side)), int(np.ceil(y0 + side))
    window = np.zeros((iy1 - iy0, ix1 - ix0), np.float32)
    sx0, sy0, sx1, sy1 = max(ix0, 0), max(iy0, 0), min(ix1, mask.shape[1]), min(iy1, mask.shape[0])
    if sx1 > sx0 and sy1 > sy0:
        window[sy0 - iy0:sy1 - iy0, sx0 - ix0:sx1 - ix0] = mask[sy0:sy1, sx0:sx1]
    # sample k x k points per cell (bilinear) and average them: each cell gets the share of it that the mask covers
    k = int(min(8, max(1, np.ceil(side / size))))
    scale = size * k / side
    # fine cell (u', v') centre -> window coordinates (pixel centres at integers)
    affine = np.array([[1 / scale, 0, (0.5 / scale) + x0 - 0.5 - ix0], [0, 1 / scale, (0.5 / scale) + y0 - 0.5 - iy0]])
    fine = cv2.warpAffine(window, affine, (size * k, size * k), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return fine.reshape(size, k, size, k).mean(axis=(1, 3)).astype(np.float32)


def mask_box(mask: np.ndarray) -> Optional[np.ndarray]:
    """(4,) float64 xyxy pixel edges of a bool mask, None when it is empty."""
    rows, cols = np.nonzero(np.asarray(mask) > 0)
    if len(rows) == 0:
        return None
    return np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], np.float64)


@dataclass
class PHOSAMasks:
    """The masks of one image as the fitter reads them (:func:`prepare_masks`).

    Attributes:
        object_roi, joint_roi: (3,) ``x0, y0, side`` pixel edges of the object's and the person + object's squares.
        object_mask, object_person: (S_o, S_o) object / person mask in the object's square.
        joint_object, joint_person: (S_j, S_j) object / person mask in the joint square.
        object_box, person_box: (4,) xyxy mask boxes in the image (person: None without a person mask).
        fine_mask, fine_person: (S_f, S_f) object / person mask in the object's square at the high-resolution check's
            size (:meth:`PHOSAObjectFitter.climb_fine`); None when it is off.
    """
    object_roi: np.ndarray
    joint_roi: np.ndarray
    object_mask: np.ndarray
    object_person: np.ndarray
    joint_object: np.ndarray
    joint_person: np.ndarray
    object_box: np.ndarray
    person_box: Optional[np.ndarray]
    fine_mask: Optional[np.ndarray] = None
    fine_person: Optional[np.ndarray] = None


def prepare_masks(person_mask: Optional[np.ndarray], object_mask: np.ndarray, object_size: int = 64,
                  joint_size: int = 64, padding: float = 0.15, fine_size: Optional[int] = None) -> Optional[PHOSAMasks]:
    """Crop an image's person and (visible) object masks to the two squares the fit renders (and, with
    ``fine_size``, the object's square once more at that size); None for an empty object mask (nothing to fit)."""
    object_box = mask_box(object_mask)
    if object_box is None:
        return None
    person = np.zeros_like(np.asarray(object_mask) > 0) if person_mask is None else np.asarray(person_mask) > 0
    person_box = mask_box(person)
    union = object_box if person_box is None else np.concatenate([np.minimum(object_box[:2], person_box[:2]),
                                                                  np.maximum(object_box[2:], person_box[2:])])
    object_roi, joint_roi = square_roi(object_box, padding), square_roi(union, padding)
    return PHOSAMasks(object_roi=object_roi, joint_roi=joint_roi,
                      object_mask=crop_mask(object_mask, object_roi, object_size),
                      object_person=crop_mask(person, object_roi, object_size),
                      joint_object=crop_mask(object_mask, joint_roi, joint_size),
                      joint_person=crop_mask(person, joint_roi, joint_size), object_box=object_box,
                      person_box=person_box,
                      fine_mask=None if fine_size is None else crop_mask(object_mask, object_roi, fine_size),
                      fine_person=None if fine_size is None else crop_mask(person, object_roi, fine_size))


# ---------------------------------------------------------------------------------------------- hard depth
def _edge(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(b - a) x (p - a), broadcast over leading dims."""
    return (b[..., 0] - a[..., 0]) * (p[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (p[..., 0] - a[..., 0])


def _face_depth(grid: torch.Tensor, tri: torch.Tensor, tz: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Perspective-correct depth of faces ``tri`` (..., 3, 2) with vertex depths ``tz`` (..., 3) at pixels ``grid``
    (..., 2) and whether the pixel centre is inside the face (degenerate faces never are)."""
    a, b, c = tri[..., 0, :], tri[..., 1, :], tri[..., 2, :]
    area = _edge(c, a, b)
    safe = torch.where(area.abs() > 1e-12, area, torch.ones_like(area))
    l0, l1, l2 = _edge(grid, b, c) / safe, _edge(grid, c, a) / safe, _edge(grid, a, b) / safe
    inside = (area.abs() > 1e-12) & (l0 >= 0) & (l1 >= 0) & (l2 >= 0)
    inv = l0 / tz[..., 0] + l1 / tz[..., 1] + l2 / tz[..., 2]
    depth = 1.0 / torch.where(inside & (inv > 0), inv, torch.ones_like(inv))
    return depth, inside & (inv > 0)


def render_depth(vertices: torch.Tensor, faces: torch.Tensor, K: torch.Tensor, image_size: Tuple[int, int],
                 near: float = 1e-3, max_chunk_elements: int = 2 ** 23) -> torch.Tensor:
    """Hard z-buffer of B meshes sharing ``faces``: (B, H, W) depth of the nearest face at each pixel centre (+inf
    where none), differentiable in the vertices through the winning face (its perspective-correct interpolation).

    Args:
        vertices: (B, V, 3) camera frame, metres. faces: (F, 3). K: (B, 3, 3) or (3, 3). image_size: (W, H).
    """
    width, height = int(image_size[0]), int(image_size[1])
    batch = vertices.shape[0]
    pixels, depth = project_vertices(vertices, K.to(vertices))
    faces = faces.to(device=vertices.device, dtype=torch.long)
    tri, tz = pixels[:, faces], depth[:, faces]              # (B, F, 3, 2), (B, F, 3)
    valid = (tz > near).all(-1)
    with torch.no_grad():
        # only faces whose box (grown by a margin far above rounding) holds a pixel centre can win a pixel: a body's
        # faces are mostly smaller than a pixel of the joint square. Kept in their order, so ties go as before.
        low, high = tri.detach().amin(2) - _BOX_MARGIN, tri.detach().amax(2) + _BOX_MARGIN       # (B, F, 2)
        limit = torch.tensor([width - 1, height - 1], dtype=tri.dtype, device=tri.device)
        valid = valid & (torch.ceil(low).clamp_min(0) <= torch.floor(high).minimum(limit)).all(-1)
        kept = valid.any(0).nonzero()[:, 0]                  # (F',) in face order
    tri_k, tz_k, valid_k = tri[:, kept], tz[:, kept], valid[:, kept]
    ys, xs = torch.meshgrid(torch.arange(height, device=vertices.device, dtype=vertices.dtype),
                            torch.arange(width, device=vertices.device, dtype=vertices.dtype), indexing='ij')
    grid = torch.stack([xs, ys], dim=-1).reshape(1, -1, 1, 2)  # (1, P, 1, 2)
    num_pixels = grid.shape[1]
    best = torch.full((batch, num_pixels), _INF, device=vertices.device, dtype=vertices.dtype)
    winner = torch.full((batch, num_pixels), -1, device=vertices.device, dtype=torch.long)
    chunk = max(1, int(max_chunk_elements // max(1, batch * num_pixels)))
    with torch.no_grad():
        for start in range(0, len(kept), chunk):
            d, hit = _face_depth(grid, tri_k[:, None, start:start + chunk].detach(),
                                 tz_k[:, None, start:start + chunk].detach())
            d = torch.where(hit & valid_k[:, None, start:start + chunk], d, torch.full_like(d, _INF))
            value, index = d.min(dim=2)
            better = value < best
            best = torch.where(better, value, best)
            winner = torch.where(better, index + start, winner)
    found = winner >= 0
    index = kept[winner.clamp_min(0)] if len(kept) else winner.clamp_min(0)
    tri_w = torch.gather(tri, 1, index[..., None, None].expand(-1, -1, 3, 2))
    tz_w = torch.gather(tz, 1, index[..., None].expand(-1, -1, 3))
    d, _ = _face_depth(grid.reshape(1, -1, 2), tri_w, tz_w)
    return torch.where(found, d, torch.full_like(d, _INF)).reshape(batch, height, width)


# ---------------------------------------------------------------------------------------------- the loss terms
def silhouette_loss(silhouette: torch.Tensor, mask: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """(B,) occlusion-aware silhouette term: mean of ``(silhouette - mask)^2`` over the pixels the other instance's
    mask does not claim alone (weight ``1 - other (1 - mask)``), all (B, H, W)."""
    weight = 1.0 - other * (1.0 - mask)
    return (weight * (silhouette - mask) ** 2).sum(dim=(1, 2)) / weight.sum(dim=(1, 2)).clamp_min(1.0)


def ordinal_depth_loss(depth_a: torch.Tensor, depth_b: torch.Tensor, mask_a: torch.Tensor, mask_b: torch.Tensor,
                       temperature: float = 1.0) -> torch.Tensor:
    """(B,) ordinal depth term of two instances a and b: mean over the image's pixels of
    ``tau softplus((D_owner - D_other) / tau)`` at pixels that both rendered depths (B, H, W; +inf = not covered)
    cover and exactly one mask (B, H, W, > 0.5) owns; zero elsewhere."""
    both = torch.isfinite(depth_a) & torch.isfinite(depth_b)
    owner_a = both & (mask_a > 0.5) & (mask_b <= 0.5)
    owner_b = both & (mask_b > 0.5) & (mask_a <= 0.5)
    diff = torch.where(both, depth_a - depth_b, torch.zeros_like(depth_a))
    term = owner_a * F.softplus(diff / temperature) + owner_b * F.softplus(-diff / temperature)
    return temperature * term.flatten(1).mean(1)


def collision_loss(points: torch.Tensor, surface: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    """(B,) ``sum_i relu(-(x_i - o_i) . n_i)^2``: points (B, N, 3) inside a closed surface sampled by ``surface``
    (B, P, 3) with outward ``normals`` (B, P, 3), ``o_i`` the nearest sample (all in one frame, metres)."""
    nearest = torch.cdist(points, surface).argmin(dim=2)     # (B, N)
    o = torch.gather(surface, 1, nearest[..., None].expand(-1, -1, 3))
    n = torch.gather(normals, 1, nearest[..., None].expand(-1, -1, 3))
    depth = F.relu(-((points - o) * n).sum(-1))
    return (depth ** 2).sum(1)


def interaction_loss(parts: Sequence[torch.Tensor], surface: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """(B,) mean over the active contact parts of the smallest distance between a part's points (B, n_p, 3) and the
    object surface points (B, P, 3); ``active`` (B, num_parts) bool; zero for an image without an active part."""
    gaps = torch.stack([torch.cdist(part, surface).flatten(1).min(1).values for part in parts], dim=1)
    weight = active.to(gaps)
    return (gaps * weight).sum(1) / weight.sum(1).clamp_min(1.0)


def scale_prior_loss(scale: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """(B,) ``((s - mean) / std)^2``."""
    return ((scale - mean) / std) ** 2


def surface_samples(vertices: np.ndarray, faces: np.ndarray, count: int,
                    seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """``count`` points on a mesh's surface (area-weighted, seeded) with their faces' outward unit normals, plus the
    vertices themselves (so that corners count): (count + V, 3) each."""
    vertices, faces = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    corners = vertices[faces]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    area = np.linalg.norm(cross, axis=1)
    normals = cross / np.maximum(area, 1e-12)[:, None]
    # a mesh wound inwards (negative volume) has its normals flipped
    if np.einsum('ij,ij->', corners[:, 0], cross) < 0:
        normals = -normals
    rng = np.random.default_rng(seed)
    face = rng.choice(len(faces), size=count, p=area / area.sum())
    r1, r2 = rng.random(count), rng.random(count)
    s = np.sqrt(r1)
    w = np.stack([1 - s, s * (1 - r2), s * r2], axis=1)
    points = (corners[face] * w[..., None]).sum(1)
    vertex_normals = np.zeros_like(vertices)
    np.add.at(vertex_normals, faces.reshape(-1), np.repeat(normals * area[:, None], 3, axis=0))
    vertex_normals /= np.maximum(np.linalg.norm(vertex_normals, axis=1), 1e-12)[:, None]
    return np.concatenate([points, vertices]), np.concatenate([normals[face], vertex_normals])


def cluster_decimate(vertices: np.ndarray, faces: np.ndarray, max_faces: int) -> Tuple[np.ndarray, np.ndarray]:
    """A coarser mesh for rendering: the vertices of each cell of a cubic grid merged into the one farthest from the
    centre, collapsed and repeated faces dropped; the finest grid (of 64 tried) with at most ``max_faces`` faces.
    Meshes already small enough are returned as they are. The outline at the fit's resolution barely changes (blobby
    shapes; thin legs of chairs and tables suffer); the cost of the soft silhouette is proportional to the faces."""
    vertices, faces = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    if len(faces) <= max_faces:
        return vertices, faces
    low, extent = vertices.min(0), float(np.ptp(vertices, axis=0).max())
    best = None
    for cells in range(64, 1, -1):
        size = extent / cells * (1 + 1e-9)
        keys = np.floor((vertices - low) / size).astype(np.int64)
        _, cluster = np.unique(keys, axis=0, return_inverse=True)
        cluster = cluster.reshape(-1)
        f = cluster[faces]
        f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
        f = f[np.unique(np.sort(f, axis=1), axis=0, return_index=True)[1]]
        if len(f) <= max_faces:
            # each cell keeps its vertex farthest from the centre: the outline does not shrink
            radius = np.linalg.norm(vertices - vertices.mean(0), axis=1)
            order = np.lexsort((-radius, cluster))
            first = order[np.r_[True, cluster[order][1:] != cluster[order][:-1]]]
            best = (vertices[first], f)
            break
    if best is None:
        raise ValueError(f'cluster_decimate: cannot bring {len(faces)} faces under {max_faces}.')
    return best


# ---------------------------------------------------------------------------------------------- pose search
def place_in_box(vertices: torch.Tensor, R: torch.Tensor, K: torch.Tensor, box: torch.Tensor,
                 extent: float, iterations: int = 3) -> torch.Tensor:
    """(B, 3) translations that put a template turned by ``R`` where its projected vertices span a mask's box.

    Starts on the ray through the box centre at the depth where the template's ``extent`` fills the box, then
    ``iterations`` times scales the translation about the camera centre until the projection's longer side equals
    the box's and moves it sideways (at its depth) until the centres agree.

    Args:
        vertices: (V, 3) template, metres. R: (B, 3, 3). K: (B, 3, 3) intrinsics of the image the box lives in.
        box: (B, 4) xyxy pixel edges (a mask of pixels x0 .. x1 - 1). extent: the template's diagonal, metres.
    """
    side_box = (box[:, 2:] - box[:, :2]).amax(-1).clamp_min(1.0)
    centre = (box[:, :2] + box[:, 2:]) / 2 - 0.5                 # edges -> pixel-centre coordinates
    depth = K[:, 0, 0] * extent / side_box
    t = torch.stack([(centre[:, 0] - K[:, 0, 2]) / K[:, 0, 0] * depth,
                     (centre[:, 1] - K[:, 1, 2]) / K[:, 1, 1] * depth, depth], dim=-1)
    turned = vertices.to(R) @ R.transpose(1, 2)                  # (B, V, 3)
    for _ in range(iterations):
        pixels, _ = project_vertices(turned + t[:, None], K)
        low, high = pixels.amin(1), pixels.amax(1)
        side = (high - low).amax(-1).clamp_min(1e-6)
        t = t * (side / side_box).clamp(0.2, 5.0)[:, None]
        pixels, _ = project_vertices(turned + t[:, None], K)
        shift = centre - (pixels.amin(1) + pixels.amax(1)) / 2
        t = t + torch.cat([shift[:, :1] / K[:, 0, :1] * t[:, 2:], shift[:, 1:] / K[:, 1, 1:2] * t[:, 2:],
                           torch.zeros_like(t[:, 2:])], dim=-1)
    return t


def crop_mask_box(mask: torch.Tensor) -> torch.Tensor:
    """(4,) xyxy pixel edges of the cells of a (S, S) cropped mask (:func:`crop_mask`) that are more than half
    covered, or of every touched cell when none is."""
    covered = mask > 0.5 if bool((mask > 0.5).any()) else mask > 0
    rows, cols = torch.nonzero(covered, as_tuple=True)
    return torch.stack([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])


def diverse_top(scores: torch.Tensor, rotations: torch.Tensor, k: int, min_angle_deg: float) -> torch.Tensor:
    """Indices of the ``k`` best ``scores`` (M,) whose ``rotations`` (M, 3, 3) are pairwise more than
    ``min_angle_deg`` apart (greedy, best first); fewer when not enough are that far apart."""
    order = scores.argsort(descending=True)
    cos_limit = float(np.cos(np.radians(min_angle_deg)))
    picked: List[int] = []
    for index in order.tolist():
        if picked:
            trace = torch.einsum('pij,ij->p', rotations[picked], rotations[index])
            if bool(((trace - 1) / 2 > cos_limit).any()):
                continue
        picked.append(index)
        if len(picked) == k:
            break
    return torch.as_tensor(picked, dtype=torch.long, device=scores.device)


# ---------------------------------------------------------------------------------------------- the fitter
@dataclass
class PHOSAResult:
    """Per image: ``object_R`` (B, 3, 3), ``object_t`` (B, 3), ``object_scale`` (B,), ``fitted`` (B,) bool (False:
    no object mask, the start pose is kept), ``iou`` (B,) stage-1 IoU of the kept candidate, ``losses`` {term: (B,)}
    of the joint stage, ``status`` one line per image."""
    object_R: torch.Tensor
    object_t: torch.Tensor
    object_scale: torch.Tensor
    fitted: torch.Tensor
    iou: torch.Tensor
    losses: Dict[str, torch.Tensor] = field(default_factory=dict)
    status: List[str] = field(default_factory=list)


@REFINERS.register_module()
class PHOSAObjectFitter:
    """PHOSA-style object placement from masks next to a fixed person (module docstring).

    Args:
        object_library: :class:`~hoirecon.objects.library.ObjectLibrary` arguments (the templates, by label).
        num_starts: random rotations per image in stage 1 (PHOSA: many; the first is the identity).
        object_steps, object_lr: Adam steps / initial rate of stage 1 (cosine decay to 0).
        num_candidates: best stage-1 starts (by IoU) refined jointly; the lowest joint loss wins.
        joint_steps, joint_lr: Adam steps / initial rate of stage 2 (cosine decay to 0).
        sigma: (start, end) soft-silhouette blur, pixels^2 of the square crops, shrinking geometrically in each stage.
        object_size, joint_size: pixels a side of the object's and of the person + object's square crops.
        padding: of the squares around the mask boxes, times their side.
        loss_weights: of the joint stage's terms (:data:`DEFAULT_LOSS_WEIGHTS`).
        contact_parts: 22-part body labels (``body_model.part_labels``) of the interaction term's parts.
        scale_prior: ``dict(mean=1.0, std=0.1)`` and optional ``per_category={name: (mean, std)}``.
        depth_temperature: tau of the ordinal depth term, metres (PHOSA's form: 1).
        surface_points: object surface samples for the interaction and collision terms.
        render_faces: the silhouettes and depth maps render the template decimated to at most this many faces
            (:func:`cluster_decimate`; the cost is proportional to them); None renders the full template.
        max_rows: starts rendered in one forward/backward pass of stage 1 (memory); the gradients are the same.
        translation_lr: stage 1's Adam rate of the translation (metres), None: ``object_lr``.
        collision_candidates: body vertices per image tested against the object (those nearest its box).
        num_search: rotations per image scored by their hard silhouette before stage 1 (:meth:`search_poses`); the
            ``num_starts`` best (``search_min_angle`` degrees apart) start stage 1. 0: stage 1 starts from the identity
            and random rotations.
        search_min_angle: degrees between the searched starts.
        local_search: the search's climbing rounds, a perturbation scale (degrees) each (:meth:`search_poses`).
        local_samples: perturbations scored per kept pose and round.
        max_search_rows: poses rendered at once in the search (memory).
        slide_range, slide_samples: the factors tried by :meth:`slide_along_rays` before the joint stage (0 or 1
            sample: no slide).
        fine_size: pixels a side of the high-resolution check after stage 1 (:meth:`climb_fine`): the starts are
            scored again, and climbed, in the object's square at this size with the template at ``fine_faces``;
            None: off (the candidates are ranked at ``object_size``).
        fine_faces: faces of the template in that check (:func:`cluster_decimate`); None: the full template.
        fine_search, fine_samples: its climbing rounds (degrees) and perturbations per start and round.
        search_cache: a folder for the results of the stages that read the masks alone (:meth:`fit_to_masks`:
            search, stage 1, check; about 60 % of a fit on the CPU). They do not depend on the person, so a second
            run on the same images (the post-optimised row after the network's, other joint weights) reads them
            there. Entries are keyed by everything they come from, the source code included
            (:meth:`search_cache_key`): a stale one is never read. None: no cache.
        seed: of the starts (each image draws its own, so that a fit does not depend on the other images of its
            batch).
        show_progress: a progress bar over images.
    """

    def __init__(self, object_library: Optional[dict] = None, num_starts: int = 24, object_steps: int = 60,
                 object_lr: float = 0.01, num_candidates: int = 2, joint_steps: int = 40, joint_lr: float = 0.01,
                 sigma: Tuple[float, float] = (2.0, 0.3), object_size: int = 48, joint_size: int = 48,
                 padding: float = 0.15, loss_weights: Optional[Dict[str, float]] = None,
                 contact_parts: Sequence[int] = HAND_PARTS, scale_prior: Optional[dict] = None,
                 depth_temperature: float = 1.0, surface_points: int = 384, collision_candidates: int = 256,
                 render_faces: Optional[int] = 300, max_rows: int = 64, translation_lr: Optional[float] = None,
                 num_search: int = 0, search_min_angle: float = 20.0,
                 local_search: Sequence[float] = (16.0, 8.0, 4.0, 2.0), local_samples: int = 128,
                 max_search_rows: int = 512, slide_range: Tuple[float, float] = (0.25, 4.0),
                 slide_samples: int = 0, fine_size: Optional[int] = None, fine_faces: Optional[int] = None,
                 fine_search: Sequence[float] = (4.0, 2.0, 1.0), fine_samples: int = 32,
                 search_cache: Optional[str] = None, seed: int = 0, show_progress: bool = False):
        self.object_library = dict(object_library or dict(dataset='behave'))
        self.num_starts, self.object_steps, self.object_lr = int(num_starts), int(object_steps), float(object_lr)
        self.num_candidates = max(1, min(int(num_candidates), self.num_starts))
        self.joint_steps, self.joint_lr = int(joint_steps), float(joint_lr)
        self.sigma = tuple(float(s) for s in sigma)
        self.object_size, self.joint_size, self.padding = int(object_size), int(joint_size), float(padding)
        unknown = set(loss_weights or {}) - set(DEFAULT_LOSS_WEIGHTS)
        if unknown:
            raise ValueError(f'PHOSAObjectFitter: unknown loss terms {sorted(unknown)}; the terms are '
                             f'{sorted(DEFAULT_LOSS_WEIGHTS)}.')
        self.loss_weights = dict(DEFAULT_LOSS_WEIGHTS, **(loss_weights or {}))
        self.contact_parts = tuple(int(p) for p in contact_parts)
        self.scale_prior = dict(dict(mean=1.0, std=0.1, per_category={}), **(scale_prior or {}))
        self.depth_temperature = float(depth_temperature)
        self.surface_points, self.collision_candidates = int(surface_points), int(collision_candidates)
        self.render_faces = None if render_faces is None else int(render_faces)
        self.max_rows = max(1, int(max_rows))
        self.translation_lr = None if translation_lr is None else float(translation_lr)
        self.num_search, self.search_min_angle = int(num_search), float(search_min_angle)
        self.local_search, self.local_samples = tuple(float(a) for a in local_search), int(local_samples)
        self.max_search_rows = max(1, int(max_search_rows))
        self.slide_range, self.slide_samples = tuple(float(v) for v in slide_range), int(slide_samples)
        self.fine_size = None if fine_size is None else int(fine_size)
        self.fine_faces = None if fine_faces is None else int(fine_faces)
        self.fine_search, self.fine_samples = tuple(float(a) for a in fine_search), int(fine_samples)
        self.search_cache = None if not search_cache else str(search_cache)
        self.seed, self.show_progress = int(seed), bool(show_progress)
        self._library = None
        self._templates: Dict[int, dict] = {}

    # -------------------------------------------------------------------------------------------- templates
    def template(self, label: int) -> dict:
        """``vertices`` (V, 3), ``faces`` (F, 3), the rendered ``render_vertices`` / ``render_faces`` (and
        ``fine_vertices`` / ``fine_faces`` of the high-resolution check), ``surface`` / ``normals`` (P, 3) float64
        numpy, ``name``, ``extent``."""
        if label not in self._templates:
            if self._library is None:
                from hoirecon.objects.library import ObjectLibrary
                self._library = ObjectLibrary(**self.object_library)
            t = self._library.by_index(int(label))
            surface, normals = surface_samples(t.vertices, t.faces, self.surface_points, seed=self.seed)
            # cluster_decimate returns a template already within the bound as it is
            render, fine = ((t.vertices, t.faces) if limit is None else cluster_decimate(t.vertices, t.faces, limit)
                            for limit in (self.render_faces, self.fine_faces))
            self._templates[label] = dict(name=t.name, vertices=t.vertices, faces=t.faces, render_vertices=render[0],
                                          render_faces=render[1], fine_vertices=fine[0], fine_faces=fine[1],
                                          surface=surface, normals=normals,
                                          extent=float(np.linalg.norm(np.ptp(t.vertices, axis=0))))
        return self._templates[label]

    def prepare_masks(self, person_mask: Optional[np.ndarray], object_mask: np.ndarray) -> Optional[PHOSAMasks]:
        """:func:`prepare_masks` at this fitter's sizes and padding (the input of :meth:`__call__`)."""
        return prepare_masks(person_mask, object_mask, self.object_size, self.joint_size, self.padding, self.fine_size)

    def _prior(self, name: str) -> Tuple[float, float]:
        mean, std = self.scale_prior['per_category'].get(name, (self.scale_prior['mean'], self.scale_prior['std']))
        return float(mean), float(std)

    # -------------------------------------------------------------------------------------------- stage 1
    def _sigma(self, step: int, steps: int) -> float:
        start, end = self.sigma
        return start * (end / start) ** (step / max(steps - 1, 1))

    def _search_iou(self, verts: torch.Tensor, faces: torch.Tensor, R: torch.Tensor, t: torch.Tensor,
                    K: torch.Tensor, mask: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        """(P,) occlusion-aware hard IoU (:func:`mask_iou`) of P poses (R (P, 3, 3), t (P, 3)) in one image:
        ``mask`` / ``other`` (S, S) the object / person masks, K (3, 3)."""
        size = mask.shape[-1]
        ious = []
        for start in range(0, len(R), self.max_search_rows):
            rows = slice(start, start + self.max_search_rows)
            sil = hard_silhouette(verts @ R[rows].transpose(1, 2) + t[rows, None], faces, K, (size, size))
            ious.append(mask_iou(sil, mask, other, K.dtype))
        return torch.cat(ious)

    def search_poses(self, vertices: torch.Tensor, faces: torch.Tensor, extent: float, K: torch.Tensor,
                     mask: torch.Tensor, other: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stage 0, a search by the hard silhouette before any gradient (PHOSA's many initialisations, scored
        without a gradient; :func:`~hoirecon.models.utils.soft_silhouette.hard_silhouette` costs about 0.2 ms a pose
        at 64 px on 2 CPU cores):

        1. ``num_search`` rotations (seeded, uniform) per image, each placed in the mask's box
           (:func:`place_in_box`), scored by the occlusion-aware IoU of its hard silhouette; the ``num_starts``
           best that lie more than ``search_min_angle`` degrees apart are kept;
        2. each kept pose climbs (:meth:`_climb`): in every round of ``local_search`` (degrees), ``local_samples``
           perturbations of it are scored and the best of them and the pose itself is kept.

        Args: as :meth:`fit_object`. Returns R (N, M, 3, 3), t (N, M, 3), IoU (N, M), M = ``num_starts``, the best
        IoU first.
        """
        n = mask.shape[0]
        rotations = _random_rotations(self.num_search, self.seed + 1, torch.float64).to(K)
        verts = vertices.to(K)
        out_R, out_t, out_iou = [], [], []
        for i in range(n):
            gen = torch.Generator().manual_seed(self.seed + 2)  # per image: a fit does not depend on its batch
            box = crop_mask_box(mask[i]).to(K)
            Ki = K[i].expand(len(rotations), 3, 3)
            t = place_in_box(verts, rotations, Ki, box.expand(len(rotations), 4), extent)
            iou = self._search_iou(verts, faces, rotations, t, K[i], mask[i], other[i])
            keep = diverse_top(iou, rotations, self.num_starts, self.search_min_angle)
            if len(keep) < self.num_starts:  # too few far apart: the next best fill the starts
                rest = iou.argsort(descending=True)
                rest = rest[~torch.isin(rest, keep)][:self.num_starts - len(keep)]
                keep = torch.cat([keep, rest])
            R, t, iou = self._climb(verts, faces, extent, K[i], mask[i], other[i], box, rotations[keep], t[keep],
                                    iou[keep], self.local_search, self.local_samples, gen)
            order = iou.argsort(descending=True)
            out_R.append(R[order])
            out_t.append(t[order])
            out_iou.append(iou[order])
        return torch.stack(out_R), torch.stack(out_t), torch.stack(out_iou)

    def _climb(self, verts: torch.Tensor, faces: torch.Tensor, extent: float, K: torch.Tensor, mask: torch.Tensor,
               other: torch.Tensor, box: torch.Tensor, R: torch.Tensor, t: torch.Tensor, iou: torch.Tensor,
               angles: Sequence[float], samples: int, gen: torch.Generator
               ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Climb M poses (R (M, 3, 3), t (M, 3), their IoU (M,)) of one image by the hard silhouette: in every round
        (``angles``, degrees) ``samples`` perturbations of each pose (a random axis and an angle of that scale, placed
        in ``box`` again, then shifted by ``angle / 8`` pixels and ``angle / 4`` % in depth: occlusion can cut the
        box) are scored, and the best of them and the pose itself is kept. K (3, 3), mask / other (S, S) of the
        square the poses are scored in. Returns the climbed R, t, IoU."""
        m, p = len(R), int(samples)
        for angle in angles:
            axis = F.normalize(torch.randn(m, p, 3, generator=gen, dtype=torch.float64), dim=-1).to(K)
            turn = axis * (torch.randn(m, p, 1, generator=gen, dtype=torch.float64).to(K) * np.radians(angle))
            R_try = axis_angle_to_matrix(turn) @ R[:, None]                             # (m, p, 3, 3)
            # each turned pose placed in the box again, then shifted a little (occlusion can cut the box)
            placed = place_in_box(verts, R_try.reshape(-1, 3, 3), K.expand(m * p, 3, 3),
                                  box.expand(m * p, 4), extent).reshape(m, p, 3)
            noise = torch.randn(m, p, 3, generator=gen, dtype=torch.float64).to(K)
            depth = placed[..., 2:] * (1 + noise[..., 2:] * angle / 400)
            lateral = noise[..., :2] * angle / 8 / K[[0, 1], [0, 1]] * depth
            t_try = torch.cat([placed[..., :2] * depth / placed[..., 2:] + lateral, depth], dim=-1)
            score = self._search_iou(verts, faces, R_try.reshape(-1, 3, 3), t_try.reshape(-1, 3), K,
                                     mask, other).reshape(m, p)
            best = score.argmax(dim=1)
            better = score[torch.arange(m), best] > iou
            R = torch.where(better[:, None, None], R_try[torch.arange(m), best], R)
            t = torch.where(better[:, None], t_try[torch.arange(m), best], t)
            iou = torch.where(better, score[torch.arange(m), best], iou)
        return R, t, iou

    def climb_fine(self, template: dict, K: torch.Tensor, mask: torch.Tensor, other: torch.Tensor, R: torch.Tensor,
                   t: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The high-resolution check after stage 1 (``fine_size``): at ``object_size`` with a decimated template
        the outline of a flat or box-like object can fit a wrong rotation as well as the true one (docs/refiners.md,
        "PHOSA-style baseline"); here every start is scored again in the object's square at ``fine_size`` pixels
        with the template at ``fine_faces`` and climbed there (``fine_search`` rounds of ``fine_samples``
        perturbations, :meth:`_climb`), so that the candidates are ranked by the sharper outline.

        Args:
            template: :meth:`template`'s dict. K: (N, 3, 3) intrinsics of the object's squares at ``fine_size``.
            mask, other: (N, S_f, S_f) object / person masks there (:attr:`PHOSAMasks.fine_mask` / ``fine_person``).
            R: (N, M, 3, 3), t: (N, M, 3) the starts.

        Returns:
            R (N, M, 3, 3), t (N, M, 3), IoU (N, M) at ``fine_size``, each image's best first.
        """
        verts = torch.as_tensor(template['fine_vertices']).to(K)
        faces = torch.as_tensor(template['fine_faces'], dtype=torch.long, device=K.device)
        out_R, out_t, out_iou = [], [], []
        for i in range(len(R)):
            gen = torch.Generator().manual_seed(self.seed + 3)  # per image, as in search_poses
            iou = self._search_iou(verts, faces, R[i], t[i], K[i], mask[i], other[i])
            box = crop_mask_box(mask[i]).to(K)
            Ri, ti, iou = self._climb(verts, faces, template['extent'], K[i], mask[i], other[i], box, R[i], t[i], iou,
                                      self.fine_search, self.fine_samples, gen)
            order = iou.argsort(descending=True)
            out_R.append(Ri[order])
            out_t.append(ti[order])
            out_iou.append(iou[order])
        return torch.stack(out_R), torch.stack(out_t), torch.stack(out_iou)

    def fit_object(self, vertices: torch.Tensor, faces: torch.Tensor, extent: float, K: torch.Tensor,
                   mask: torch.Tensor, other: torch.Tensor, init_R: Optional[torch.Tensor] = None,
                   init_t: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stage 1 for N images of one template: M starts each, fitted to the masks together by the soft silhouette.

        Args:
            vertices: (V, 3) template; faces: (F, 3); extent: its diagonal, metres.
            K: (N, 3, 3) intrinsics of the square crops; mask, other: (N, S, S) object / person masks in them.
            init_R: (M, 3, 3) starting rotations shared by the images (default: the identity and seeded uniform
                ones, M = ``num_starts``), or (N, M, 3, 3) per image (:meth:`search_poses`).
            init_t: (N, M, 3) starting translations; default: each start placed in its mask's box
                (:func:`place_in_box`).

        Returns:
            R (N, M, 3, 3), t (N, M, 3) and the hard IoU (N, M) of every start after fitting.
        """
        n, size = mask.shape[0], mask.shape[-1]
        R0 = (init_R if init_R is not None else _random_rotations(self.num_starts, self.seed, torch.float64)).to(K)
        m = R0.shape[-3]
        R_rows = R0.reshape(n * m, 3, 3) if R0.dim() == 4 else R0.repeat(n, 1, 1)
        K_rows, mask_rows, other_rows = (x.repeat_interleave(m, 0) for x in (K, mask, other))
        verts, faces = vertices.to(K), faces.to(K.device)
        if init_t is not None:
            t0 = init_t.to(K).reshape(n * m, 3)
        else:
            boxes = [crop_mask_box(mask[i]).to(K) for i in range(n)]
            with torch.no_grad():
                t0 = place_in_box(verts, R_rows, K_rows, torch.stack(boxes).repeat_interleave(m, 0), extent)
        rot6d = matrix_to_rot6d(R_rows).clone().requires_grad_(True)                 # (N M, 6)
        trans = t0.clone().requires_grad_(True)                                      # (N M, 3)
        optimizer = torch.optim.Adam([dict(params=[rot6d], lr=self.object_lr),
                                      dict(params=[trans], lr=self.translation_lr or self.object_lr)])
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(self.object_steps, 1))
        with torch.enable_grad():
            for step in range(self.object_steps):
                optimizer.zero_grad()
                sigma = self._sigma(step, self.object_steps)
                for r in range(0, n * m, self.max_rows):  # each row's loss is its own: chunks sum to the same grads
                    rows = slice(r, r + self.max_rows)
                    posed = verts @ rot6d_to_matrix(rot6d[rows]).transpose(1, 2) + trans[rows, None]
                    sil = soft_silhouette(posed, faces, K_rows[rows], (size, size), sigma=sigma)
                    silhouette_loss(sil, mask_rows[rows], other_rows[rows]).sum().backward()
                optimizer.step()
                schedule.step()
        with torch.no_grad():
            R = rot6d_to_matrix(rot6d)
            posed = verts @ R.transpose(1, 2) + trans[:, None]
            # the person's pixels may hide the object
            iou = silhouette_iou(posed, faces, K_rows, (size, size), mask_rows, occluder=other_rows).to(K)
        return R.reshape(n, m, 3, 3), trans.detach().reshape(n, m, 3), iou.reshape(n, m)

    def fit_to_masks(self, tmpl: dict, K: torch.Tensor, masks: Sequence[PHOSAMasks]
                     ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The stages that read the masks alone, for N images of one template: the search (stage 0,
        :meth:`search_poses`), stage 1 (:meth:`fit_object`) and the high-resolution check (:meth:`climb_fine`). They do
        not depend on the person, so with ``search_cache`` each image's result is read from there when the same
        image was fitted before with the same settings and code (:meth:`search_cache_key`), and written there
        otherwise.

        Args:
            tmpl: :meth:`template`'s dict. K: (N, 3, 3) full-image intrinsics. masks: N :func:`prepare_masks` outputs.

        Returns:
            R (N, M, 3, 3), t (N, M, 3), IoU (N, M): every start, each image's best first when the search or the
            check ranked them.
        """
        keys = [self.search_cache_key(tmpl, K[j], masks[j]) for j in range(len(masks))] \
            if self.search_cache else [None] * len(masks)
        found = [None if key is None else self._read_cached(key, K) for key in keys]
        todo = [j for j, hit in enumerate(found) if hit is None]
        if todo:
            computed = self._mask_stages(tmpl, K[todo], [masks[j] for j in todo])
            for n, j in enumerate(todo):
                found[j] = tuple(x[n] for x in computed)
                if keys[j] is not None:
                    self._write_cached(keys[j], found[j])
        return tuple(torch.stack([hit[part] for hit in found]) for part in range(3))

    def _mask_stages(self, tmpl: dict, K: torch.Tensor, masks: Sequence[PHOSAMasks]
                     ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        as_t = dict(dtype=K.dtype, device=K.device)
        verts = torch.as_tensor(tmpl['render_vertices'], **as_t)
        faces = torch.as_tensor(tmpl['render_faces'], dtype=torch.long, device=K.device)
        stack = lambda key: torch.as_tensor(np.stack([getattr(m, key) for m in masks]), **as_t)  # noqa: E731
        K_obj = roi_intrinsics(K, stack('object_roi'), self.object_size)
        object_mask, object_person = stack('object_mask'), stack('object_person')
        starts = (None, None)
        if self.num_search > 0:
            starts = self.search_poses(verts, faces, tmpl['extent'], K_obj, object_mask, object_person)[:2]
        if self.fine_size is not None and self.object_steps == 0 and starts[0] is not None:
            # no stage-1 step, and the check scores the starts again: only the 6D round trip of stage 1 is left
            R1, t1 = rot6d_to_matrix(matrix_to_rot6d(starts[0].reshape(-1, 3, 3))).reshape(starts[0].shape), starts[1]
        else:
            R1, t1, iou1 = self.fit_object(verts, faces, tmpl['extent'], K_obj, object_mask, object_person, *starts)
        if self.fine_size is not None:
            K_fine = roi_intrinsics(K, stack('object_roi'), self.fine_size)
            R1, t1, iou1 = self.climb_fine(tmpl, K_fine, stack('fine_mask'), stack('fine_person'), R1, t1)
        return R1, t1, iou1

    def search_cache_key(self, tmpl: dict, K: torch.Tensor, masks: PHOSAMasks) -> str:
        """sha256 of everything :meth:`fit_to_masks` reads for one image: the settings of its stages, the template
        as rendered, the intrinsics K (3, 3), the masks, the dtype, torch's version and the source files of the fit,
        its renderers and its rotations (:func:`_source_digest`: an edit of any makes every entry stale, so none is
        ever read wrongly)."""
        digest = hashlib.sha256(_source_digest().encode())
        settings = (self.num_search, self.search_min_angle, self.local_search, self.local_samples, self.num_starts,
                    self.object_steps, self.object_lr, self.translation_lr, self.sigma, self.object_size,
                    self.max_rows, self.fine_size, self.fine_faces, self.fine_search, self.fine_samples, self.seed,
                    self.render_faces, str(K.dtype), tmpl['extent'])
        digest.update(repr(settings).encode())
        arrays = [tmpl['render_vertices'], tmpl['render_faces'], tmpl['fine_vertices'], tmpl['fine_faces'],
                  K.detach().cpu().numpy(), masks.object_roi, masks.object_mask, masks.object_person,
                  masks.fine_mask, masks.fine_person]
        for array in arrays:
            array = np.zeros(0) if array is None else np.ascontiguousarray(array)
            digest.update(f'{array.dtype}{array.shape}'.encode())
            digest.update(array.tobytes())
        return digest.hexdigest()

    def _cache_path(self, key: str) -> str:
        return osp.join(self.search_cache, key[:2], key + '.npz')

    def _read_cached(self, key: str, like: torch.Tensor) -> Optional[Tuple[torch.Tensor, ...]]:
        path = self._cache_path(key)
        if not osp.isfile(path):
            return None
        try:
            with np.load(path) as data:
                return tuple(torch.as_tensor(data[name]).to(device=like.device) for name in ('R', 't', 'iou'))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None  # a file cut short (a killed run): fitted again and written anew

    def _write_cached(self, key: str, result: Tuple[torch.Tensor, ...]) -> None:
        path = self._cache_path(key)
        os.makedirs(osp.dirname(path), exist_ok=True)
        part = f'{path}.{os.getpid()}.part.npz'
        np.savez(part, **{name: x.detach().cpu().numpy() for name, x in zip(('R', 't', 'iou'), result)})
        os.replace(part, path)

    # -------------------------------------------------------------------------------------------- stage 2
    def joint_losses(self, R: torch.Tensor, t: torch.Tensor, scale: torch.Tensor, template: dict,
                     data: Dict[str, torch.Tensor], sigma: float) -> Dict[str, torch.Tensor]:
        """The joint stage's unweighted terms (each (B,)) for B rows (image x candidate), ``data`` from
        :meth:`_joint_data` repeated per row."""
        size = data['joint_object'].shape[-1]
        verts = template['vertices_t']
        posed = scale[:, None, None] * (verts @ R.transpose(1, 2)) + t[:, None]
        # the silhouette in the object's own square (stage 1's resolution: the object is small in the joint one)
        object_size = data['object_mask'].shape[-1]
        sil = soft_silhouette(posed, template['faces_t'], data['K_object'], (object_size, object_size), sigma=sigma)
        losses = dict(silhouette=silhouette_loss(sil, data['object_mask'], data['object_person']))
        depth = render_depth(posed, template['faces_t'], data['K_joint'], (size, size))
        losses['depth'] = ordinal_depth_loss(depth, data['human_depth'], data['joint_object'], data['joint_person'],
                                             self.depth_temperature)
        losses.update(self.contact_terms(R, t, scale, template, data))
        return losses

    def contact_terms(self, R: torch.Tensor, t: torch.Tensor, scale: torch.Tensor, template: dict,
                      data: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """The joint stage's terms that do not render: ``interaction``, ``collision``, ``scale`` (each (B,))."""
        surface = scale[:, None, None] * (template['surface_t'] @ R.transpose(1, 2)) + t[:, None]
        parts = [data[f'part_{p}'] for p in range(len(self.contact_parts))]
        losses = dict(interaction=interaction_loss(parts, surface, data['active']) * data['interacting'])
        # collision in the object's frame, for the body vertices nearest its box
        local = ((data['human_vertices'] - t[:, None]) @ R) / scale[:, None, None]
        with torch.no_grad():
            half = template['half_extent_t']
            outside = (local.abs() - half).clamp_min(0).norm(dim=-1)
            pick = outside.topk(min(self.collision_candidates, local.shape[1]), dim=1, largest=False).indices
        candidates = torch.gather(local, 1, pick[..., None].expand(-1, -1, 3))
        rows = R.shape[0]
        losses['collision'] = collision_loss(candidates, template['surface_t'].expand(rows, -1, -1),
                                             template['normals_t'].expand(rows, -1, -1)) * scale ** 2
        losses['scale'] = scale_prior_loss(scale, data['scale_mean'], data['scale_std'])
        return losses

    @torch.no_grad()
    def slide_along_rays(self, R: torch.Tensor, t: torch.Tensor, scale: torch.Tensor, template: dict,
                         data: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Before the joint stage: scaling an object about the camera centre, ``(s, t) -> (a s, a t)``, leaves its
        image unchanged, so a silhouette cannot tell how far a mask's object is (and a person hiding part of it
        makes its box a poor ruler). Per row, ``a`` is picked among ``slide_samples`` factors spread
        log-uniformly over ``slide_range`` (1 included) to minimise the joint stage's terms that do not render
        (:meth:`contact_terms`: interaction, collision, scale prior; the silhouette does not change and the ordinal
        depth is left to the joint stage): an object held by the person moves to the hands' depth without entering
        the body, one alone keeps the size of its template. Returns the new t (B, 3) and scale (B,)."""
        if self.slide_samples <= 1:
            return t, scale
        low, high = (float(np.log(v)) for v in self.slide_range)
        factors = torch.cat([torch.linspace(low, high, self.slide_samples, dtype=t.dtype, device=t.device).exp(),
                             torch.ones(1, dtype=t.dtype, device=t.device)])
        costs = [self._total(self.contact_terms(R, a * t, a * scale, template, data)) for a in factors]
        best = factors[torch.stack(costs, dim=1).argmin(dim=1)]
        return t * best[:, None], scale * best

    def _total(self, losses: Dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(self.loss_weights[key] * value for key, value in losses.items())

    # -------------------------------------------------------------------------------------------- entry point
    def __call__(self, human_vertices: torch.Tensor, human_faces: torch.Tensor, part_labels: torch.Tensor,
                 labels: torch.Tensor, K: torch.Tensor, masks: Sequence[Optional[PHOSAMasks]],
                 init_R: torch.Tensor, init_t: torch.Tensor) -> PHOSAResult:
        """Place each image's object next to its (fixed) person.

        Args:
            human_vertices: (B, V, 3) camera-frame body vertices, metres (their device and dtype are the fit's).
            human_faces: (F, 3) body faces. part_labels: (V,) 22-part labels of the body's vertices.
            labels: (B,) object categories. K: (B, 3, 3) full-image intrinsics.
            masks: per image :func:`prepare_masks` output, None where there is no object mask.
            init_R, init_t: (B, 3, 3), (B, 3) the pose kept where there is no mask (e.g. the network's).
        """
        like = human_vertices
        batch = like.shape[0]
        K = K.to(like)
        out_R, out_t = init_R.to(like).clone(), init_t.to(like).clone()
        out_s, iou = like.new_ones(batch), like.new_zeros(batch)
        fitted = torch.zeros(batch, dtype=torch.bool, device=like.device)
        losses = {key: like.new_zeros(batch) for key in DEFAULT_LOSS_WEIGHTS}
        status = ['phosa: no object mask, start pose kept'] * batch
        groups: Dict[int, List[int]] = {}
        for i in range(batch):
            if masks[i] is not None:
                groups.setdefault(int(labels[i]), []).append(i)
        progress = None
        if self.show_progress:
            from tqdm import tqdm
            progress = tqdm(total=batch, desc='PHOSA fit', unit='image', leave=False)
            progress.update(batch - sum(len(v) for v in groups.values()))
        missing = [i for i in range(batch) if self.fine_size is not None and masks[i] is not None
                   and (masks[i].fine_mask is None or masks[i].fine_mask.shape[-1] != self.fine_size)]
        if missing:
            raise ValueError(f'PHOSAObjectFitter: fine_size={self.fine_size} needs the object masks at that size too '
                             f'(images {missing[:8]} have none or another size); build them with '
                             'PHOSAObjectFitter.prepare_masks(person_mask, object_mask).')
        for label, index in groups.items():
            tmpl = self.template(label)
            result = self._fit_group(tmpl, index, human_vertices, human_faces, part_labels, K, masks)
            idx = torch.as_tensor(index, device=like.device)
            out_R[idx], out_t[idx], out_s[idx], iou[idx] = result['R'], result['t'], result['scale'], result['iou']
            fitted[idx] = True
            for key, value in result['losses'].items():
                losses[key][idx] = value
            for j, i in enumerate(index):
                status[i] = (f"phosa: {tmpl['name']} IoU {float(result['iou'][j]):.2f}, scale "
                             f"{float(result['scale'][j]):.2f}, " +
                             ', '.join(f'{k} {float(v[j]):.3g}' for k, v in result['losses'].items()))
            if progress is not None:
                progress.update(len(index))
        if progress is not None:
            progress.close()
        return PHOSAResult(object_R=out_R, object_t=out_t, object_scale=out_s, fitted=fitted, iou=iou,
                           losses=losses, status=status)

    def _fit_group(self, tmpl: dict, index: List[int], human_vertices: torch.Tensor, human_faces: torch.Tensor,
                   part_labels: torch.Tensor, K: torch.Tensor, masks: Sequence[PHOSAMasks]) -> dict:
        like = human_vertices
        as_t = dict(dtype=like.dtype, device=like.device)
        n = len(index)
        idx = torch.as_tensor(index, device=like.device)
        verts = torch.as_tensor(tmpl['render_vertices'], **as_t)
        faces = torch.as_tensor(tmpl['render_faces'], dtype=torch.long, device=like.device)
        R1, t1, iou1 = self.fit_to_masks(tmpl, K[idx], [masks[i] for i in index])
        k = self.num_candidates
        top = iou1.topk(k, dim=1).indices                                                # (n, k)
        R = torch.gather(R1, 1, top[..., None, None].expand(-1, -1, 3, 3)).reshape(n * k, 3, 3)
        t = torch.gather(t1, 1, top[..., None].expand(-1, -1, 3)).reshape(n * k, 3)
        cand_iou = torch.gather(iou1, 1, top).reshape(n * k)
        data = self._joint_data(tmpl, index, human_vertices, human_faces, part_labels, K, masks)
        data = {key: value.repeat_interleave(k, 0) for key, value in data.items()}
        template = dict(vertices_t=verts, faces_t=faces, surface_t=torch.as_tensor(tmpl['surface'], **as_t),
                        normals_t=torch.as_tensor(tmpl['normals'], **as_t),
                        half_extent_t=torch.as_tensor(np.abs(tmpl['vertices']).max(0), **as_t))
        t, scale = self.slide_along_rays(R, t, data['scale_mean'].clone(), template, data)
        rot6d = matrix_to_rot6d(R).clone().requires_grad_(True)
        trans = t.clone().requires_grad_(True)
        log_scale = torch.log(scale).clone().requires_grad_(True)
        optimizer = torch.optim.Adam([rot6d, trans, log_scale], lr=self.joint_lr)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(self.joint_steps, 1))
        start_sigma = self.sigma[1] * 4
        with torch.enable_grad():
            for step in range(self.joint_steps):
                optimizer.zero_grad()
                sigma = start_sigma * (self.sigma[1] / start_sigma) ** (step / max(self.joint_steps - 1, 1))
                terms = self.joint_losses(rot6d_to_matrix(rot6d), trans, log_scale.exp(), template, data, sigma)
                self._total(terms).sum().backward()
                optimizer.step()
                schedule.step()
        with torch.no_grad():
            R, scale = rot6d_to_matrix(rot6d), log_scale.exp()
            terms = self.joint_losses(R, trans, scale, template, data, self.sigma[1])
            best = self._total(terms).reshape(n, k).argmin(dim=1)
            pick = torch.arange(n, device=like.device) * k + best
        return dict(R=R[pick], t=trans.detach()[pick], scale=scale[pick], iou=cand_iou[pick],
                    losses={key: value[pick] for key, value in terms.items()})

    def _joint_data(self, tmpl: dict, index: List[int], human_vertices: torch.Tensor, human_faces: torch.Tensor,
                    part_labels: torch.Tensor, K: torch.Tensor, masks: Sequence[PHOSAMasks]) -> Dict[str, torch.Tensor]:
        """Per image of the group: joint-square masks and intrinsics, the person's depth there, contact parts and
        whether they are active, the scale prior."""
        like = human_vertices
        as_t = dict(dtype=like.dtype, device=like.device)
        idx = torch.as_tensor(index, device=like.device)
        roi = torch.as_tensor(np.stack([masks[i].joint_roi for i in index]), **as_t)
        K_joint = roi_intrinsics(K[idx], roi, self.joint_size)
        body = human_vertices[idx].detach()
        with torch.no_grad():
            human_depth = render_depth(body, human_faces, K_joint, (self.joint_size, self.joint_size))
        object_roi = torch.as_tensor(np.stack([masks[i].object_roi for i in index]), **as_t)
        data = dict(K_joint=K_joint, human_vertices=body, human_depth=human_depth,
                    K_object=roi_intrinsics(K[idx], object_roi, self.object_size),
                    object_mask=torch.as_tensor(np.stack([masks[i].object_mask for i in index]), **as_t),
                    object_person=torch.as_tensor(np.stack([masks[i].object_person for i in index]), **as_t),
                    joint_object=torch.as_tensor(np.stack([masks[i].joint_object for i in index]), **as_t),
                    joint_person=torch.as_tensor(np.stack([masks[i].joint_person for i in index]), **as_t))
        part_labels = torch.as_tensor(part_labels, device=like.device)
        boxes = torch.as_tensor(np.stack([masks[i].object_box for i in index]), **as_t)
        active = []
        for p, part in enumerate(self.contact_parts):
            members = part_labels == part
            if not bool(members.any()):  # a body without this part: a placeholder point, never active
                data[f'part_{p}'] = body[:, :1]
                active.append(torch.zeros(len(index), dtype=torch.bool, device=like.device))
                continue
            points = body[:, members]
            data[f'part_{p}'] = points
            pixels, _ = project_vertices(points.mean(1, keepdim=True), K[idx])
            centre = pixels[:, 0] + 0.5                       # pixel centre -> edge coordinates
            grow = 0.1 * (boxes[:, 2:] - boxes[:, :2])
            active.append(((centre >= boxes[:, :2] - grow) & (centre <= boxes[:, 2:] + grow)).all(-1))
        data['active'] = torch.stack(active, dim=1)
        interacting = []
        for i in index:
            person, obj = masks[i].person_box, masks[i].object_box
            overlap = person is not None and bool((np.minimum(person[2:], obj[2:]) > np.maximum(person[:2], obj[:2]))
                                                  .all())
            interacting.append(float(overlap))
        data['interacting'] = torch.as_tensor(interacting, **as_t)
        mean, std = self._prior(tmpl['name'])
        data['scale_mean'] = torch.full((len(index), ), mean, **as_t)
        data['scale_std'] = torch.full((len(index), ), std, **as_t)
        return data
