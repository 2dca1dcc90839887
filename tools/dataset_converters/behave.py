"""Build the BEHAVE annotation cache (``annotations/behave_<split>.npz`` + ``.json``) in one pass; with
``--layout behave_extended`` the BEHAVE-extended (30 fps) one (``annotations/behave_extended_<split>.npz``), with
``--layout intercap`` InterCap's (``annotations/intercap_<split>.npz``, cameras 1-6, neutral SMPL-X targets).

``BEHAVEFrameDataset`` / ``BEHAVEExtendedDataset`` build a missing cache by themselves; run this to build it ahead of
training (e.g. once before a multi-GPU job), to rebuild it after changing the data, or to use other kinects /
body-model files.

Example::

    python tools/dataset_converters/behave.py --data-root data/behave --split train test
    python tools/dataset_converters/behave.py --data-root data/behave --kinects 1 --out data/behave/annotations_k1
    python tools/dataset_converters/behave.py --data-root data/behave --layout behave_extended --split test --kinects 0
"""
import argparse
import os.path as osp

from hoirecon.datasets.annotations import DEFAULT_BODY_MODEL, DEFAULT_FIT_CFG, annotation_files, build_annotations
from hoirecon.datasets.frame_sources import FRAME_SOURCES, frame_source


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Build the annotation cache used by BEHAVEFrameDataset '
                                     '(BEHAVEExtendedDataset, InterCapDataset with --layout).')
    parser.add_argument('--data-root', required=True, help='dataset root (BEHAVE: calibs/, objects/, sequences/, '
                        'split.json; InterCap: RGBD_Images/, Res/, Data/calibration_third/)')
    parser.add_argument('--split', nargs='+', default=['train', 'test'], help='splits to convert')
    parser.add_argument('--kinects', nargs='+', type=int, default=None,
                        help='cameras to include (default: BEHAVE kinects 0-3, InterCap cameras 1-6)')
    parser.add_argument('--out', help='output folder (default: DATA_ROOT/annotations)')
    parser.add_argument('--body-model-path', default=DEFAULT_BODY_MODEL['model_path'],
                        help="folder with smplh/SMPLH_*.pkl (InterCap: smplx/SMPLX_*.npz), or 'surrogate' "
                        '(licence-free stand-in)')
    parser.add_argument('--fit-steps', type=int, default=DEFAULT_FIT_CFG['steps'],
                        help='Adam steps of the male-betas fit for female subjects')
    parser.add_argument('--workers', type=int, default=4, help='threads reading masks')
    parser.add_argument('--layout', choices=sorted(FRAME_SOURCES), default='behave',
                        help='behave: the 1 fps frames (sequences/); behave_extended: the 30 fps fits '
                        '(behave-30fps-params-v1/, raw_images/, person_mask/, object_coor_maps_extend/); intercap: '
                        'InterCap (neutral SMPL-X targets)')
    args = parser.parse_args(argv)
    if not osp.isdir(args.data_root):
        parser.error(f'--data-root {args.data_root} is not a folder (see docs/datasets.md for the layouts).')
    valid = range(1, 7) if args.layout == 'intercap' else range(0, 4)
    if args.kinects is None:
        args.kinects = list(valid)
    bad = [k for k in args.kinects if k not in valid]
    if bad:
        parser.error(f'--kinects must be in {valid.start}..{valid.stop - 1} for the {args.layout} layout, got {bad}.')
    return args


def main(argv=None) -> list:
    """Build every requested split; returns the written ``.npz`` paths."""
    args = parse_args(argv)
    source = frame_source(args.layout, args.data_root)
    body_model = dict(getattr(source, 'body_model', DEFAULT_BODY_MODEL), model_path=args.body_model_path)
    paths = []
    for split in args.split:
        paths.append(build_annotations(args.data_root, split, args.kinects, body_model, args.out,
                                       fit_cfg=dict(steps=args.fit_steps), workers=args.workers, source=source))
        sidecar = annotation_files(osp.dirname(paths[-1]), split, source.name)[1]
        print(f'{split}: {paths[-1]} (parameters in {sidecar})')
    return paths


if __name__ == '__main__':
    main()
