"""Generate synthetic 30 fps human-object sequences in the BEHAVE-extended or the InterCap layout.

Example::

    python tools/make_synthetic_sequences.py --out data/synthetic_behave_extended
    python tools/make_synthetic_sequences.py --out /tmp/tiny_seq --num-sequences 2 --frames-per-sequence 12 \\
        --image-size 96 72 --kinects 0 1 --workers 1
    python tools/make_synthetic_sequences.py --layout intercap --out data/synthetic_intercap
    python tools/make_synthetic_sequences.py --layout intercap --out /tmp/tiny_ic --num-sequences 2 \\
        --frames-per-sequence 10 --image-size 160 90 --cameras 1 2 --workers 1

BEHAVE-extended: the set always starts with Date03_Sub04_boxtiny written in two parts (Date03_Sub04_boxtiny and
Date03_Sub04_boxtiny_part2), which hoirecon.datasets.behave_extended_io merges back, as StackFLOW does.
InterCap: RGBD_Images/, Res/ (SMPL-X res_1.pkl, res_2.pkl, Mesh/), mask/, object_coor_maps/, openpose/,
Data/calibration_third/, objs/, intercap_split.json, read by hoirecon.datasets.intercap_io.
Re-running the same command resumes an interrupted run. See docs/datasets.md and docs/synthetic_world.md
("Synthetic sequences").
"""
import argparse
import json
import time

from hoirecon.engine.threads import cpu_description
from hoirecon.objects.catalogue import BEHAVE_OBJECTS, INTERCAP_OBJECTS
from hoirecon.synthetic import add_world_arguments, generate_synthetic_intercap, generate_synthetic_sequences

#: Per-layout defaults of the options whose default differs.
LAYOUT_DEFAULTS = {
    'behave_extended': dict(num_sequences=6, frames_per_sequence=150, image_size=(512, 384), test_fraction=1 / 6),
    'intercap': dict(num_sequences=4, frames_per_sequence=120, image_size=(480, 270), test_fraction=0.2),
}
#: Options that only one layout has (an explicit value for the other layout is an error).
BEHAVE_ONLY = ('kinects', 'no_split_pair', 'corr_noise', 'corr_outliers', 'corr_points')
INTERCAP_ONLY = ('cameras', )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate synthetic 30 fps sequences (smooth body and object motion, contact kept). '
        '--layout behave_extended (default): behave-30fps-params-v1/<seq>/{smpl,object}_fit_all.npz, raw_images/, '
        'person_mask/, object_coor_maps_extend/, openpose/, plus calibs/, objects/, sequences/<seq>/info.json and '
        'split.json; the default set (6 sequences x 150 frames x 4 kinects at 512x384, 3600 images) takes about 6 '
        'minutes on 2 CPU cores. --layout intercap: RGBD_Images/, Res/ (neutral SMPL-X res_1.pkl with 12 PCA hand '
        'components, res_2.pkl, Mesh/), mask/, object_coor_maps/, openpose/, Data/calibration_third/, objs/, '
        'intercap_split.json; the default set (4 sequences x 120 frames x 6 cameras at 480x270, 2880 images) takes '
        'about 6 minutes on 2 shared CPU cores.')
    parser.add_argument('--out', required=True, help='output folder (new, empty, or a previous run to resume)')
    parser.add_argument('--layout', choices=sorted(LAYOUT_DEFAULTS), default='behave_extended',
                        help='on-disk layout to write (default behave_extended)')
    parser.add_argument('--num-sequences', type=int, default=None,
                        help='sequences (default 6; BEHAVE-extended counts the two-part Date03_Sub04_boxtiny once)')
    parser.add_argument('--frames-per-sequence', type=int, default=None,
                        help='frames of each sequence at 30 fps (default 150 = 5 s BEHAVE-extended, 120 = 4 s '
                        'InterCap)')
    parser.add_argument('--seed', type=int, default=0,
                        help='global random seed (the output depends only on it and the other options)')
    add_world_arguments(parser, objects_help='objects to draw from (default: all of the layout\'s dataset, BEHAVE\'s '
                        '20 or InterCap\'s 10; BEHAVE-extended adds boxtiny for the two-part sequence)',
                        object_choices=BEHAVE_OBJECTS + INTERCAP_OBJECTS, image_size_default=None,
                        image_size_help='image size in pixels; the dataset\'s intrinsics are scaled to it (default '
                        '512 384 BEHAVE-extended, 480 270 InterCap = a quarter of 1920x1080 per side)')
    parser.set_defaults(test_fraction=None, corr_noise=None, corr_outliers=None, corr_points=None)
    parser.add_argument('--kinects', type=int, nargs='+', default=None, choices=range(4), metavar='K',
                        help='BEHAVE-extended: cameras to render, 0..3 (default all four; calibrations of all four '
                        'are written)')
    parser.add_argument('--cameras', type=int, nargs='+', default=None, choices=range(1, 7), metavar='C',
                        help='InterCap: cameras to render, 1..6 (default all six; calibrations of all six are '
                        'written)')
    parser.add_argument('--no-split-pair', action='store_true', default=None,
                        help='BEHAVE-extended: do not write the two-part sequence Date03_Sub04_boxtiny(_part2)')
    parser.add_argument('--key-spacing', type=int, default=10,
                        help='frames between the IK key poses; the frames in between are spline-interpolated')
    args = parser.parse_args(argv)
    other = INTERCAP_ONLY if args.layout == 'behave_extended' else BEHAVE_ONLY
    given = [name for name in other if getattr(args, name) is not None]
    if given:
        parser.error(f'--layout {args.layout} has no option(s) ' +
                     ', '.join('--' + name.replace('_', '-') for name in given))
    names = BEHAVE_OBJECTS if args.layout == 'behave_extended' else INTERCAP_OBJECTS
    wrong = [name for name in args.objects or () if name not in names]
    if wrong:
        parser.error(f'--layout {args.layout}: objects {wrong} are not among {list(names)}')
    for key, value in LAYOUT_DEFAULTS[args.layout].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    shared = dict(num_sequences=args.num_sequences, frames_per_sequence=args.frames_per_sequence, seed=args.seed,
                  image_size=tuple(args.image_size), objects=args.objects, actions=args.actions,
                  test_fraction=args.test_fraction, key_spacing=args.key_spacing, workers=args.workers,
                  body_model_root=args.body_model_root)
    if args.layout == 'intercap':
        summary = generate_synthetic_intercap(args.out, cameras=tuple(args.cameras or range(1, 7)),
                                              keypoint_noise_px=args.keypoint_noise, **shared)
    else:
        summary = generate_synthetic_sequences(
            args.out, kinects=tuple(args.kinects or range(4)),
            keypoint_noise_px=args.keypoint_noise,
            corr_noise_px=1.0 if args.corr_noise is None else args.corr_noise,
            corr_outlier_ratio=0.1 if args.corr_outliers is None else args.corr_outliers,
            corr_num_points=1024 if args.corr_points is None else args.corr_points,
            split_pair=not args.no_split_pair, **shared)
    summary.pop('sequences')
    summary['cpu'] = cpu_description()
    print(json.dumps(summary, indent=1))
    print(f'{summary["generated_frames"]} frames generated in {time.time() - start:.1f} s with {args.workers} '
          f'worker(s) on {summary["cpu"]}')


if __name__ == '__main__':
    main()
