"""Benchmark the HOI evaluator against a loop shaped like the original evaluator.

Both score the same synthetic frames: a body mesh of SMPL size (6890 vertices,
13776 faces), an object of 992 vertices, predictions off by a similarity
transform plus smooth non-rigid noise, ``N`` samples per mesh and all three
alignments (hoi, smpl, none).

(a) reference: per frame and per alignment, fit the transform, build trimesh
    meshes, sample them with ``trimesh`` and build one scikit-learn
    ``NearestNeighbors`` kd-tree (``leaf_size=1``) per direction;
(b) ours: ``hoirecon.evaluation.functional.evaluate_hoi_frames``.

It prints frames/second for both and the ratio, then feeds our samples to the
reference loop and prints the largest difference of the two (same points, so it
must be ~1e-12 cm on the CPU, ~1e-6 relative with float32 GPU distances).

Examples::

    python tools/analysis/benchmark_eval.py                     # CPU, kd-tree backend
    python tools/analysis/benchmark_eval.py --device cuda --frames 4096 --compile
"""
import argparse
import os
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import trimesh
from scipy.spatial.transform import Rotation
from sklearn.neighbors import NearestNeighbors

from hoirecon.evaluation.functional import ALIGNMENTS, evaluate_hoi_frames, mesh_sample_key, sample_surface
from hoirecon.evaluation.functional.kdtree import resolve_kdtree_library

Mesh = Tuple[np.ndarray, np.ndarray]
Frame = Dict[str, Mesh]


def uv_sphere(rings: int, segments: int) -> Mesh:
    """Unit UV sphere: ``rings * segments + 2`` vertices, ``2 * segments * rings`` faces (82 x 84: SMPL's counts)."""
    polar = np.linspace(0, np.pi, rings + 2)[1:-1]
    azimuth = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    polar, azimuth = np.meshgrid(polar, azimuth, indexing='ij')
    ring_vertices = np.stack([np.sin(polar) * np.cos(azimuth), np.cos(polar), np.sin(polar) * np.sin(azimuth)], -1)
    vertices = np.concatenate([[[0, 1, 0]], ring_vertices.reshape(-1, 3), [[0, -1, 0]]])
    grid = 1 + np.arange(rings * segments).reshape(rings, segments)
    nxt = np.roll(grid, -1, axis=1)
    quads = np.stack([grid[:-1], grid[1:], nxt[1:], nxt[:-1]], -1).reshape(-1, 4)
    bottom = len(vertices) - 1
    faces = np.concatenate([
        np.stack([np.zeros(segments, int), grid[0], nxt[0]], 1), quads[:, [0, 1, 2]], quads[:, [0, 2, 3]],
        np.stack([np.full(segments, bottom), nxt[-1], grid[-1]], 1)
    ])
    return vertices, faces.astype(np.int64)


