"""Reconstruct the person and object(s) of one image: meshes, a GLB scene, overlay / side-view pictures and JSON.

Examples (from the repository root)::

    # a synthetic test image with the checkpoint of the main command (docs/demo.md)
    python tools/demo.py data/behave_synthetic/sequences/SEQ/t0003.000/k1.color.jpg \\
        --config configs/stackflow_synthetic.py --checkpoint work_dirs/stackflow_synthetic/epoch_12.pth \\
        --object backpack --person-mask .../k1.person_mask.jpg --object-mask .../k1.obj_rend_mask.jpg \\
        --keypoints .../k1.color.json --correspondences data/behave_synthetic/epro_pnp/SEQ/t0003.000/k1.obj_coor.pkl \\
        --intrinsics 488 488 255.5 191.5 --hypotheses 6 --refine --out work_dirs/demo
    # StackFLOW's demo files: *.color.jpg, *.person_mask.jpg, *.color_keypoints.json, *.object_coor.<obj>.pkl
    python tools/demo.py IMG.color.jpg --config configs/stackflow_behave.py --checkpoint CKPT --object chairwood \\
        --person-mask IMG.person_mask.jpg --keypoints IMG.color_keypoints.json \\
        --correspondences IMG.object_coor.chairwood.pkl --template chairwood.ply --refine --out out/

    # nothing but the image, the object's box and two checkpoints: keypoints detected (pip install -e ".[keypoints]"),
    # the object's correspondences predicted by a correspondence network (docs/correspondence.md)
    python tools/demo.py IMG.jpg --config configs/stackflow_synthetic.py --checkpoint CKPT --object boxlarge \
        --object-bbox 210,180,260,230 --correspondence-checkpoint work_dirs/cdpn_synthetic/epoch_6.pth \
        --keypoints auto --refine --out out/

``--object`` may repeat (one person with several objects); ``--object-mask``, ``--object-bbox``,
``--correspondences`` and ``--template`` then repeat in the same order (give ``-`` to skip one). With
``--correspondence-checkpoint`` every object without a ``--correspondences`` file gets the network's
(written to ``OUT/correspondences/``).

The arguments and input files are checked before torch and the model are imported (a mistake costs a second, not
twenty), and an input error prints one line (``--debug`` shows the traceback).
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import sys
import time

from mmengine.config import DictAction


class MissingExtra(RuntimeError):
    """An option needs an optional extra that is not installed."""


#: Errors of the user's input: printed as one line by the command line (``--debug``: the traceback).
INPUT_ERRORS = (FileNotFoundError, ValueError, KeyError, MissingExtra)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Single-image HOI reconstruction demo.')
    parser.add_argument('image', help='RGB image (e.g. *.color.jpg)')
    parser.add_argument('--config', required=True, help='model config, e.g. configs/stackflow_synthetic.py')
    parser.add_argument('--checkpoint', required=True, help='trained checkpoint (.pth)')
    parser.add_argument('--object', action='append', required=True, metavar='NAME',
                        help='object category; repeat for several objects held by the same person')
    parser.add_argument('--person-mask', help='person mask (white = person); gives the person box')
    parser.add_argument('--bbox', nargs=4, type=float, metavar=('X0', 'Y0', 'X1', 'Y1'),
                        help='person box in pixels when there is no --person-mask')
    parser.add_argument('--object-mask', action='append', metavar='MASK', help="object mask, per --object ('-': none)")
    parser.add_argument('--object-bbox', action='append', metavar='X0,Y0,X1,Y1',
                        help="object box in pixels, per --object ('-': none)")
    parser.add_argument('--keypoints', metavar='JSON|auto',
                        help='OpenPose BODY_25 JSON of the person (OpenPose or BEHAVE layout), or "auto" to detect '
                        'them (MediaPipe BlazePose; pip install -e ".[keypoints]"); without a mask or --bbox they '
                        'also give the person box')
    parser.add_argument('--correspondences', action='append', metavar='PKL',
                        help="EPro-PnP-style x3d/x2d/w2d pickle, per --object ('-': none)")
    parser.add_argument('--correspondence-checkpoint', metavar='CKPT',
                        help='a correspondence network (tools/train.py configs/correspondence/*.py) that predicts '
                        'the object correspondences of the objects without --correspondences, from their box')
    parser.add_argument('--correspondence-config', metavar='CONFIG',
                        help='its config (default: the one saved in the checkpoint)')
    parser.add_argument('--template', action='append', metavar='MESH',
                        help="object mesh (PLY/OBJ) to show and export, per --object ('-': library template)")
    parser.add_argument('--intrinsics', nargs=4, type=float, metavar=('FX', 'FY', 'CX', 'CY'),
                        help='camera intrinsics in pixels, in this order (StackFLOW writes [cx, cy, fx, fy]: prefer '
                        '--fx/--fy/--cx/--cy or --calibration); default: a BEHAVE-like camera, with a note')
    for name in ('fx', 'fy', 'cx', 'cy'):
        parser.add_argument(f'--{name}', type=float, help=f'{name} in pixels (all four together)')
    parser.add_argument('--calibration', help='BEHAVE calibs/intrinsics/<k>/calibration.json instead of --intrinsics')
    parser.add_argument('--hypotheses', type=int, default=0, metavar='K',
                        help='also draw K samples from the flows, with their log-likelihoods')
    parser.add_argument('--refine', action='store_true', help="apply the config's refiner (StackFLOW post-opt.)")
    parser.add_argument('--seed', type=int, default=0, help='seed of the flow hypotheses (the same files every run)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--side-angle', type=float, default=90.0, help='turn of the side view, degrees')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: HOIRECON_NUM_THREADS, else every core this process may use)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. refiner.pixel_scale=1.0 refiner.steps_per_stage=50')
    parser.add_argument('--data-root', metavar='DIR',
                        help="folder that stands for the config's data/ (default: $HOIRECON_DATA_ROOT, else ./data "
                        'when it exists, else the data/ of the hoirecon checkout)')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    return parser.parse_args(argv)


def check_inputs(args) -> None:
    """Fail fast, before the model is imported: every named file exists, per-object options fit ``--object``, one
    camera source, numbers in range. Raises FileNotFoundError / ValueError naming the option."""
    count = len(args.object)
    files = [('image', args.image), ('--config', args.config), ('--checkpoint', args.checkpoint),
             ('--person-mask', args.person_mask), ('--calibration', args.calibration),
             ('--correspondence-checkpoint', args.correspondence_checkpoint),
             ('--correspondence-config', args.correspondence_config)]
    if args.keypoints != 'auto':
        files.append(('--keypoints', args.keypoints))
    elif importlib.util.find_spec('mediapipe') is None:
        raise MissingExtra('--keypoints auto needs the optional keypoint detector (MediaPipe BlazePose): '
                           'pip install -e ".[keypoints]", or pass an OpenPose BODY_25 JSON file.')
    for flag in ('object_mask', 'correspondences', 'template'):
        values = _per_object(getattr(args, flag), count, '--' + flag.replace('_', '-'))
        files += [(f"--{flag.replace('_', '-')} of {name}", path) for name, path in zip(args.object, values)]
    boxes = _per_object(args.object_bbox, count, '--object-bbox')
    if args.correspondence_checkpoint is not None:
        masks = _per_object(args.object_mask, count, '--object-mask')
        corrs = _per_object(args.correspondences, count, '--correspondences')
        unboxed = [name for name, mask, box, corr in zip(args.object, masks, boxes, corrs)
                   if corr is None and mask is None and box is None]
        if unboxed:
            raise ValueError(f'--correspondence-checkpoint predicts from the object box: give --object-mask or '
                             f'--object-bbox for {", ".join(unboxed)} (or its --correspondences file).')
    elif args.correspondence_config is not None:
        raise ValueError('--correspondence-config goes with --correspondence-checkpoint.')
    for what, path in files:
        if path is not None and not osp.isfile(path):
            hint = ' (train one with tools/train.py)' if what == '--checkpoint' else ''
            raise FileNotFoundError(f'{what} {path}: no such file{hint}.')
    if args.person_mask is None and args.bbox is None and args.keypoints is None:
        raise ValueError('the person needs a box: pass --person-mask MASK (e.g. *.person_mask.jpg), --bbox x0 y0 '
                         'x1 y1 (pixels) around the person (and the object), or keypoints (--keypoints FILE or auto).')
    if args.hypotheses < 0:
        raise ValueError(f'--hypotheses must be >= 0, got {args.hypotheses}.')
    _camera_source(args)


def _camera_source(args) -> str:
    """Which of --intrinsics, --fx/--fy/--cx/--cy and --calibration gives the camera ('' for none)."""
    named = [getattr(args, key) for key in ('fx', 'fy', 'cx', 'cy')]
    given = [flag for flag, value in (('--intrinsics', args.intrinsics), ('--fx/--fy/--cx/--cy', any(
        v is not None for v in named)), ('--calibration', args.calibration)) if value]
    if len(given) > 1:
        raise ValueError(f'give the camera once: {" and ".join(given)} were both given.')
    if any(v is not None for v in named) and any(v is None for v in named):
        raise ValueError('--fx, --fy, --cx and --cy go together; missing: '
                         + ', '.join(f'--{k}' for k, v in zip(('fx', 'fy', 'cx', 'cy'), named) if v is None))
    return given[0] if given else ''


def _per_object(values, count: int, flag: str):
    """Align a repeated per-object option with --object ('-' = none)."""
    values = list(values or [])
    if len(values) > count:
        raise ValueError(f'{flag} was given {len(values)} times but there are {count} --object entries.')
    values += [None] * (count - len(values))
    return [None if v in (None, '-') else v for v in values]


def _objects(args) -> list:
    from hoirecon.apis.inference import ObjectInput

    count = len(args.object)
    masks = _per_object(args.object_mask, count, '--object-mask')
    boxes = _per_object(args.object_bbox, count, '--object-bbox')
    corrs = _per_object(args.correspondences, count, '--correspondences')
    templates = _per_object(args.template, count, '--template')
    objects = []
    for name, mask, box, corr, template in zip(args.object, masks, boxes, corrs, templates):
        if box is not None:
            try:
                box = [float(v) for v in box.split(',')]
            except ValueError as err:
                raise ValueError(f'--object-bbox {box!r}: expected X0,Y0,X1,Y1 numbers.') from err
        objects.append(ObjectInput(name, mask, corr, template, box))
    return objects


def _predict_correspondences(args, objects) -> list:
    """Run the correspondence network on every object without a correspondence file; write its rows to
    ``OUT/correspondences/<i>_<name>.obj_coor.pkl`` and point the object at them. Returns notes."""
    import pickle

    from hoirecon.apis.correspondence import (build_correspondence_model, correspondence_config,
                                              correspondence_summary, predict_correspondences)
    from hoirecon.apis.inference import intrinsics_matrix, mask_file_box
    from hoirecon.datasets.behave_io import load_image

    cfg = correspondence_config(args.correspondence_checkpoint, args.correspondence_config)
    model = build_correspondence_model(cfg, args.correspondence_checkpoint, args.device)
    image = load_image(args.image)
    height, width = image.shape[:2]
    K = intrinsics_matrix(args.intrinsics, (width, height), [])
    folder = osp.join(args.out, 'correspondences')
    os.makedirs(folder, exist_ok=True)
    notes = []
    for index, obj in enumerate(objects):
        if obj.correspondences_path is not None:
            continue
        box = obj.bbox if obj.bbox is not None else mask_file_box(obj.mask_path, (width, height), '--object-mask')
        rows = predict_correspondences(model, cfg, image, K, obj.name, box)
        path = osp.join(folder, f'{index}_{obj.name}.obj_coor.pkl')
        with open(path, 'wb') as f:
            pickle.dump({key: rows[key] for key in ('x3d', 'x2d', 'w2d')}, f)
        obj.correspondences_path = path
        notes.append(f'{obj.name}: {correspondence_summary(rows)} from {args.correspondence_checkpoint} -> {path}')
    return notes


def _intrinsics(args):
    """(fx, fy, cx, cy) from exactly one of --intrinsics, --fx/--fy/--cx/--cy and --calibration, or None."""
    source = _camera_source(args)
    if source == '--fx/--fy/--cx/--cy':
        return [getattr(args, key) for key in ('fx', 'fy', 'cx', 'cy')]
    if source == '--calibration':
        from hoirecon.datasets.behave_io import load_intrinsics
        calibration = load_intrinsics(args.calibration)
        return [calibration[key] for key in ('fx', 'fy', 'cx', 'cy')]
    return args.intrinsics


def _meshes(result, human_vertices, object_poses, which=None) -> list:
    """The human and the posed objects (all, or the indices ``which``) as coloured meshes."""
    from hoirecon.apis.inference import posed_object
    from hoirecon.visualization import Mesh, default_colors
    colors = default_colors(len(result.object_meshes))
    meshes = [Mesh(human_vertices, result.human_faces, colors[0], 'human')]
    for i, (template, (R, t), sample) in enumerate(zip(result.object_meshes, object_poses, result.samples)):
        if which is None or i in which:
            name = f"object{i}_{sample.metainfo['object_name']}"
            meshes.append(Mesh(posed_object(template, R, t), template[1], colors[i + 1], name))
    return meshes


def _reconstruction(result, field: str) -> list:
    """Meshes of ``pred_instances`` or ``init_instances``: the first sample's person and every object."""
    samples = result.samples
    human = getattr(samples[0], field).human_vertices[0].cpu().numpy()
    poses = [(getattr(s, field).object_R[0].cpu().numpy(), getattr(s, field).object_t[0].cpu().numpy())
             for s in samples]
    return _meshes(result, human, poses)


