"""Score any method's per-frame human and object meshes with the hoirecon evaluation protocol.

Layout (the frame key may contain sub-folders, e.g. ``Date03_Sub03_chairwood_hand/t0010.000/k1``)::

    PRED_DIR/<frame key><human suffix>      predicted human mesh  (default suffix .human.ply)
    PRED_DIR/<frame key><object suffix>     predicted object mesh (default suffix .object.ply)
    GT_DIR/<frame key><gt human suffix>     ground truth, same camera frame as the prediction
    GT_DIR/<frame key><gt object suffix>

Frames are those of the ground truth; a frame without a prediction is skipped
and counted. Meshes are PLY or OBJ (loaded without processing, so the vertex
order that the alignments rely on is kept), in metres.

Example::

    python tools/evaluate_meshes.py --pred work_dirs/chore_meshes --gt data/behave_gt_meshes \\
        --human-suffix .smpl.ply --object-suffix .object.ply --category-regex 'Date\\d+_Sub\\d+_([a-z]+)' \\
        --out work_dirs/chore_scores.json
"""
import argparse
import json
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Tuple

import numpy as np
import trimesh
from tqdm import tqdm

from hoirecon.evaluation.functional import ALIGNMENTS
from hoirecon.evaluation.metrics import HOIChamferMetric


def load_mesh(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Read a PLY/OBJ mesh keeping the file's vertex order: ((V, 3) float64, (F, 3) int64)."""
    mesh = trimesh.load(path, process=False, force='mesh', maintain_order=True)
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ValueError(f'{path} is not a triangle mesh (no faces found)')
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)


def find_frames(gt_dir: str, human_suffix: str) -> List[str]:
    """Frame keys: paths under ``gt_dir`` ending in ``human_suffix``, relative and without the suffix."""
    keys = []
    for root, _, files in os.walk(gt_dir):
        for name in files:
            if name.endswith(human_suffix):
                keys.append(osp.relpath(osp.join(root, name), gt_dir)[:-len(human_suffix)])
    return sorted(keys)


def read_meshes(folder: str, key: str, human_suffix: str, object_suffix: str) -> Optional[Dict[str, np.ndarray]]:
    """Instance dict of one frame's meshes, or None when a file is missing."""
    paths = [osp.join(folder, key + suffix) for suffix in (human_suffix, object_suffix)]
    if not all(osp.isfile(p) for p in paths):
        return None
    (human_v, human_f), (object_v, object_f) = (load_mesh(p) for p in paths)
    return dict(human_vertices=human_v, human_faces=human_f, object_vertices=object_v, object_faces=object_f)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--pred', required=True, help='folder of predicted meshes')
    parser.add_argument('--gt', required=True, help='folder of ground-truth meshes')
    parser.add_argument('--align',
                        nargs='+',
                        default=list(ALIGNMENTS),
                        choices=ALIGNMENTS,
                        help='alignments to report (default: all)')
    parser.add_argument('--num-samples', type=int, default=10000, help='10000 (CHORE/StackFLOW) or 6000 (CONTHO)')
    parser.add_argument('--seed', type=int, default=7)
    parser.add_argument('--human-suffix', default='.human.ply')
    parser.add_argument('--object-suffix', default='.object.ply')
    parser.add_argument('--gt-human-suffix', help='default: --human-suffix')
    parser.add_argument('--gt-object-suffix', help='default: --object-suffix')
    parser.add_argument('--category-regex',
                        help='regex whose first group, searched in the frame key, is the object '
                        "category (per-category rows), e.g. 'Date\\d+_Sub\\d+_([a-z]+)'")
    parser.add_argument('--visibility', help='JSON file {frame key: object visibility ratio} for the vis rows')
    parser.add_argument('--visibility-threshold', type=float, default=0.3)
    parser.add_argument('--backend', default='auto', choices=['auto', 'kdtree', 'torch'])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-size', type=int, default=32, help='frames loaded and scored together')
    parser.add_argument('--out', help='JSON file for per-frame errors, summaries and protocol')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    for folder in (args.pred, args.gt):
        if not osp.isdir(folder):
            raise SystemExit(f'{folder} is not a folder')
    gt_human_suffix = args.gt_human_suffix or args.human_suffix
    gt_object_suffix = args.gt_object_suffix or args.object_suffix
    keys = find_frames(args.gt, gt_human_suffix)
    if not keys:
        raise SystemExit(f'no ground-truth mesh ending in {gt_human_suffix!r} under {args.gt} (see --gt-human-suffix)')
    visibility = {}
    if args.visibility:
        with open(args.visibility) as f:
            visibility = json.load(f)
    category = re.compile(args.category_regex) if args.category_regex else None

    metric = HOIChamferMetric(num_samples=args.num_samples,
                              seed=args.seed,
                              alignments=args.align,
                              visibility_threshold=args.visibility_threshold,
                              backend=args.backend,
                              device=args.device,
                              out_file=args.out)
    for first in tqdm(range(0, len(keys), args.batch_size), desc='frames', unit='batch'):
        samples = []
        for key in keys[first:first + args.batch_size]:
            match = category.search(key) if category else None
            samples.append(
                dict(img_id=key,
                     object_name=match.group(1) if match else None,
                     visibility=visibility.get(key),
                     pred_instances=read_meshes(args.pred, key, args.human_suffix, args.object_suffix),
                     gt_instances=read_meshes(args.gt, key, gt_human_suffix, gt_object_suffix)))
        metric.process(None, samples)
    metric.evaluate(len(keys))


if __name__ == '__main__':
    main()
