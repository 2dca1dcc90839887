"""Speed of the config's refiner (StackFLOW post-optimisation): images per second, batched vs one image at a time.

Builds the config's model (random weights: the refiner's cost does not depend on them) and refiner, makes a batch
of self-consistent people and objects with OpenPose-like keypoints and 4096 correspondences per image
(:func:`hoirecon.testing.hoi_batch.make_hoi_batch`), starts from a perturbed reconstruction and times
``num_stages x steps_per_stage`` Adam steps (BEHAVE: 2 x 150) on the whole batch, then the same refiner on
``--reference-images`` images one at a time (the per-image loop a naive implementation runs); prints images/s of
both and the ratio.

    python tools/analysis/benchmark_refiner.py configs/stackflow_synthetic.py --batch-size 32
    python tools/analysis/benchmark_refiner.py configs/stackflow_behave.py --batch-size 32 \\
        --cfg-options model.body_model.model_path=surrogate \\
        model.relation_encoder.pca_file=data/behave_synthetic/relation_pca_n32_64_d32.npz
    python tools/analysis/benchmark_refiner.py configs/stackflow_behave.py --device cuda --batch-size 32 ...
"""
import argparse
import time

import hoirecon  # noqa: F401  # isort: skip
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from hoirecon.models.utils import axis_angle_to_matrix
from hoirecon.apis import config_refiner
from hoirecon.objects import ObjectLibrary
from hoirecon.registry import MODELS, REFINERS
from hoirecon.testing.hoi_batch import make_hoi_batch


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Images per second of the config\'s refiner.')
    parser.add_argument('config')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--reference-images', type=int, default=2,
                        help='images refined one at a time for the reference rate (0 skips it)')
    parser.add_argument('--steps', type=int, default=None, help='override steps_per_stage (default: the config)')
    parser.add_argument('--correspondences', type=int, default=4096)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch default)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries')
    return parser.parse_args(argv)


def make_problem(model, batch_size: int, num_correspondences: int, device: str):
    """Feature, labels, a perturbed start, observations and camera of ``batch_size`` random images."""
    _, samples = make_hoi_batch(model.body_model, ObjectLibrary('behave'), batch_size=batch_size,
                                num_correspondences=num_correspondences, seed=0)
    gen = torch.Generator().manual_seed(0)
    gt = {k: torch.cat([s.gt_instances[k] for s in samples]) for k in
          ('betas', 'global_orient', 'body_pose', 'hoi_t', 'object_R', 'object_t')}
    init = dict(gt, hoi_t=gt['hoi_t'] + 0.05 * torch.randn(batch_size, 3, generator=gen),
                object_R=axis_angle_to_matrix(0.2 * torch.randn(batch_size, 3, generator=gen)) @ gt['object_R'],
                object_t=gt['object_t'] + 0.1 * torch.randn(batch_size, 3, generator=gen))
    observations = {k: torch.cat([s.observations[k] for s in samples]) for k in samples[0].observations.keys()}
    # make_hoi_batch's images are 512 x 384 (principal point at their centre): the width serves pixel_scale='auto'
    camera = dict(focal=torch.tensor([[500., 500.]]).repeat(batch_size, 1),
                  principal=torch.tensor([[256., 192.]]).repeat(batch_size, 1),
                  image_width=torch.full((batch_size, ), 512.0))
    labels = torch.cat([s.gt_instances.object_label for s in samples])
    feature_dim = model.head.feature_dim
    feature = torch.randn(batch_size, feature_dim, generator=gen)
    move = lambda d: {k: v.to(device) for k, v in d.items()}  # noqa: E731
    return dict(feature=feature.to(device), labels=labels.to(device), init=move(init),
                observations=move(observations), camera=move(camera))


def refine_timed(refiner, model, problem, index=None, device='cpu') -> tuple:
    """Wall-clock and process CPU seconds of one refinement of the problem's images (all, or image ``index``), the
    refinement problem built inside as ``predict`` does. On a shared machine the CPU seconds say what the wall clock
    would be with the cores to itself."""
    pick = slice(None) if index is None else slice(index, index + 1)
    args = {k: ({kk: vv[pick] for kk, vv in v.items()} if isinstance(v, dict) else v[pick])
            for k, v in problem.items()}
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    start, cpu_start = time.perf_counter(), time.process_time()
    refiner(model.refinement_problem(args['feature'], args['labels']), init=args['init'],
            observations=args['observations'], camera=args['camera'])
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    return time.perf_counter() - start, time.process_time() - cpu_start


def refine_seconds(refiner, model, problem, index=None, device='cpu') -> float:
    """Wall-clock seconds of :func:`refine_timed`."""
    return refine_timed(refiner, model, problem, index, device)[0]


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    init_default_scope('hoirecon')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    refiner_cfg = dict(config_refiner(cfg))
    if args.steps is not None:
        refiner_cfg['steps_per_stage'] = args.steps
    model = MODELS.build(cfg.model).to(args.device).eval()
    refiner = REFINERS.build(refiner_cfg)
    problem = make_problem(model, args.batch_size, args.correspondences, args.device)
    steps = refiner.num_stages * refiner.steps_per_stage
    print(f'{args.config}: refiner {refiner!r}')
    print(f'device {args.device}, torch threads {torch.get_num_threads()}, batch {args.batch_size}, {steps} steps, '
          f'{args.correspondences} correspondences per image')
    warm = REFINERS.build(dict(refiner_cfg, num_stages=1, steps_per_stage=2))
    refine_seconds(warm, model, problem, device=args.device)  # warm-up (allocations, lazy init)
    batched = refine_seconds(refiner, model, problem, device=args.device)
    rate = args.batch_size / batched
    print(f'batched:  {batched:.1f} s for {args.batch_size} images = {rate:.2f} images/s '
          f'({1000 * batched / steps:.1f} ms per step)')
    if args.reference_images:
        alone = sum(refine_seconds(refiner, model, problem, index=i, device=args.device)
                    for i in range(args.reference_images))
        reference = args.reference_images / alone
        print(f'one image at a time: {alone / args.reference_images:.1f} s per image = {reference:.2f} images/s')
        print(f'ratio batched / one at a time: x{rate / reference:.1f}')
    return rate


if __name__ == '__main__':
    main()
