"""Reconstruct the person and the object of every frame of a video: per-frame meshes, parameters.json and a video
with the overlay and a slowly turning side view; ``--smooth`` adds StackFLOW's sequence smoothing.

Examples (from the repository root; docs/demo.md, "Videos")::

    # a synthetic 30 fps sequence in the BEHAVE-extended layout (frames, masks, keypoints, correspondences, camera)
    python tools/make_synthetic_sequences.py --out data/vid_seq --num-sequences 2 --frames-per-sequence 24 \\
        --image-size 512 384 --kinects 0
    python tools/demo_video.py --sequence-root data/vid_seq --sequence Date03_Sub04_boxtiny --kinect 0 \\
        --config configs/stackflow_synthetic_sequences.py --checkpoint work_dirs/stackflow_synthetic/epoch_12.pth \\
        --smooth --out work_dirs/demo_video
    # a folder of frames or an .mp4, with per-frame masks / keypoints matched by file name
    python tools/demo_video.py clip.mp4 --object chairwood --bbox 100 50 400 380 --config ... --checkpoint ... \\
        --out out/

The inputs are checked before torch and the model are imported; an input error prints one line (``--debug``: the
traceback) and exits with status 2.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

from mmengine.config import DictAction

#: Errors of the user's input: printed as one line by the command line.
INPUT_ERRORS = (FileNotFoundError, ValueError, KeyError)
#: Options of per-frame folders (folder or video input only).
PER_FRAME_FOLDERS = ('person_masks', 'object_masks', 'keypoints_dir', 'correspondences_dir')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Video HOI reconstruction demo (per-frame meshes, parameters, MP4).')
    parser.add_argument('input', nargs='?', help='folder of frames (sorted by name) or a video file (.mp4, ...); '
                        'or give --sequence-root/--sequence')
    parser.add_argument('--sequence-root', metavar='ROOT', help='BEHAVE-extended root (raw_images/, person_mask/, '
                        'object_coor_maps_extend/, openpose/, sequences/, calibs/)')
    parser.add_argument('--sequence', metavar='NAME', help='sequence under --sequence-root, e.g. Date03_Sub04_boxtiny')
    parser.add_argument('--kinect', type=int, default=0, help='camera of the sequence (default 0)')
    parser.add_argument('--config', required=True, help='model config, e.g. configs/stackflow_synthetic_sequences.py')
    parser.add_argument('--checkpoint', required=True, help='trained checkpoint (.pth)')
    parser.add_argument('--object', metavar='NAME', help="object category (a sequence's default: its info.json)")
    parser.add_argument('--person-mask', metavar='MASK', help='one person mask for every frame without its own')
    parser.add_argument('--person-masks', metavar='DIR', help='per-frame person masks, named like the frames')
    parser.add_argument('--bbox', nargs=4, type=float, metavar=('X0', 'Y0', 'X1', 'Y1'),
                        help='person box in pixels for the frames without a person mask')
    parser.add_argument('--object-masks', metavar='DIR', help='per-frame object masks, named like the frames')
    parser.add_argument('--object-bbox', nargs=4, type=float, metavar=('X0', 'Y0', 'X1', 'Y1'),
                        help='object box in pixels for the frames without an object mask')
    parser.add_argument('--keypoints-dir', metavar='DIR', help='per-frame OpenPose BODY_25 JSON, named like the frames')
    parser.add_argument('--correspondences-dir', metavar='DIR',
                        help='per-frame EPro-PnP-style x3d/x2d/w2d pickles, named like the frames')
    parser.add_argument('--template', metavar='MESH', help='object mesh (PLY/OBJ) to show and export')
    parser.add_argument('--intrinsics', nargs=4, type=float, metavar=('FX', 'FY', 'CX', 'CY'),
                        help='camera intrinsics in pixels (a sequence: its calibration); default: a BEHAVE-like camera')
    parser.add_argument('--calibration', help='BEHAVE calibs/intrinsics/<k>/calibration.json instead of --intrinsics')
    parser.add_argument('--refine', action='store_true', help="per-frame post-optimisation (the config's refiner)")
    parser.add_argument('--smooth', action='store_true',
                        help="per-frame post-optimisation, then the config's sequence smoothing over all frames")
    parser.add_argument('--max-frames', type=int, help='use the first N frames only')
    parser.add_argument('--batch-size', type=int, default=8, help='frames per network pass (default 8)')
    parser.add_argument('--fps', type=float, help='frame rate of the output video (default: the input\'s, else 30)')
    parser.add_argument('--video-format', choices=('mp4', 'gif'), default='mp4', help='video.mp4 (default) or .gif')
    parser.add_argument('--side-angle', type=float, default=90.0, help='side view turn of the first frame, degrees')
    parser.add_argument('--turn-rate', type=float, default=20.0, help='side view turn, degrees per second of video')
    parser.add_argument('--no-meshes', action='store_true', help='do not write meshes/<frame>/')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--seed', type=int, default=0, help='torch seed')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. refiner.steps_per_stage=50 sequence_refiner.steps_per_stage'
                        '=50')
    parser.add_argument('--data-root', metavar='DIR', help="folder that stands for the config's data/")
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an input error')
    return parser.parse_args(argv)


def check_inputs(args) -> None:
    """Fail fast, before torch is imported: one input source, every named file and folder exists."""
    sequence = args.sequence_root is not None or args.sequence is not None
    if sequence and args.input is not None:
        raise ValueError(f'give either INPUT ({args.input}) or --sequence-root/--sequence, not both.')
    if not sequence and args.input is None:
        raise ValueError('no input: give a folder of frames or a video file as INPUT, or a BEHAVE-extended sequence '
                         'with --sequence-root ROOT --sequence NAME [--kinect K].')
    if sequence and (args.sequence_root is None or args.sequence is None):
        missing = '--sequence' if args.sequence is None else '--sequence-root'
        raise ValueError(f'a sequence needs both --sequence-root and --sequence; {missing} is missing.')
    if not sequence:
        if not osp.exists(args.input):
            raise FileNotFoundError(f'INPUT {args.input}: no such folder or video file.')
        if args.object is None:
            raise ValueError('--object NAME is needed for a folder or video input (a sequence reads its info.json).')
        if args.person_mask is None and args.person_masks is None and args.bbox is None and \
                args.keypoints_dir is None:
            raise ValueError('the person needs a box in every frame: pass --person-masks DIR, --person-mask MASK, '
                             '--bbox X0 Y0 X1 Y1 or --keypoints-dir DIR.')
    elif any(getattr(args, key) is not None for key in PER_FRAME_FOLDERS):
        raise ValueError('the per-frame folders (--person-masks, --object-masks, --keypoints-dir, '
                         '--correspondences-dir) are for a folder or video INPUT; a sequence finds its own.')
    for what, path in (('--config', args.config), ('--checkpoint', args.checkpoint), ('--template', args.template),
                       ('--person-mask', args.person_mask), ('--calibration', args.calibration)):
        if path is not None and not osp.isfile(path):
            hint = ' (train one with tools/train.py)' if what == '--checkpoint' else ''
            raise FileNotFoundError(f'{what} {path}: no such file{hint}.')
    for what, path in (('--sequence-root', args.sequence_root), ('--person-masks', args.person_masks),
                       ('--object-masks', args.object_masks), ('--keypoints-dir', args.keypoints_dir),
                       ('--correspondences-dir', args.correspondences_dir)):
        if path is not None and not osp.isdir(path):
            raise FileNotFoundError(f'{what} {path}: no such folder.')
    if args.intrinsics is not None and args.calibration is not None:
        raise ValueError('give the camera once: --intrinsics and --calibration were both given.')
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f'--max-frames must be >= 1, got {args.max_frames}.')
    if args.fps is not None and not args.fps > 0:
        raise ValueError(f'--fps must be > 0, got {args.fps}.')


def main(argv=None) -> dict:
    started = time.perf_counter()
    args = parse_args(argv) if not isinstance(argv, argparse.Namespace) else argv
    check_inputs(args)
    import hoirecon  # noqa: F401  # isort: skip  (first: installs the weights-only checkpoint loader)
    import torch
    from mmengine.config import Config

    from hoirecon.apis.video import build_video_model, folder_input, reconstruct_video, sequence_input, write_outputs
    from hoirecon.engine import configure_threads
    from hoirecon.utils.paths import data_path_hint, resolve_data_paths

    imports = time.perf_counter() - started
    threads = configure_threads(args.threads)
    progress = not args.no_progress
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    data_hint = data_path_hint(*resolve_data_paths(cfg, args.data_root))
    intrinsics = args.intrinsics
    if args.calibration is not None:
        from hoirecon.datasets.behave_io import load_intrinsics
        calibration = load_intrinsics(args.calibration)
        intrinsics = [calibration[key] for key in ('fx', 'fy', 'cx', 'cy')]
    if args.sequence_root is not None:
        video = sequence_input(args.sequence_root, args.sequence, args.kinect, args.object, args.max_frames)
        if intrinsics is not None:
            video.intrinsics = list(intrinsics)
        if args.fps:
            video.fps = args.fps
    else:
        video = folder_input(args.input, args.object, frames_dir=osp.join(args.out, 'input_frames'),
                             person_masks=args.person_masks, keypoints=args.keypoints_dir,
                             object_masks=args.object_masks, correspondences=args.correspondences_dir,
                             intrinsics=intrinsics, fps=args.fps, max_frames=args.max_frames, progress=progress)
    if args.person_mask is not None:  # for the frames without their own
        for frame in video.frames:
            frame.person_mask = frame.person_mask or args.person_mask
    clock = time.perf_counter()
    model = build_video_model(cfg, args.checkpoint, args.device, args.refine, args.smooth)
    model_seconds = time.perf_counter() - clock
    torch.manual_seed(args.seed)
    result = reconstruct_video(model, cfg, video, template=args.template, person_bbox=args.bbox,
                               object_bbox=args.object_bbox, smooth=args.smooth, batch_size=args.batch_size,
                               data_hint=data_hint, progress=progress)
    result.timing = dict(imports=round(imports, 2), model=round(model_seconds, 2), **result.timing)
    files = write_outputs(result, args.out, fps=args.fps or video.fps, side_angle=args.side_angle,
                          turn_rate=args.turn_rate, video_format=args.video_format, meshes=not args.no_meshes,
                          progress=progress)
    with open(files['parameters']) as f:
        summary = json.load(f)
    summary['timing_s']['total'] = round(time.perf_counter() - started, 2)
    summary['timing_s'].update(device=args.device, torch_threads=threads)
    with open(files['parameters'], 'w') as f:
        json.dump(summary, f, indent=1)
    for note in summary['notes']:
        print(f'note: {note}')
    jitter = summary['jitter_mm_per_frame2']
    for stage, values in jitter.items():
        print(f'mean acceleration ({stage}): ' + ', '.join(
            f'{key} {value:.2f}' if value is not None else f'{key} -' for key, value in values.items())
            + ' mm/frame^2')
    size = 'x'.join(str(v) for v in files['video_size'])
    print(f"wrote {files['video']} ({files['video_frames']} frames, {size}, {files['video_fps']:g} fps), "
          f"{files['parameters']}" + (f", {files['meshes']}/<frame>/" if files['meshes'] else ''))
    timing = summary['timing_s']
    print('time: ' + ', '.join(f'{k} {v:.1f} s' for k, v in timing.items() if isinstance(v, (int, float))
                               and k not in ('seconds_per_frame', 'torch_threads'))
          + f" ({timing['seconds_per_frame']:.2f} s per frame without imports and model; {args.device}, "
          f'{threads} torch threads)')
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
        print(f'demo_video.py: error: {message}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    os.environ.setdefault('PYOPENGL_PLATFORM', 'egl')
    sys.exit(cli())