def _hypothesis_sheet(renderer, result, index: int):
    """Contact sheet of object ``index``'s flow hypotheses (person and that object), most likely first."""
    from hoirecon.visualization import contact_sheet
    hyps = sorted(enumerate(result.hypotheses[index]), key=lambda item: -item[1]['log_prob'])
    tiles, titles = [], []
    for number, hyp in hyps:
        poses = [(hyp['object_R'], hyp['object_t'])] * len(result.samples)
        tiles.append(renderer.overlay(result.image, _meshes(result, hyp['human_vertices'], poses, {index}), result.K))
        titles.append(f'#{number} log p = {hyp["log_prob"]:.1f}')
    return contact_sheet(tiles, titles)


def main(argv=None) -> dict:
    started = time.perf_counter()
    args = parse_args(argv) if not isinstance(argv, argparse.Namespace) else argv
    check_inputs(args)
    timing = {}
    clock = [time.perf_counter()]

    def lap(name):
        now = time.perf_counter()
        timing[name] = round(now - clock[0], 2)
        clock[0] = now

    import hoirecon  # noqa: F401  # isort: skip  (first: installs the weights-only checkpoint loader)
    import torch
    from mmengine.config import Config

    from hoirecon.apis.inference import build_model, parameters_json, reconstruct_image
    from hoirecon.engine import configure_threads
    from hoirecon.utils.paths import data_path_hint, resolve_data_paths
    from hoirecon.visualization import MeshRenderer, export_meshes, export_scene_glb, render_summary, save_image

    lap('imports')
    threads = configure_threads(args.threads)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    data_hint = data_path_hint(*resolve_data_paths(cfg, args.data_root))
    args.intrinsics = _intrinsics(args)
    objects = _objects(args)
    model = build_model(cfg, args.checkpoint, args.device, args.refine, args.hypotheses)
    lap('model')
    if args.correspondence_checkpoint is not None:
        predicted_correspondence_notes = _predict_correspondences(args, objects)
        lap('correspondences')
    torch.manual_seed(args.seed)
    result = reconstruct_image(model, cfg, args.image, objects, person_mask=args.person_mask,
                               person_bbox=args.bbox, keypoints=args.keypoints, intrinsics=args.intrinsics,
                               data_hint=data_hint)
    lap('reconstruction' + (' (with refinement)' if args.refine else ''))
    os.makedirs(args.out, exist_ok=True)
    meshes = _reconstruction(result, 'pred_instances')
    files = dict(meshes=export_meshes(args.out, meshes),
                 scene=export_scene_glb(osp.join(args.out, 'scene.glb'), meshes))

    def picture(name, image):
        files[name] = save_image(osp.join(args.out, f'{name}.png'), image)

    with MeshRenderer() as renderer:
        refined = 'init_instances' in result.samples[0]
        views = render_summary(renderer, result.image, meshes, result.K,
                               _reconstruction(result, 'init_instances') if refined else None, args.side_angle)
        picture('overlay', views.overlay)
        picture('side_view', views.side_view)
        if refined:
            picture('overlay_before_refinement', views.network)
        picture('summary', views.summary)
        for index, sample in enumerate(result.samples):
            if result.hypotheses[index]:
                picture(f"hypotheses_{index}_{sample.metainfo['object_name']}",
                        _hypothesis_sheet(renderer, result, index))
    lap('pictures and meshes')
    summary = parameters_json(result)
    summary['files'] = files
    timing['total'] = round(time.perf_counter() - started, 2)
    summary['timing_s'] = dict(timing, device=args.device, torch_threads=threads)
    with open(osp.join(args.out, 'reconstruction.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    for note in (predicted_correspondence_notes if args.correspondence_checkpoint else []) + result.notes:
        print(f'note: {note}')
    print(f'wrote {len(files)} outputs to {args.out}: summary.png, overlay.png, side_view.png, scene.glb, meshes, '
          'reconstruction.json' + (', hypotheses_*.png' if args.hypotheses else ''))
    print('time: ' + ', '.join(f'{name} {seconds:.1f} s' for name, seconds in timing.items())
          + f' ({args.device}, {threads} torch threads)')
    return summary


def cli(argv=None) -> int:
    """The command line: input errors as one line on stderr (exit status 2), unless ``--debug``."""
    args = parse_args(argv)
    try:
        main(args)
    except INPUT_ERRORS as err:
        if args.debug:
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f'demo.py: error: {message}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(cli())
