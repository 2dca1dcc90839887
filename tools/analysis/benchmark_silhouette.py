"""Speed of the hard silhouette (the PHOSA-style search's renderer) against two references in the same run.

For each square size it renders ``--poses`` random rotations of a template placed to fill the square (as the search
does) with

- ``hard_silhouette``: :func:`hoirecon.models.utils.soft_silhouette.hard_silhouette`, each face intersected with the
  pixel rows it spans;
- ``dense rows``: the same scanline rule with every face intersected with every row (the implementation before;
  kept here as the reference, :func:`dense_rows_silhouette`);
- ``soft @ 0.05``: :func:`~hoirecon.models.utils.soft_silhouette.soft_silhouette` at sigma 0.05 thresholded at 0.5
  (what :func:`~hoirecon.models.utils.soft_silhouette.silhouette_iou` reads),

and prints ms per pose, the speed-up over each reference and the pixels on which the masks disagree (0 against the
dense rows: the same rule; a few edge pixels against the soft one). The CPU and its load are printed first: compare
figures of the same run only.

    python tools/analysis/benchmark_silhouette.py
    python tools/analysis/benchmark_silhouette.py --object chairblack --sizes 64 128 256 --poses 64
"""
import argparse
import os
import time
from typing import Optional

import numpy as np
import torch

from hoirecon.engine.threads import cpu_description
from hoirecon.models.baselines.phosa import cluster_decimate, place_in_box
from hoirecon.models.refiners.silhouette_fit import _random_rotations
from hoirecon.models.utils.soft_silhouette import hard_silhouette, project_vertices, soft_silhouette
from hoirecon.objects import ObjectLibrary


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--object', default='toolbox', help="a template of ObjectLibrary('behave')")
    parser.add_argument('--sizes', type=int, nargs='+', default=[64, 128], help='square sizes, pixels')
    parser.add_argument('--faces', type=int, nargs='+', default=[300, 0],
                        help='faces of the template at each size (cluster_decimate; 0: the full template)')
    parser.add_argument('--poses', type=int, default=128, help='poses rendered per size')
    parser.add_argument('--soft-poses', type=int, default=8, help='poses of the (slow) soft reference')
    parser.add_argument('--threads', type=int, default=None, help='torch threads (default: torch default)')
    return parser.parse_args(argv)


def machine_line() -> str:
    """The CPU (:func:`~hoirecon.engine.threads.cpu_description`: model, AVX2 / AVX-512, cores), the 1-min load
    average and torch's threads, printed before the figures."""
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    return f'{cpu_description()}, load {load:.2f}, torch {torch.get_num_threads()} threads'


