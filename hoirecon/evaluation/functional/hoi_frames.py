"""Per-frame HOI reconstruction errors: the one entry point of the evaluation protocol.

For each frame, with predicted and ground-truth human and object meshes:

1. fit the alignments on VERTICES (correspondence by index): ``'hoi'`` on
   ``[human; object]``, ``'smpl'`` on the human only (also the fallback of
   ``'hoi'`` when the object vertex counts differ), ``'none'`` = identity;
   with ``window > 1`` one fit per window of frames (see :mod:`.alignment`);
2. sample ``num_samples`` points on each of the four meshes ONCE
   (area-weighted, deterministic per ``(seed, frame key, mesh role)``);
3. for each alignment, map the predicted samples through its transform (the
   samples of a transformed mesh are the transformed samples) and take the
   Chamfer distance (sum of the one-sided means) to the ground-truth samples,
   for the human and for the object, in cm.

Backends (same numbers, see ``docs/evaluation.md``): ``'kdtree'`` builds one
exact kd-tree (scipy or pykdtree, see :mod:`.kdtree`) per sample set and reuses
it across alignments (the ground-truth -> prediction queries go through the
inverse transform: ``min_j |s R p_j + t - g| = s min_j |p_j - R^T (g - t) / s|``;
identical transforms are queried once), whole frames in parallel worker
threads; ``'torch'`` runs batched brute force on the device (the GPU path).
"""
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, Hashable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from tqdm import tqdm

from .alignment import WINDOW_MODES, windowed_transforms
from .array_utils import ArrayLike, to_numpy
from .chamfer import BACKENDS, DEFAULT_MEMORY_BUDGET, nearest_neighbor_distances
from .kdtree import KDTREE_LIBRARIES, build_tree, limit_openmp_threads, nearest_distances, resolve_kdtree_library
from .procrustes import PointMoments, SimilarityTransform, merge_moments, point_moments
from .sampling import sample_surface

#: Alignment variants, headline first.
ALIGNMENTS = ('hoi', 'smpl', 'none')
PARTS = ('human', 'object')
#: The four meshes of a frame; each has its own random stream.
MESH_ROLES = ('pred_human', 'pred_object', 'gt_human', 'gt_object')
#: A mesh: ((V, 3) float vertices in metres, (F, 3) integer faces).
Mesh = Tuple[ArrayLike, ArrayLike]

_METRES_TO_CM = 100.0


def mesh_sample_key(frame_key: Hashable, role: str, shared_samples: bool = False) -> str:
    """Name of the random stream that samples mesh ``role`` (one of :data:`MESH_ROLES`) of frame ``frame_key``.

    With ``shared_samples`` the predicted and ground-truth meshes of a part share
    one stream (see :func:`evaluate_hoi_frames`).
    """
    return f"{frame_key}/{role.split('_')[1] if shared_samples else role}"


@dataclass
class HOIFrameErrors:
    """Per-frame Chamfer errors.

    Attributes:
        chamfer_cm: ``chamfer_cm[alignment][part]`` is a (F,) float64 array in
            cm, for each requested alignment and part (``'human'``, ``'object'``).
        hoi_fallback: (F,) bool, True where the ``'hoi'`` fit fell back to the
            human vertices because the object vertex counts differ.
    """
    chamfer_cm: Dict[str, Dict[str, np.ndarray]]
    hoi_fallback: np.ndarray


@dataclass
class _MeshBatch:
    """Meshes of a batch of frames, padded to common sizes, on one device."""
    vertices: torch.Tensor  # (B, V, 3) float64, metres
    faces: torch.Tensor  # (F, 3) shared or (B, F, 3) long
    num_vertices: torch.Tensor  # (B,) long
    num_faces: Optional[torch.Tensor]  # (B,) long when faces are padded, else None