def body_like(unit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Deform a unit sphere into a 1.7 m tall, body-sized, bumpy shape (metres)."""
    bumps = 1 + 0.15 * np.sin(4 * unit[:, 1] + rng.uniform(0, 6)) * np.cos(3 * np.arctan2(unit[:, 2], unit[:, 0]))
    return unit * np.array([0.25, 0.85, 0.14]) * bumps[:, None]


def object_like(unit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Deform a unit sphere into a rounded box of about 40 x 30 x 30 cm."""
    box = np.sign(unit) * np.abs(unit)**0.4
    return box * rng.uniform([0.15, 0.12, 0.12], [0.25, 0.18, 0.18])


def smooth_noise(vertices: np.ndarray, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Low-frequency displacement field of about ``amplitude`` metres."""
    freq = rng.normal(size=(3, 3)) * 4
    phase = rng.uniform(0, 2 * np.pi, size=3)
    return vertices + amplitude * np.sin(vertices @ freq + phase)


def make_frames(num_frames: int, seed: int) -> List[Frame]:
    """Synthetic camera-space frames with realistic error levels (a few cm)."""
    rng = np.random.default_rng(seed)
    body_unit, body_faces = uv_sphere(82, 84)
    object_unit, object_faces = uv_sphere(30, 33)
    frames = []
    for _ in range(num_frames):
        body_rot = Rotation.from_rotvec(rng.normal(scale=0.5, size=3)).as_matrix()
        gt_human = body_like(body_unit, rng) @ body_rot.T + [0, 0.2, 2.5]
        gt_object = object_like(object_unit, rng) @ Rotation.random(random_state=rng).as_matrix().T
        gt_object += gt_human.mean(0) + rng.normal(scale=0.1, size=3) + [0.35, 0.2, 0]
        error_rot = Rotation.from_rotvec(rng.normal(scale=0.08, size=3)).as_matrix()
        scale, shift = rng.uniform(0.93, 1.07), rng.normal(scale=0.08, size=3)
        centre = gt_human.mean(0)
        pred_human = scale * (smooth_noise(gt_human, 0.02, rng) - centre) @ error_rot.T + centre + shift
        object_rot = Rotation.from_rotvec(rng.normal(scale=0.15, size=3)).as_matrix()
        object_centre = gt_object.mean(0)
        pred_object = (gt_object - object_centre) @ object_rot.T + object_centre + rng.normal(scale=0.05, size=3)
        pred_object = scale * (pred_object - centre) @ error_rot.T + centre + shift
        frames.append(
            dict(pred_human=(pred_human, body_faces),
                 pred_object=(pred_object, object_faces),
                 gt_human=(gt_human, body_faces),
                 gt_object=(gt_object, object_faces)))
    return frames


# ----------------------------------------------------------------------------- reference loop
def reference_procrustes(src: np.ndarray, dst: np.ndarray) -> Tuple[float, np.ndarray, np.ndarray]:
    """Plain numpy Umeyama fit of one pair of (P, 3) vertex sets: (s, R, t)."""
    mu_src, mu_dst = src.mean(0), dst.mean(0)
    x1, x2 = (src - mu_src).T, (dst - mu_dst).T
    cross = x1 @ x2.T
    u, _, vt = np.linalg.svd(cross)
    z = np.eye(3)
    z[2, 2] = np.sign(np.linalg.det(u @ vt))
    rot = vt.T @ z @ u.T
    scale = np.trace(rot @ cross) / (x1**2).sum()
    return scale, rot, mu_dst - scale * rot @ mu_src


def reference_chamfer(x: np.ndarray, y: np.ndarray) -> float:
    """Chamfer (sum of one-sided means) with one sklearn kd-tree per direction, as the original evaluator."""
    x_tree = NearestNeighbors(n_neighbors=1, leaf_size=1, algorithm='kd_tree').fit(x)
    y_tree = NearestNeighbors(n_neighbors=1, leaf_size=1, algorithm='kd_tree').fit(y)
    return float(x_tree.kneighbors(y)[0].mean() + y_tree.kneighbors(x)[0].mean())


def reference_frame(frame: Frame,
                    num_samples: int,
                    points: Optional[Dict[str, np.ndarray]] = None) -> Dict[str, Dict[str, float]]:
    """Score one frame like the original evaluator; ``points`` replaces trimesh sampling by given samples."""
    (ph, fh), (po, fo) = frame['pred_human'], frame['pred_object']
    (gh, _), (go, _) = frame['gt_human'], frame['gt_object']
    out = {}
    for alignment in ALIGNMENTS:
        if alignment == 'hoi':
            scale, rot, trans = reference_procrustes(np.concatenate([ph, po]), np.concatenate([gh, go]))
        elif alignment == 'smpl':
            scale, rot, trans = reference_procrustes(ph, gh)
        else:
            scale, rot, trans = 1.0, np.eye(3), np.zeros(3)
        scores = {}
        for part, pred_vertices, faces in (('human', ph, fh), ('object', po, fo)):
            pred_mesh = trimesh.Trimesh(scale * pred_vertices @ rot.T + trans, faces, process=False)
            gt_mesh = trimesh.Trimesh(*frame[f'gt_{part}'], process=False)
            if points is None:
                pred_points, gt_points = pred_mesh.sample(num_samples), gt_mesh.sample(num_samples)
            else:
                pred_points = scale * points[f'pred_{part}'] @ rot.T + trans
                gt_points = points[f'gt_{part}']
            scores[part] = 100 * reference_chamfer(pred_points, gt_points)
        out[alignment] = scores
    return out


# ----------------------------------------------------------------------------- ours
def run_ours(frames: List[Frame], args: argparse.Namespace, backend: str, compile: bool):
    meshes = {role: [f[role] for f in frames] for role in frames[0]}
    return evaluate_hoi_frames(meshes['pred_human'],
                               meshes['pred_object'],
                               meshes['gt_human'],
                               meshes['gt_object'],
                               num_samples=args.num_samples,
                               seed=args.seed,
                               frame_keys=[f'frame{i:06d}' for i in range(len(frames))],
                               backend=backend,
                               device=args.device,
                               batch_size=args.batch_size,
                               num_threads=args.workers,
                               kdtree_library=args.kdtree_library,
                               compile=compile)


class Timer:
    """Wall-clock and process CPU time (all threads) of a block, in seconds."""

    def __init__(self, device: str = 'cpu') -> None:
        self.sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)

    def __enter__(self) -> 'Timer':
        self.sync()
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.sync()
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def report_speed(name: str,
                 timer: Timer,
                 frames: int,
                 reference: Optional[Timer] = None,
                 reference_frames: int = 1) -> None:
    """Print ms/frame and frames/s (wall clock), CPU ms/frame, and the ratios to the reference."""
    line = (f'{name}: {1000 * timer.wall / frames:.1f} ms/frame, {frames / timer.wall:.2f} frames/s, '
            f'CPU {1000 * timer.cpu / frames:.1f} ms/frame ({frames} frames)')
    if reference is not None:
        wall_ratio = (reference.wall / reference_frames) / (timer.wall / frames)
        cpu_ratio = (reference.cpu / reference_frames) / (timer.cpu / frames)
        line += f'; speed-up x{wall_ratio:.1f} wall clock, x{cpu_ratio:.1f} CPU time'
    print(line)


def same_points_difference(frames: List[Frame], args: argparse.Namespace, backend: str, compile: bool):
    """Largest |ours - reference| (cm) and relative difference when the reference gets our samples."""
    ours = run_ours(frames, args, backend, compile)
    abs_diff, rel_diff = 0.0, 0.0
    for i, frame in enumerate(frames):
        points = {
            role: sample_surface(*frame[role], args.num_samples, args.seed, [mesh_sample_key(f'frame{i:06d}', role)])
            for role in frame
        }
        reference = reference_frame(frame, args.num_samples, points)
        for alignment, scores in reference.items():
            for part, value in scores.items():
                diff = abs(ours.chamfer_cm[alignment][part][i] - value)
                abs_diff, rel_diff = max(abs_diff, diff), max(rel_diff, diff / value)
    return abs_diff, rel_diff


def check_device_samples(frame: Frame, args: argparse.Namespace) -> float:
    """Largest difference between samples drawn on ``args.device`` and on the CPU (must be ~0)."""
    vertices, faces = frame['gt_human']
    cpu = sample_surface(vertices, faces, args.num_samples, args.seed, ['device-check'])
    device = sample_surface(
        torch.from_numpy(vertices).to(args.device), faces, args.num_samples, args.seed, ['device-check'])
    return float(np.abs(device.cpu().numpy() - cpu).max())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--frames', type=int, default=64, help='frames scored by our evaluator')
    parser.add_argument('--reference-frames', type=int, default=6, help='frames scored by the (slow) reference loop')
    parser.add_argument('--check-frames', type=int, default=3, help='frames compared on the same points')
    parser.add_argument('--num-samples', type=int, default=10000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument('--backend', default='auto', choices=['auto', 'kdtree', 'torch'])
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--workers', type=int, default=None,
                        help='threads of the kd-tree backend (default: the CPU cores usable)')
    parser.add_argument('--kdtree-library', default='auto', choices=['auto', 'scipy', 'pykdtree'],
                        help="kd-tree of the CPU path ('auto': pykdtree when installed, else scipy)")
    parser.add_argument('--compile', action='store_true', help='also time the torch.compile kernel (GPU)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    frames = make_frames(max(args.frames, args.reference_frames, args.check_frames), seed=args.seed)
    print(f'{args.num_samples} samples per mesh, alignments {ALIGNMENTS}, human 6890 vertices, object 992 vertices, '
          f'{len(os.sched_getaffinity(0))} CPU cores, load average {os.getloadavg()[0]:.1f}')

    with Timer() as reference:
        for frame in frames[:args.reference_frames]:
            reference_frame(frame, args.num_samples)
    report_speed('reference (per alignment: trimesh sampling, one sklearn kd-tree per direction)', reference,
                 args.reference_frames)

    if args.backend == 'kdtree' or (args.backend == 'auto' and args.device == 'cpu'):
        library = resolve_kdtree_library(args.kdtree_library)
        print(f'kd-tree backend: {library} kd-tree, {args.workers or len(os.sched_getaffinity(0))} worker threads')
    runs = [(args.backend, False)] + ([(args.backend, True)] if args.compile else [])
    for backend, compile in runs:
        run_ours(frames[:args.batch_size], args, backend, compile)  # warm-up (and compilation)
        with Timer(args.device) as ours:
            run_ours(frames[:args.frames], args, backend, compile)
        report_speed(f'ours (backend={backend}, device={args.device}{", compiled" if compile else ""})', ours,
                     args.frames, reference, args.reference_frames)
        abs_diff, rel_diff = same_points_difference(frames[:args.check_frames], args, backend, compile)
        print(f'  same points as the reference ({args.check_frames} frames x 3 alignments x 2 parts): '
              f'max |diff| {abs_diff:.3g} cm, max relative diff {rel_diff:.3g}')
    if args.device != 'cpu':
        print(f'samples on {args.device} vs CPU: max |diff| {check_device_samples(frames[0], args):.3g} m')


if __name__ == '__main__':
    main()