@torch.no_grad()
def dense_rows_silhouette(vertices: torch.Tensor, faces: torch.Tensor, K: torch.Tensor, size: int,
                          near: float = 1e-3, max_chunk_elements: int = 2 ** 24) -> torch.Tensor:
    """The reference: (B, S, S) hard masks by the same half-open scanline rule as ``hard_silhouette``, with every
    face intersected with every pixel row (cost B x F x S)."""
    batch, out = vertices.shape[0], torch.zeros(vertices.shape[0], size, size, dtype=torch.bool)
    ys = torch.arange(size, dtype=vertices.dtype)
    chunk = max(1, int(max_chunk_elements // max(1, faces.shape[0] * size)))
    pixels, depth = project_vertices(vertices, K)
    for start in range(0, batch, chunk):
        rows = slice(start, start + chunk)
        tri = pixels[rows][:, faces]
        valid = (depth[rows][:, faces] > near).all(-1)
        a, b = tri, tri.roll(-1, dims=2)
        ay, by = a[..., 1, None], b[..., 1, None]
        crosses = ((ay <= ys) & (by > ys)) | ((by <= ys) & (ay > ys))
        x = a[..., 0, None] + (ys - ay) * (b[..., 0, None] - a[..., 0, None]) / torch.where(
            by == ay, torch.ones_like(by), by - ay)
        left = torch.where(crosses, x, torch.full_like(x, float('inf'))).amin(2)
        right = torch.where(crosses, x, torch.full_like(x, -float('inf'))).amax(2)
        lo, hi = torch.ceil(left).clamp(0, size), torch.floor(right).clamp(-1, size - 1)
        spans = valid[..., None] & (crosses.sum(2) >= 2) & (lo <= hi)
        diff = torch.zeros(tri.shape[0], size, size + 1, dtype=torch.int32)   # +1 / -1 at each span's ends
        bi, fi, yi = torch.nonzero(spans, as_tuple=True)
        base = (bi * size + yi) * (size + 1)
        ones = torch.ones_like(base, dtype=torch.int32)
        diff.view(-1).index_add_(0, base + lo[bi, fi, yi].long(), ones)
        diff.view(-1).index_add_(0, base + hi[bi, fi, yi].long() + 1, -ones)
        out[rows] = diff.cumsum(2)[..., :size] > 0
    return out


def timed(fn, repeat: int = 2):
    """(result, seconds): the best of ``repeat`` calls after one warm-up."""
    result = fn()
    best = float('inf')
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def scene(template, size: int, faces: Optional[int], poses: int):
    """Vertices (P, V, 3), faces (F, 3) and intrinsics (3, 3) of ``poses`` rotations filling a ``size`` square."""
    v, f = template.vertices, template.faces
    if faces:
        v, f = cluster_decimate(v, f, faces)
    v, f = torch.as_tensor(v, dtype=torch.float64), torch.as_tensor(f, dtype=torch.long)
    K = torch.tensor([[float(size), 0, size / 2 - 0.5], [0, float(size), size / 2 - 0.5], [0, 0, 1]],
                     dtype=torch.float64)
    R = _random_rotations(poses, 0, torch.float64)
    box = torch.tensor([0.15, 0.15, 0.85, 0.85], dtype=torch.float64) * size
    extent = float(np.linalg.norm(np.ptp(template.vertices, axis=0)))
    t = place_in_box(v, R, K.expand(poses, 3, 3), box.expand(poses, 4), extent)
    return v @ R.transpose(1, 2) + t[:, None], f, K


def main(argv=None) -> list:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    template = ObjectLibrary('behave')[args.object]
    print(machine_line())
    print(f'{"size":>5} {"faces":>6} {"hard ms/pose":>12} {"dense rows":>10} {"x":>6} {"soft @ 0.05":>11} {"x":>7} '
          f'{"px off (dense / soft)":>22}')
    rows = []
    for size, faces in zip(args.sizes, args.faces + [args.faces[-1]] * (len(args.sizes) - len(args.faces))):
        verts, f, K = scene(template, size, faces, args.poses)
        hard, t_hard = timed(lambda: hard_silhouette(verts, f, K, (size, size)))
        dense, t_dense = timed(lambda: dense_rows_silhouette(verts, f, K, size), repeat=1)
        few = verts[:args.soft_poses]
        soft, t_soft = timed(lambda: soft_silhouette(few, f, K, (size, size), sigma=0.05) > 0.5, repeat=1)
        row = dict(size=size, faces=len(f), hard_ms=1e3 * t_hard / len(verts), dense_ms=1e3 * t_dense / len(verts),
                   soft_ms=1e3 * t_soft / len(few), dense_mismatch=int((hard != dense).sum()),
                   soft_mismatch=int((hard[:len(few)] != soft).sum()), pixels=int(hard.sum()))
        rows.append(row)
        print(f'{size:5d} {row["faces"]:6d} {row["hard_ms"]:12.2f} {row["dense_ms"]:10.2f} '
              f'{row["dense_ms"] / row["hard_ms"]:6.1f} {row["soft_ms"]:11.2f} {row["soft_ms"] / row["hard_ms"]:7.1f} '
              f'{row["dense_mismatch"]:>10d} / {row["soft_mismatch"]} of {row["pixels"]}')
    return rows


if __name__ == '__main__':
    main()
