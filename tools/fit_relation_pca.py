"""Fit StackFLOW's offset PCA (the ``OffsetPCA`` relation encoder) on a BEHAVE-layout training split.

Reads ``split.json``, each training sequence's ``info.json`` (object, gender) and every frame's
``person/fit02/person_fit.pkl`` and ``<obj>/fit01/<obj>_fit.pkl`` (world frame), turns them into object poses
relative to the human, and writes the per-object PCA as one ``.npz`` (docs/relation_encoders.md).

Example::

    python tools/fit_relation_pca.py --data-root data/behave --out data/behave/behave_offset_pca_n32_64_d32.npz
"""
import argparse

from hoirecon.apis.relation_pca import fit_relation_pca


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Fit the offset PCA of the OffsetPCA relation encoder.')
    parser.add_argument('--data-root', required=True, help='BEHAVE-layout root (split.json, sequences/, objects/)')
    parser.add_argument('--out', required=True, help='output .npz file')
    parser.add_argument('--split', default='train', choices=['train', 'test'], help='split of split.json to read')
    parser.add_argument('--template-dir',
                        help='object templates (default: DATA_ROOT/objects if present, else the '
                        'licence-free procedural templates)')
    parser.add_argument('--body-model-type', default='SMPLH', help='registered body model (BEHAVE: SMPLH)')
    parser.add_argument('--body-model-path', default='surrogate', help="body model folder, or 'surrogate'")
    parser.add_argument('--gender',
                        default='male',
                        help='gender of the body that carries the human anchors '
                        "(StackFLOW's predicted body: male for BEHAVE)")
    parser.add_argument('--pca-dim', type=int, default=32)
    parser.add_argument('--smpl-anchor-num', type=int, default=32, help='human anchors per body part')
    parser.add_argument('--object-anchor-num', type=int, default=64)
    parser.add_argument('--anchor-radius', type=float, default=0.02, help='object anchor spacing in metres')
    parser.add_argument('--max-samples-per-object', type=int, default=30000)
    parser.add_argument('--seed', type=int, default=7)
    parser.add_argument('--betas', default='refitted_male', choices=['refitted_male', 'raw'],
                        help="betas that pose the human anchors: 'refitted_male' (StackFLOW, as training encodes: a "
                        "female subject's shape refitted to the male body) or 'raw' (the subject's own betas)")
    parser.add_argument('--layout', default='behave', choices=['behave', 'behave_extended', 'intercap'],
                        help="behave: the 1 fps frames' fits (sequences/); behave_extended: the 30 fps fits "
                        '(behave-30fps-params-v1/); intercap: InterCap (give --body-model-type SMPLX --gender '
                        'neutral --anchor-radius 0.01 as StackFLOW)')
    args = parser.parse_args(argv)
    if not args.out.endswith('.npz'):
        parser.error(f'--out must end in .npz, got {args.out}')
    return args


def main(argv=None) -> str:
    args = parse_args(argv)
    return fit_relation_pca(args.data_root, args.out,
                            dict(type=args.body_model_type, model_path=args.body_model_path, gender=args.gender),
                            split=args.split,
                            template_dir=args.template_dir,
                            pca_dim=args.pca_dim,
                            smpl_anchor_num=args.smpl_anchor_num,
                            object_anchor_num=args.object_anchor_num,
                            anchor_radius=args.anchor_radius,
                            max_samples_per_object=args.max_samples_per_object,
                            seed=args.seed,
                            betas=args.betas,
                            layout=args.layout)


if __name__ == '__main__':
    main()