def _stack_meshes(meshes: Sequence[Mesh], device: torch.device) -> _MeshBatch:
    """Stack (vertices, faces) pairs into padded tensors (one host-to-device copy each)."""
    verts = [to_numpy(v, np.float64) for v, _ in meshes]
    faces = [f if isinstance(f, np.ndarray) else to_numpy(f) for _, f in meshes]
    counts = np.array([len(v) for v in verts])
    if (counts == counts[0]).all():
        stacked = np.stack(verts)
    else:
        stacked = np.zeros((len(verts), counts.max(), 3))
        for row, v in zip(stacked, verts):
            row[:len(v)] = v
    num_faces = None
    if all(f is faces[0] for f in faces):
        stacked_faces = faces[0]
    elif all(f.shape == faces[0].shape for f in faces):
        stacked_faces = np.stack(faces)
    else:
        face_counts = np.array([len(f) for f in faces])
        stacked_faces = np.zeros((len(faces), face_counts.max(), 3), dtype=np.int64)
        for row, f in zip(stacked_faces, faces):
            row[:len(f)] = f
        num_faces = torch.from_numpy(face_counts).to(device)
    return _MeshBatch(
        torch.from_numpy(stacked).to(device),
        torch.from_numpy(np.asarray(stacked_faces, dtype=np.int64)).to(device),
        torch.from_numpy(counts).to(device), num_faces)


def _check_frames(meshes: Dict[str, Sequence[Mesh]], keys: Sequence[str], need_human_correspondence: bool) -> None:
    """Raise a ValueError naming the frame and mesh for any malformed input."""
    sizes = {role: len(frames) for role, frames in meshes.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f'pred_human, pred_object, gt_human and gt_object must list the same frames; got {sizes}')
    if len(keys) != sizes['pred_human']:
        raise ValueError(f'frame_keys has {len(keys)} entries for {sizes["pred_human"]} frames')
    for role, frames in meshes.items():
        for key, mesh in zip(keys, frames):
            if not isinstance(mesh, (tuple, list)) or len(mesh) != 2:
                raise ValueError(f'{role} of frame {key!r} must be a (vertices, faces) pair')
            verts, faces = to_numpy(mesh[0]), to_numpy(mesh[1])
            if verts.ndim != 2 or verts.shape[1] != 3 or not len(verts):
                raise ValueError(f'{role} vertices of frame {key!r} must be (V, 3), got shape {verts.shape}')
            if not np.isfinite(verts).all():
                raise ValueError(f'{role} vertices of frame {key!r} are not all finite')
            if faces.ndim != 2 or faces.shape[1] != 3 or not len(faces) or faces.dtype.kind not in 'iu':
                raise ValueError(f'{role} faces of frame {key!r} must be a non-empty (F, 3) integer array, '
                                 f'got shape {faces.shape} dtype {faces.dtype}')
            if faces.min() < 0 or faces.max() >= len(verts):
                raise ValueError(f'{role} faces of frame {key!r} index vertices outside [0, {len(verts)})')
    if need_human_correspondence:
        for key, pred, gt in zip(keys, meshes['pred_human'], meshes['gt_human']):
            if len(pred[0]) != len(gt[0]):
                raise ValueError(f'frame {key!r}: predicted and ground-truth human meshes have {len(pred[0])} and '
                                 f'{len(gt[0])} vertices; the smpl/hoi alignments need the same body topology '
                                 "(evaluate with alignments=('none',) otherwise)")


