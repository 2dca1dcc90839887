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

``--object`` may repeat (one person with several objects); ``--object-mask``, ``--object-bbox``,
``--correspondences`` and ``--template`` then repeat in the same order (give ``-`` to skip one).
"""
import argparse
import json
import os
import os.path as osp

import hoirecon  # noqa: F401  # isort: skip  (first: installs the weights-only checkpoint loader)
from mmengine.config import Config

from hoirecon.datasets.behave_io import load_intrinsics
from hoirecon.apis.inference import (ObjectInput, build_model, parameters_json, posed_object, reconstruct_image)
from hoirecon.visualization import (Mesh, MeshRenderer, contact_sheet, default_colors, export_meshes,
                                    export_scene_glb, save_image)


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
    parser.add_argument('--keypoints', help='OpenPose BODY_25 JSON of the person (OpenPose or BEHAVE layout)')
    parser.add_argument('--correspondences', action='append', metavar='PKL',
                        help="EPro-PnP-style x3d/x2d/w2d pickle, per --object ('-': none)")
    parser.add_argument('--template', action='append', metavar='MESH',
                        help="object mesh (PLY/OBJ) to show and export, per --object ('-': library template)")
    parser.add_argument('--intrinsics', nargs=4, type=float, metavar=('FX', 'FY', 'CX', 'CY'),
                        help='camera intrinsics in pixels (default: a BEHAVE-like camera, with a note)')
    parser.add_argument('--calibration', help='BEHAVE calibs/intrinsics/<k>/calibration.json instead of --intrinsics')
    parser.add_argument('--hypotheses', type=int, default=0, metavar='K',
                        help='also draw K samples from the flows, with their log-likelihoods')
    parser.add_argument('--refine', action='store_true', help="apply the config's refiner (StackFLOW post-opt.)")
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--side-angle', type=float, default=90.0, help='turn of the side view, degrees')
    parser.add_argument('--out', required=True, help='output folder')
    return parser.parse_args(argv)


def _per_object(values, count: int, flag: str):
    """Align a repeated per-object option with --object ('-' = none)."""
    values = list(values or [])
    if len(values) > count:
        raise ValueError(f'{flag} was given {len(values)} times but there are {count} --object entries.')
    values += [None] * (count - len(values))
    return [None if v in (None, '-') else v for v in values]


def _objects(args) -> list:
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


def _meshes(result, human_vertices, object_poses) -> list:
    colors = default_colors(len(result.object_meshes))
    meshes = [Mesh(human_vertices, result.human_faces, colors[0], 'human')]
    for i, (template, (R, t), sample) in enumerate(zip(result.object_meshes, object_poses, result.samples)):
        name = f"object{i}_{sample.metainfo['object_name']}"
        meshes.append(Mesh(posed_object(template, R, t), template[1], colors[i + 1], name))
    return meshes


def _poses(samples, field: str) -> list:
    return [(getattr(s, field).object_R[0].cpu().numpy(), getattr(s, field).object_t[0].cpu().numpy()) for s in samples]


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.calibration:
        if args.intrinsics:
            raise ValueError('give --intrinsics or --calibration, not both.')
        calibration = load_intrinsics(args.calibration)
        args.intrinsics = [calibration[key] for key in ('fx', 'fy', 'cx', 'cy')]
    model = build_model(cfg, args.checkpoint, args.device, args.refine, args.hypotheses)
    result = reconstruct_image(model, cfg, args.image, _objects(args), person_mask=args.person_mask,
                               person_bbox=args.bbox, keypoints=args.keypoints, intrinsics=args.intrinsics)
    os.makedirs(args.out, exist_ok=True)
    first = result.samples[0]
    meshes = _meshes(result, first.pred_instances.human_vertices[0].cpu().numpy(), _poses(result.samples,
                                                                                          'pred_instances'))
    files = dict(meshes=export_meshes(args.out, meshes), scene=export_scene_glb(osp.join(args.out, 'scene.glb'), meshes))
    with MeshRenderer() as renderer:
        overlay, side = renderer.views(result.image, meshes, result.K, side_angles=(args.side_angle, ))
        files['overlay'] = save_image(osp.join(args.out, 'overlay.png'), overlay)
        files['side_view'] = save_image(osp.join(args.out, 'side_view.png'), side)
        panels, titles = [result.image, overlay, side], ['input', 'reconstruction', f'turned {args.side_angle:g} deg']
        if 'init_instances' in first:
            before = _meshes(result, first.init_instances.human_vertices[0].cpu().numpy(),
                             _poses(result.samples, 'init_instances'))
            network = renderer.overlay(result.image, before, result.K)
            files['overlay_before_refinement'] = save_image(osp.join(args.out, 'overlay_before_refinement.png'),
                                                            network)
            panels.insert(1, network)
            titles[1:2] = ['network', 'refined']
        files['summary'] = save_image(osp.join(args.out, 'summary.png'),
                                      contact_sheet(panels, titles, columns=len(panels)))
        for index, hyps in enumerate(result.hypotheses):
            if not hyps:
                continue
            order = sorted(range(len(hyps)), key=lambda i: -hyps[i]['log_prob'])
            tiles, titles = [], []
            for i in order:
                hyp = hyps[i]
                one = _meshes(result, hyp['human_vertices'], _poses(result.samples, 'pred_instances'))
                one[index + 1] = _meshes(result, hyp['human_vertices'], [(hyp['object_R'], hyp['object_t'])] *
                                         len(result.samples))[index + 1]
                tiles.append(renderer.overlay(result.image, [one[0], one[index + 1]], result.K))
                titles.append(f'#{i} log p = {hyp["log_prob"]:.1f}')
            name = result.samples[index].metainfo['object_name']
            files[f'hypotheses_{index}_{name}'] = save_image(
                osp.join(args.out, f'hypotheses_{index}_{name}.png'), contact_sheet(tiles, titles))
    summary = parameters_json(result)
    summary['files'] = files
    with open(osp.join(args.out, 'reconstruction.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    for note in result.notes:
        print(f'note: {note}')
    print(f'wrote {len(files)} outputs to {args.out}: summary.png, overlay.png, side_view.png, scene.glb, meshes, '
          'reconstruction.json' + (', hypotheses_*.png' if args.hypotheses else ''))
    return summary


if __name__ == '__main__':
    main()
