"""Render StackFLOW-AUG samples from a config's training fits (docs/datasets.md, "Augmentation renders").

For every training frame of the config's dataset (read through its annotation cache), the body (the config's
``body_model``: the real SMPL-H files when you have them, else the licence-free surrogate) and the object template
are posed from the ground truth, seen by a ring of virtual cameras around the person at the real camera's distance
and height, rendered offscreen (pyrender, EGL) and composited on backgrounds, then written in StackFLOW's
``rendered_images/<seq>/<frame>/<avatar>/k{cc}_*`` layout. Re-running resumes (finished frames are skipped).

Examples::

    python tools/render_augmentation.py configs/stackflow_synthetic_aug.py            # data/behave_synthetic
    python tools/render_augmentation.py configs/stackflow_behave_aug.py --background-dir \\
        data/VOCdevkit/VOC2012/JPEGImages
    python tools/render_augmentation.py configs/stackflow_synthetic_aug.py --limit 30 --out /tmp/aug
"""
import argparse
import json
import os.path as osp

from mmengine.config import Config, DictAction

from hoirecon.datasets.behave_augmentation import AUG_IMAGE_SIZE, AUG_VIEWS

DESCRIPTION = (
    "Render StackFLOW-AUG samples (the paper's best row) from the training fits of CONFIG's dataset. The official "
    'renders pose 8 SCANimate clothed avatars, which are not available: these renders pose the config\'s body model '
    '(real SMPL-H files when present, else the licence-free surrogate) with random clothing colours per body part and '
    'no clothing geometry, composited on images of --background-dir (e.g. PASCAL VOC) or on procedural backgrounds.')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument('config', help='training config (its train dataset and body_model; its augmentation_renders '
                        'entry gives the defaults of the options below)')
    parser.add_argument('--out', help='output folder (default: DATA_ROOT/<render_dir>, i.e. where the config reads)')
    parser.add_argument('--views', type=int, help=f'virtual cameras per frame (default {AUG_VIEWS})')
    parser.add_argument('--limit', type=int, help='render only the first N frames (sorted by sequence and frame)')
    parser.add_argument('--image-size', type=int, nargs=2, metavar=('W', 'H'),
                        help=f'image size; the fixed intrinsics (fx 979.78 at {AUG_IMAGE_SIZE[0]} px) are scaled to '
                        f'it (default: the config\'s, else {AUG_IMAGE_SIZE[0]} {AUG_IMAGE_SIZE[1]})')
    parser.add_argument('--background-dir', help='folder of background images (default: the config\'s, else '
                        'procedural backgrounds)')
    parser.add_argument('--split', default='train', help='split of split.json to render (default train)')
    parser.add_argument('--seed', type=int, default=0, help='seed of clothing colours, lights and backgrounds')
    parser.add_argument('--data-root', help="the folder that stands for the config's data/ (as tools/train.py)")
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries')
    return parser.parse_args(argv)


def render_settings(cfg: Config, args: argparse.Namespace) -> dict:
    """The arguments of :func:`hoirecon.synthetic.augmentation_renders.render_augmentation` from the config and the
    options (an option wins over the config's ``augmentation_renders`` entry)."""
    dataset = cfg.train_dataloader.dataset
    if 'data_root' not in dataset:
        raise ValueError(f'{args.config}: train_dataloader.dataset has no data_root; give a BEHAVE-layout training '
                         'config such as configs/stackflow_synthetic_aug.py or configs/stackflow_behave_aug.py.')
    renders = dict(cfg.get('augmentation_renders') or {})
    default_dir = renders.get('render_dir', 'rendered_images')
    render_dir = dict(dataset.get('augmentation') or {}).get('render_dir', default_dir)
    image_size = args.image_size or renders.get('image_size') or AUG_IMAGE_SIZE
    return dict(data_root=dataset.data_root, body_model=dict(dataset.get('body_model', cfg.get('body_model'))),
                out_dir=args.out or osp.join(dataset.data_root, render_dir), split=args.split,
                kinects=tuple(dataset.get('kinects', (0, 1, 2, 3))),
                views=args.views or renders.get('views', AUG_VIEWS), image_size=tuple(image_size), limit=args.limit,
                background_dir=args.background_dir or renders.get('background_dir'), seed=args.seed,
                progress=not args.no_progress)


def main(argv=None) -> dict:
    args = parse_args(argv)
    from hoirecon.apis.prepare import prepare_synthetic_data
    from hoirecon.synthetic.augmentation_renders import render_augmentation
    from hoirecon.utils.paths import resolve_data_paths

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    resolve_data_paths(cfg, args.data_root)
    settings = render_settings(cfg, args)
    synthetic = cfg.train_dataloader.dataset.get('synthetic')
    if synthetic is not None:  # the synthetic world of the config, generated (or resumed) when missing
        prepare_synthetic_data(settings['data_root'], dict(synthetic))
    summary = render_augmentation(**settings)
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == '__main__':
    main()