def _padded_pair(pred: _MeshBatch, gt: _MeshBatch) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return pred and gt vertices padded to one width and the mask of usable correspondences."""
    width = max(pred.vertices.shape[1], gt.vertices.shape[1])
    pad = [torch.nn.functional.pad(m.vertices, (0, 0, 0, width - m.vertices.shape[1])) for m in (pred, gt)]
    same_count = pred.num_vertices == gt.num_vertices
    mask = (torch.arange(width, device=pred.vertices.device) < pred.num_vertices[:, None]) & same_count[:, None]
    return pad[0], pad[1], mask


def _frame_moments(batch: Dict[str, _MeshBatch]) -> Tuple[PointMoments, PointMoments, torch.Tensor]:
    """Per-frame moments of the human and of [human; object] correspondences, and the hoi fallback flags."""
    human = point_moments(*_padded_pair(batch['pred_human'], batch['gt_human']))
    obj = point_moments(*_padded_pair(batch['pred_object'], batch['gt_object']))
    fallback = batch['pred_object'].num_vertices != batch['gt_object'].num_vertices
    parts = PointMoments(*(torch.stack(pair, dim=1) for pair in zip(human, obj)))
    hoi = merge_moments(parts, torch.stack([torch.ones_like(fallback), ~fallback], dim=1))
    return human, hoi, fallback


def _unique_transforms(transforms: List[Tuple[float, np.ndarray, np.ndarray]]) -> Tuple[List[int], np.ndarray]:
    """Rows of the distinct transforms and, for each transform, the position of its copy among them.

    Identical transforms (``'hoi'`` falling back to ``'smpl'``, a fit that is
    the identity) give identical distances: they are queried once.
    """
    seen: Dict[bytes, int] = {}
    rows, position = [], []
    for row, (scale, rotation, translation) in enumerate(transforms):
        key = np.float64(scale).tobytes() + np.asarray(rotation, np.float64).tobytes() + np.asarray(
            translation, np.float64).tobytes()
        if key not in seen:
            seen[key] = len(rows)
            rows.append(row)
        position.append(seen[key])
    return rows, np.array(position)


def _kdtree_frame(meshes: Dict[str, Mesh], keys: Dict[str, str], num_samples: int, seed: int,
                  transforms: List[Tuple[float, np.ndarray, np.ndarray]], library: str) -> np.ndarray:
    """Chamfer (metres) of one frame for each transform and part, sampling each mesh once, one tree per sample set.

    Returns:
        (A, 2) array: alignments x (human, object).
    """
    points = {
        role: sample_surface(to_numpy(vertices, np.float64), to_numpy(faces), num_samples, seed, [keys[role]])
        for role, (vertices, faces) in meshes.items()
    }
    rows, position = _unique_transforms(transforms)
    distinct = [transforms[row] for row in rows]
    out = np.empty((len(distinct), len(PARTS)))
    scales = np.array([s for s, _, _ in distinct], dtype=np.float64)
    degenerate = scales <= np.finfo(np.float64).tiny
    safe = np.where(degenerate, 1.0, scales)
    for column, part in enumerate(PARTS):
        pred, gt = points[f'pred_{part}'], points[f'gt_{part}']
        tree_gt, tree_pred = build_tree(gt, library), build_tree(pred, library)
        aligned = np.concatenate([s * pred @ rot.T + trans for s, rot, trans in distinct])
        forward = nearest_distances(tree_gt, aligned).reshape(len(distinct), -1)
        inverse = np.concatenate([(gt - trans) @ rot / s for s, (_, rot, trans) in zip(safe, distinct)])
        backward = nearest_distances(tree_pred, inverse).reshape(len(distinct), -1) * safe[:, None]
        for row in np.flatnonzero(degenerate):  # every predicted sample maps to one point
            backward[row] = np.linalg.norm(gt - distinct[row][2], axis=1)
        out[:, column] = forward.mean(axis=1) + backward.mean(axis=1)
    return out[position]


def _score_kdtree(meshes: Dict[str, List[Mesh]], keys: Dict[str, List[str]], num_samples: int, seed: int,
                  transforms: Dict[str, SimilarityTransform], pool: ThreadPoolExecutor, library: str) -> np.ndarray:
    """(A, B, 2) Chamfer in metres with the kd-tree backend, one frame per thread task.

    Sampling runs inside the tasks too. The pool's threads run OpenMP regions
    (torch ops, pykdtree queries) on one thread each (see
    :func:`.kdtree.limit_openmp_threads`), so they do not oversubscribe the cores.
    """
    params = [(to_numpy(t.scale), to_numpy(t.rotation), to_numpy(t.translation)) for t in transforms.values()]

    def frame(item: int) -> np.ndarray:
        frame_meshes = {role: role_meshes[item] for role, role_meshes in meshes.items()}
        frame_keys = {role: role_keys[item] for role, role_keys in keys.items()}
        frame_transforms = [(s[item], r[item], t[item]) for s, r, t in params]
        return _kdtree_frame(frame_meshes, frame_keys, num_samples, seed, frame_transforms, library)

    return np.stack(list(pool.map(frame, range(len(meshes['gt_human'])))), axis=1)


def _score_torch(samples: Dict[str, torch.Tensor], transforms: Dict[str, SimilarityTransform], dtype: torch.dtype,
                 memory_budget: int, compile: bool) -> np.ndarray:
    """(A, B, 2) Chamfer in metres with batched brute force on the samples' device.

    Points are centred on the ground-truth sample mean (in float64) before the
    cast to ``dtype``, so float32 keeps ~1e-7 m resolution near the meshes.
    """
    num_align = len(transforms)
    out = []
    for part in PARTS:
        gt = samples[f'gt_{part}']
        centre = gt.mean(dim=1, keepdim=True)
        reference = (gt - centre).to(dtype).repeat(num_align, 1, 1)
        aligned = torch.cat([t.apply(samples[f'pred_{part}']) - centre for t in transforms.values()]).to(dtype)
        forward = nearest_neighbor_distances(aligned,
                                             reference,
                                             backend='torch',
                                             memory_budget=memory_budget,
                                             compile=compile)
        backward = nearest_neighbor_distances(reference,
                                              aligned,
                                              backend='torch',
                                              memory_budget=memory_budget,
                                              compile=compile)
        chamfer = forward.to(torch.float64).mean(dim=1) + backward.to(torch.float64).mean(dim=1)
        out.append(chamfer.view(num_align, -1))
    return to_numpy(torch.stack(out, dim=-1))


def evaluate_hoi_frames(pred_human: Sequence[Mesh],
                        pred_object: Sequence[Mesh],
                        gt_human: Sequence[Mesh],
                        gt_object: Sequence[Mesh],
                        num_samples: int = 10000,
                        seed: int = 0,
                        alignments: Sequence[str] = ALIGNMENTS,
                        frame_keys: Optional[Sequence[Hashable]] = None,
                        window: int = 1,
                        window_mode: str = 'sliding',
                        backend: str = 'auto',
                        device: Optional[Union[str, torch.device]] = None,
                        batch_size: int = 64,
                        num_threads: Optional[int] = None,
                        kdtree_library: str = 'auto',
                        distance_dtype: Optional[torch.dtype] = None,
                        memory_budget: int = DEFAULT_MEMORY_BUDGET,
                        compile: bool = False,
                        shared_samples: bool = False,
                        progress: bool = False) -> HOIFrameErrors:
    """Chamfer errors (cm) of predicted human and object meshes, per frame and alignment.

    Args:
        pred_human: per frame, the predicted human mesh ``(vertices (V, 3) m, faces (F, 3))``.
        pred_object: per frame, the predicted object mesh.
        gt_human: per frame, the ground-truth human mesh (same vertex count as
            the prediction for the ``'smpl'``/``'hoi'`` alignments).
        gt_object: per frame, the ground-truth object mesh. Where its vertex
            count differs from the prediction's, ``'hoi'`` falls back to the
            human-only fit (reported in ``hoi_fallback``).
        num_samples: points sampled per mesh (10000: CHORE, StackFLOW, VisTracker;
            6000: CONTHO, HOI-TG, the BEHAVE challenge).
        seed: seed of the sampling streams.
        alignments: subset of :data:`ALIGNMENTS`.
        frame_keys: one key per frame (e.g. image ids) naming its sampling
            streams, so a frame gets the same samples in any batch. Default:
            the frame's position in the lists.
        window: frames per alignment window; > 1 treats the frames as ONE
            sequence in temporal order (see :mod:`.alignment`).
        window_mode: ``'sliding'`` (StackFLOW) or ``'chunk'`` (non-overlapping chunks, not VisTracker's rule).
        backend: ``'kdtree'`` (CPU), ``'torch'`` (batched brute force on
            ``device``) or ``'auto'`` (torch on a GPU, else kdtree).
        device: where sampling, fitting and the torch backend run; default: the
            device of the first vertices tensor, else the CPU.
        batch_size: frames per batch.
        num_threads: kd-tree backend worker threads, each scoring whole frames
            (default: the CPU cores this process may use). The numbers do not
            depend on it.
        kdtree_library: exact kd-tree of the kd-tree backend: ``'scipy'``,
            ``'pykdtree'`` (optional package, ~1.6x faster queries) or
            ``'auto'`` (pykdtree when installed, else scipy); same numbers
            (see :mod:`.kdtree`).
        distance_dtype: torch backend distance dtype (default float32 on a GPU,
            float64 elsewhere).
        memory_budget: bytes of the largest pairwise block (torch backend).
        compile: ``torch.compile`` the torch backend's block kernel (GPU speed).
        shared_samples: draw the predicted and ground-truth samples of a part
            from ONE stream (common random numbers): a perfect prediction then
            scores exactly 0 instead of the sampling-noise floor (~1.4 cm
            for a body, ~0.8 cm for an object at N=10000).
            Not the papers' protocol, which samples the meshes independently
            (the default).
        progress: show a progress bar over batches.

    Returns:
        :class:`HOIFrameErrors`.

    Raises:
        ValueError: malformed or non-finite meshes (the message names the frame
            and mesh), unknown alignment, backend or window mode.
    """
    alignments = tuple(alignments)
    unknown = set(alignments) - set(ALIGNMENTS)
    if unknown or not alignments:
        raise ValueError(f'alignments must be a non-empty subset of {ALIGNMENTS}, got {alignments}')
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    if window_mode not in WINDOW_MODES:
        raise ValueError(f'window_mode must be one of {WINDOW_MODES}, got {window_mode!r}')
    if num_threads is not None and num_threads < 1:
        raise ValueError(f'num_threads must be >= 1 or None, got {num_threads}')
    meshes = dict(pred_human=pred_human, pred_object=pred_object, gt_human=gt_human, gt_object=gt_object)
    keys = [str(k) for k in (range(len(pred_human)) if frame_keys is None else frame_keys)]
    fits = [a for a in alignments if a != 'none']
    _check_frames(meshes, keys, need_human_correspondence=bool(fits))
    if device is None:
        first_vertices = pred_human[0][0] if len(pred_human) else None
        device = first_vertices.device if isinstance(first_vertices, torch.Tensor) else 'cpu'
    device = torch.device(device)
    if backend == 'auto':
        backend = 'kdtree' if device.type == 'cpu' else 'torch'
    if kdtree_library not in KDTREE_LIBRARIES:
        raise ValueError(f'kdtree_library must be one of {KDTREE_LIBRARIES}, got {kdtree_library!r}')
    library = resolve_kdtree_library(kdtree_library) if backend == 'kdtree' else 'scipy'
    dtype = distance_dtype or (torch.float64 if device.type == 'cpu' else torch.float32)
    batches = [range(first, min(first + batch_size, len(keys))) for first in range(0, len(keys), batch_size)]

    def stacked(batch: range) -> Dict[str, _MeshBatch]:
        return {role: _stack_meshes([role_meshes[i] for i in batch], device) for role, role_meshes in meshes.items()}

    fallback = np.zeros(len(keys), dtype=bool)
    sequence_transforms = {}
    if fits and window > 1:  # the windows span batches: fit on the moments of the whole sequence first
        human_parts, hoi_parts, fallback_parts = zip(*(_frame_moments(stacked(batch)) for batch in batches))
        human, hoi = (PointMoments(*map(torch.cat, zip(*parts))) for parts in (human_parts, hoi_parts))
        fallback = to_numpy(torch.cat(fallback_parts))
        sequence_transforms = dict(smpl=windowed_transforms(human, window, window_mode),
                                   hoi=windowed_transforms(hoi, window, window_mode))

    errors = []
    num_threads = num_threads or len(os.sched_getaffinity(0))
    with ThreadPoolExecutor(max_workers=num_threads if backend == 'kdtree' else 1,
                            initializer=limit_openmp_threads if backend == 'kdtree' else None) as pool:
        for batch in tqdm(batches, desc='HOI Chamfer', unit='batch', disable=not progress):
            frames = stacked(batch) if backend == 'torch' or (fits and window == 1) else None
            if fits and window == 1:
                human, hoi, batch_fallback = _frame_moments(frames)
                fallback[batch.start:batch.stop] = to_numpy(batch_fallback)
                batch_transforms = dict(smpl=windowed_transforms(human, 1), hoi=windowed_transforms(hoi, 1))
            else:
                batch_transforms = {
                    name: t.index(slice(batch.start, batch.stop))
                    for name, t in sequence_transforms.items()
                }
            batch_transforms['none'] = SimilarityTransform.identity(len(batch), device)
            transforms = {name: batch_transforms[name] for name in alignments}
            sample_keys = {role: [mesh_sample_key(keys[i], role, shared_samples) for i in batch] for role in meshes}
            if backend == 'kdtree':
                batch_meshes = {role: [role_meshes[i] for i in batch] for role, role_meshes in meshes.items()}
                errors.append(_score_kdtree(batch_meshes, sample_keys, num_samples, seed, transforms, pool, library))
            else:
                samples = {
                    role: sample_surface(m.vertices, m.faces, num_samples, seed, sample_keys[role], m.num_faces)
                    for role, m in frames.items()
                }
                errors.append(_score_torch(samples, transforms, dtype, memory_budget, compile))
    chamfer = np.concatenate(errors, axis=1) * _METRES_TO_CM if errors else np.zeros((len(alignments), 0, 2))
    chamfer_cm = {name: dict(zip(PARTS, chamfer[row].T)) for row, name in enumerate(alignments)}
    return HOIFrameErrors(chamfer_cm, fallback if 'hoi' in alignments else np.zeros(len(keys), dtype=bool))
