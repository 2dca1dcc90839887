"""Speed of the sequence smoothing refiner: frames per second on one window, next to StackFLOWRefiner on the same
frames in the same run.

Builds the config's model (random weights: the refiners' cost does not depend on them), makes ``--frames`` frames
with OpenPose-like keypoints and ``--correspondences`` correspondences each
(:func:`tools.analysis.benchmark_refiner.make_problem`) and times, on the same frames and from the same start:

- ``SequenceSmoothingRefiner``: the config's per-frame refiner settings (``refiner``: weights, pixel scale, PnP
  start, optimised variables) with the sequence settings of ``--sequence-base`` (window, stride, smoothness weight,
  stages x steps, lr; default the BEHAVE-extended base, 2 x 100 steps);
- ``StackFLOWRefiner`` with the same per-frame settings and the same stages x steps, lr and object start.

The object starts from the given reconstruction (the base's ``object_init=None``): the sequence refiner runs on the
per-frame post-optimised result, whose PnP start (about 0.5-1 s per frame here) is not part of its cost.

It prints the CPU (``lscpu``), the load average, the torch threads, frames/s of both and their ratio.

    python tools/analysis/benchmark_sequence_refiner.py configs/stackflow_synthetic.py --threads 2
    python tools/analysis/benchmark_sequence_refiner.py configs/stackflow_synthetic.py \\
        --sequence-base configs/_base_/refiners/sequence_intercap.py
    python tools/analysis/benchmark_sequence_refiner.py configs/stackflow_synthetic.py --device cuda
"""
import argparse
import os
import os.path as osp
import sys

import hoirecon  # noqa: F401  # isort: skip
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from hoirecon.apis import config_refiner
from hoirecon.engine.threads import cpu_description
from hoirecon.registry import MODELS, REFINERS

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from benchmark_refiner import make_problem, refine_timed  # noqa: E402

#: What the sequence base sets; everything else comes from the config's per-frame refiner. ``object_init`` too: the
#: sequence refiner starts from the per-frame post-optimised reconstruction (no second PnP start; the base's None).
SEQUENCE_KEYS = ('type', 'window', 'stride', 'smooth_weight', 'smooth_terms', 'anneal_smoothness', 'num_stages',
                 'steps_per_stage', 'lr', 'object_init')
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Frames per second of the sequence smoothing refiner.')
    parser.add_argument('config', nargs='?', default=osp.join(REPO_ROOT, 'configs', 'stackflow_synthetic.py'))
    parser.add_argument('--sequence-base',
                        default=osp.join(REPO_ROOT, 'configs', '_base_', 'refiners', 'sequence_behave_extended.py'),
                        help='config whose `sequence_refiner` gives the sequence settings')
    parser.add_argument('--frames', type=int, default=128, help='frames of the sequence (128: one window)')
    parser.add_argument('--steps', type=int, default=None, help='override steps_per_stage (default: the base)')
    parser.add_argument('--correspondences', type=int, default=4096)
    parser.add_argument('--image-width', type=float, default=512.0,
                        help="image width, pixels (for pixel_scale='auto'); the synthetic images are 512 wide")
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch default)')
    parser.add_argument('--skip-stackflow', action='store_true', help='time the sequence refiner only')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    init_default_scope('hoirecon')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    frame_cfg = {key: value for key, value in dict(config_refiner(cfg)).items() if key != 'type'}
    base = Config.fromfile(args.sequence_base).sequence_refiner
    sequence_cfg = dict(frame_cfg, **{key: base[key] for key in SEQUENCE_KEYS if key in base})
    if args.steps is not None:
        sequence_cfg['steps_per_stage'] = args.steps
    stackflow_cfg = dict(frame_cfg, type='StackFLOWRefiner',
                         **{key: sequence_cfg[key] for key in ('num_stages', 'steps_per_stage', 'lr', 'object_init')})
    model = MODELS.build(cfg.model).to(args.device).eval()
    problem = make_problem(model, args.frames, args.correspondences, args.device)
    problem['camera']['image_width'] = torch.full((args.frames, ), args.image_width, device=args.device)
    sequence = REFINERS.build(sequence_cfg)
    stackflow = REFINERS.build(stackflow_cfg)
    steps = sequence.num_stages * sequence.steps_per_stage
    load = ', '.join(f'{value:.2f}' for value in os.getloadavg())
    print(f'{args.config}: {sequence!r}')
    print(f'CPU: {cpu_description()}, load average {load} (1/5/15 min)')
    print(f'device {args.device}, torch threads {torch.get_num_threads()}, {args.frames} frames, {steps} steps, '
          f'{args.correspondences} correspondences per frame')
    # warm-up (allocations, lazy init)
    warm_up = REFINERS.build(dict(sequence_cfg, num_stages=1, steps_per_stage=2))
    refine_timed(warm_up, model, problem, device=args.device)
    seconds, cpu = refine_timed(sequence, model, problem, device=args.device)
    rate = args.frames / seconds
    threads = torch.get_num_threads()
    print(f'SequenceSmoothingRefiner: {seconds:.1f} s for {args.frames} frames = {rate:.2f} frames/s '
          f'({1000 * seconds / steps:.1f} ms per step); {cpu:.1f} CPU s = {args.frames * threads / cpu:.2f} '
          f'frames/s if its {threads} threads had free cores (frames x threads / CPU s, an estimate)')
    if not args.skip_stackflow:
        reference, reference_cpu = refine_timed(stackflow, model, problem, device=args.device)
        print(f'StackFLOWRefiner (same frames, settings, steps): {reference:.1f} s = '
              f'{args.frames / reference:.2f} frames/s ({1000 * reference / steps:.1f} ms per step); '
              f'{reference_cpu:.1f} CPU s')
        print(f'ratio sequence / per-frame: x{rate / (args.frames / reference):.2f} (wall clock), '
              f'x{reference_cpu / cpu:.2f} (CPU time)')
    print(f'load average after: {", ".join(f"{value:.2f}" for value in os.getloadavg())}')
    return rate


if __name__ == '__main__':
    main()
