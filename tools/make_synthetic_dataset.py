"""Generate a synthetic HOI dataset in the real BEHAVE on-disk layout.

Example::

    python tools/make_synthetic_dataset.py --out data/synthetic_behave
    python tools/make_synthetic_dataset.py --out /tmp/tiny --num-sequences 4 --frames-per-sequence 2 \\
        --image-size 128 96 --objects stool chairwood --workers 1

Re-running the same command resumes an interrupted run (finished frames are
skipped). See docs/synthetic_world.md for the layout and the conventions.
"""
import argparse
import json

from hoirecon.synthetic import add_world_arguments, generate_synthetic_behave


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate a synthetic dataset in the BEHAVE layout.')
    parser.add_argument('--out', required=True, help='output folder (new, empty, or a previous run to resume)')
    parser.add_argument('--num-sequences', type=int, default=156,
                        help='sequences (default 156: with 4 frames and 1/6 test, 2080 train / 416 test images)')
    parser.add_argument('--frames-per-sequence', type=int, default=4, help='frames per sequence (t0003.000, ...)')
    parser.add_argument('--seed', type=int, default=0, help='global random seed (the output depends only on it and '
                        'the other parameters)')
    add_world_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    summary = generate_synthetic_behave(
        args.out, num_sequences=args.num_sequences, frames_per_sequence=args.frames_per_sequence, seed=args.seed,
        image_size=tuple(args.image_size), objects=args.objects, actions=args.actions,
        keypoint_noise_px=args.keypoint_noise, corr_noise_px=args.corr_noise, corr_outlier_ratio=args.corr_outliers,
        corr_num_points=args.corr_points, test_fraction=args.test_fraction, workers=args.workers,
        body_model_root=args.body_model_root)
    summary.pop('sequences')
    print(json.dumps(summary, indent=1))


if __name__ == '__main__':
    main()
