"""Generate synthetic 30 fps human-object sequences in the BEHAVE-extended layout.

Example::

    python tools/make_synthetic_sequences.py --out data/synthetic_behave_extended
    python tools/make_synthetic_sequences.py --out /tmp/tiny_seq --num-sequences 2 --frames-per-sequence 12 \\
        --image-size 96 72 --kinects 0 1 --workers 1

The set always starts with Date03_Sub04_boxtiny written in two parts (Date03_Sub04_boxtiny and
Date03_Sub04_boxtiny_part2), which hoirecon.datasets.behave_extended_io merges back, as StackFLOW does.
Re-running the same command resumes an interrupted run. See docs/datasets.md, "Synthetic sequences
(BEHAVE-extended layout)".
"""
import argparse
import json
import time

from hoirecon.engine.threads import cpu_description
from hoirecon.synthetic import add_world_arguments, generate_synthetic_sequences


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate synthetic 30 fps sequences (smooth body and object motion, contact kept) in the '
        'BEHAVE-extended layout: behave-30fps-params-v1/<seq>/{smpl,object}_fit_all.npz, raw_images/, person_mask/, '
        'object_coor_maps_extend/, plus calibs/, objects/, sequences/<seq>/info.json and split.json. The default '
        'set (6 sequences x 150 frames x 4 kinects at 512x384, 3600 images) takes about 5 minutes on 2 CPU cores.')
    parser.add_argument('--out', required=True, help='output folder (new, empty, or a previous run to resume)')
    parser.add_argument('--num-sequences', type=int, default=6,
                        help='sequences, the two-part Date03_Sub04_boxtiny counted once (default 6)')
    parser.add_argument('--frames-per-sequence', type=int, default=150,
                        help='frames of each sequence at 30 fps, t0003.000, t0003.033, ... (default 150 = 5 s)')
    parser.add_argument('--seed', type=int, default=0,
                        help='global random seed (the output depends only on it and the other options)')
    add_world_arguments(parser, objects_help='BEHAVE objects to draw from (default: all 20; boxtiny is used by the '
                        'two-part sequence)')
    parser.add_argument('--kinects', type=int, nargs='+', default=(0, 1, 2, 3), choices=range(4), metavar='K',
                        help='cameras to render, 0..3 (default all four; calibrations of all four are written)')
    parser.add_argument('--no-split-pair', action='store_true',
                        help='do not write the two-part sequence Date03_Sub04_boxtiny(_part2)')
    parser.add_argument('--key-spacing', type=int, default=10,
                        help='frames between the IK key poses; the frames in between are spline-interpolated')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    summary = generate_synthetic_sequences(
        args.out, num_sequences=args.num_sequences, frames_per_sequence=args.frames_per_sequence, seed=args.seed,
        image_size=tuple(args.image_size), objects=args.objects, actions=args.actions, kinects=tuple(args.kinects),
        keypoint_noise_px=args.keypoint_noise, corr_noise_px=args.corr_noise, corr_outlier_ratio=args.corr_outliers,
        corr_num_points=args.corr_points,
        test_fraction=args.test_fraction, split_pair=not args.no_split_pair, key_spacing=args.key_spacing,
        workers=args.workers, body_model_root=args.body_model_root)
    summary.pop('sequences')
    summary['cpu'] = cpu_description()
    print(json.dumps(summary, indent=1))
    print(f'{summary["generated_frames"]} frames generated in {time.time() - start:.1f} s with {args.workers} '
          f'worker(s) on {summary["cpu"]}')


if __name__ == '__main__':
    main()
