"""Synthetic 30 fps sequences written in the BEHAVE-extended layout (read by ``hoirecon.datasets.behave_extended_io``).

Layout written (docs/datasets.md, "Synthetic sequences (BEHAVE-extended layout)")::

    behave-30fps-params-v1/<seq>/smpl_fit_all.npz      poses (N, 156), betas (N, 10), trans (N, 3), frame_times (N,)
    behave-30fps-params-v1/<seq>/object_fit_all.npz    angles (N, 3), trans (N, 3), frame_times (N,)
    raw_images/<seq>/<frame_time>/k<k>.color.jpg
    person_mask/<seq>/<frame_time>/k<k>.person_mask.jpg                  visible person, full resolution
    object_coor_maps_extend/<seq>/<frame_time>/k<k>.mask_full.jpg        whole object, half resolution
    object_coor_maps_extend/<seq>/<frame_time>/k<k>.obj_coor.pkl         EPro-PnP-like correspondences
    openpose/<seq>/<frame_time>/k<k>.color_keypoints.json                OpenPose-like BODY_25 (OpenPose JSON)
    sequences/<seq>/info.json, calibs/, objects/, body_models/, split.json   as the BEHAVE layout (writer.py)

Fits are in the BEHAVE world (Kinect 1), float32, one row per frame; ``frame_times`` are ``t0003.000``,
``t0003.033``, ... (30 fps from 3.0 s). The first sequence is ``Date03_Sub04_boxtiny`` recorded in two parts (one of
:data:`hoirecon.datasets.behave_extended_io.SPLIT_SEQUENCES`): its fits are split between ``Date03_Sub04_boxtiny``
and ``Date03_Sub04_boxtiny_part2``, the second part's frame times continuing the first's. The images of the second
part are in ``raw_images/Date03_Sub04_boxtiny_part2`` (its own recording) and hard-linked into
``raw_images/Date03_Sub04_boxtiny``, where StackFLOW looks for every frame of the merged sequence; its person masks,
object maps and keypoints are under the first name only (StackFLOW makes them per image id of the merged sequence).
The keypoints (noise as the 1 fps world's, :func:`~hoirecon.synthetic.annotations.noisy_body25`) stand for the
OpenPose detections that StackFLOW's post-optimisation reads.

Each frame's three folders are written into temporary folders renamed into place, and the fits before any frame,
so an interrupted run resumes (``synthetic_manifest.json`` holds the parameters, as for the 1 fps world).
"""
import os.path as osp
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from tqdm import tqdm

from hoirecon.datasets.behave_extended_frames import OPENPOSE_FOLDER
from hoirecon.datasets.behave_extended_io import (IMAGE_FOLDER, OBJECT_MAPS_FOLDER, PARAMS_FOLDER,
                                                  PERSON_MASK_FOLDER, SPLIT_SEQUENCES)
from hoirecon.datasets.behave_io import object_pose_to_camera, object_vertices
from hoirecon.objects.catalogue import BEHAVE_OBJECTS
from .annotations import noisy_body25, object_coordinates, sample_correspondences
from .cameras import NUM_KINECTS
from .frames import FrameMaker
from .generate import (GENERATOR_VERSION, STREAM_SEQUENCE, SUBJECT_GENDERS, SequenceSpec, _link_or_copy,
                       _write_manifest, load_objects, plan_sequences, restrict_interactions, run_frame_tasks,
                       start_generation, stream, write_body_models, write_calibration, write_objects)
from .render import ColoredMesh, View
from .scene import ACTIONS, allowed_actions
from .sequences import KEY_SPACING, MotionMaker, SequenceMotion, posed_body_vertices
from .writer import (atomic_folder, half_resolution_mask, remove_stale_temporaries, write_image, write_json, write_mask,
                     write_npz, write_openpose_keypoints, write_pickle, write_sequence_info)

#: The two-part sequence every generated set starts with (date, subject, object of its name).
PAIR_SEQUENCE = 'Date03_Sub04_boxtiny'
PAIR_DATE, PAIR_SUBJECT, PAIR_OBJECT = 3, 4, 'boxtiny'
STREAM_PAIR = 100
#: Frames rendered per task (the unit of work of a worker process and of the progress bar).
CHUNK_FRAMES = 15


@dataclass(frozen=True)
class SequencePart:
    """Frames ``[start, stop)`` of a sequence stored under the folder name ``folder``."""
    folder: str
    start: int
    stop: int


def sequence_parts(name: str, num_frames: int) -> tuple:
    """The folders of a sequence: one, or for a two-part sequence the first half and the rest under the second
    part's name (:data:`SPLIT_SEQUENCES`)."""
    if name in SPLIT_SEQUENCES and num_frames >= 2:
        half = num_frames // 2
        return SequencePart(name, 0, half), SequencePart(SPLIT_SEQUENCES[name], half, num_frames)
    return (SequencePart(name, 0, num_frames), )


def plan_sequence_set(num_sequences: int, seed: int, geometries: dict, test_fraction: float,
                      pair_geometry=None) -> list:
    """The sequences (:class:`SequenceSpec`) of the 1 fps world's planner (:func:`plan_sequences`); given the tiny
    box's geometry, the first one becomes :data:`PAIR_SEQUENCE` (subject 4 on day 3 with the tiny box, a held action
    it affords), written in two parts.

    Args:
        geometries: name -> ObjectGeometry of the objects to draw from.
        pair_geometry: ObjectGeometry of ``boxtiny``, or None for no two-part sequence.
    """
    specs = plan_sequences(num_sequences, seed, geometries, test_fraction)
    if pair_geometry is not None:
        afforded = allowed_actions(pair_geometry)
        held = [a for a in afforded if a in ('carry', 'lift', 'hold')] or list(afforded)
        action = str(stream(seed, STREAM_PAIR).choice(held))
        specs[0] = replace(specs[0], name=PAIR_SEQUENCE, date=PAIR_DATE, subject=PAIR_SUBJECT,
                           gender=SUBJECT_GENDERS[PAIR_SUBJECT], obj_name=PAIR_OBJECT, action=action)
    return specs


def _frame_dirs(out_dir: str, spec: SequenceSpec, part: SequencePart, frame_time: str) -> list:
    """Folders one frame writes: images of its recording (+ the merged name), person masks, object maps, keypoints."""
    dirs = [osp.join(out_dir, IMAGE_FOLDER, part.folder, frame_time)]
    if part.folder != spec.name:
        dirs.append(osp.join(out_dir, IMAGE_FOLDER, spec.name, frame_time))
    return dirs + [osp.join(out_dir, PERSON_MASK_FOLDER, spec.name, frame_time),
                   osp.join(out_dir, OBJECT_MAPS_FOLDER, spec.name, frame_time),
                   osp.join(out_dir, OPENPOSE_FOLDER, spec.name, frame_time)]


def write_sequence_fits(out_dir: str, motion: SequenceMotion, parts: tuple) -> list:
    """Write ``behave-30fps-params-v1/<folder>/{smpl,object}_fit_all.npz`` of every part; returns the paths."""
    paths = []
    for part in parts:
        arrays = motion.slice(part.start, part.stop)
        folder = osp.join(out_dir, PARAMS_FOLDER, part.folder)
        paths.append(write_npz(osp.join(folder, 'smpl_fit_all.npz'), **arrays['smpl']))
        paths.append(write_npz(osp.join(folder, 'object_fit_all.npz'), **arrays['object']))
    return paths


def _part_of(parts: tuple, index: int) -> SequencePart:
    return next(part for part in parts if part.start <= index < part.stop)


class SequenceFrameMaker(FrameMaker):
    """Renders and writes frames of planned motions (one EGL renderer per process).

    Args:
        params: :func:`generate_synthetic_sequences` parameters plus ``out_dir``.
    """

    def __init__(self, params: dict):
        super().__init__(params)
        self._contexts = {}

    def context(self, spec: SequenceSpec):
        if spec.name not in self._contexts:
            if len(self._contexts) >= 4:  # tasks come roughly sequence by sequence
                self._contexts.pop(next(iter(self._contexts)))
            self._contexts[spec.name] = self.sequence_context(spec)
        return self._contexts[spec.name]

    def make_frames(self, task: tuple) -> int:
        """Write frames ``indices`` of a sequence: ``task = (spec, parts, motion, indices)``; returns their number."""
        spec, parts, motion, indices = task
        context = self.context(spec)
        indices = list(indices)
        verts = posed_body_vertices(context, motion, np.asarray(indices))
        for row, index in enumerate(indices):
            self.make_frame_30fps(context, parts, motion, index, verts[row].astype(np.float64))
        return len(indices)

    def make_frame_30fps(self, context, parts: tuple, motion: SequenceMotion, index: int, body_vertices: np.ndarray):
        """Render every kinect of frame ``index`` and write its images, person masks and object maps."""
        params, spec, rig = self.params, context.spec, context.rig
        frame_time = motion.frame_times[index]
        part = _part_of(parts, index)
        angle, obj_trans = motion.object_angles[index], motion.object_trans[index]
        kinects = list(params['kinects'])
        views = []
        for k in kinects:
            rot, trans = rig.world_to_cam(k)
            views.append(View(self.intrinsics[k], rot, trans, context.backgrounds[k]))
        renders = self.renderer.render(
            ColoredMesh(body_vertices, context.model.faces, context.body_colors),
            ColoredMesh(object_vertices(context.obj.vertices, angle, obj_trans), context.obj.faces,
                        context.object_colors), context.floor, context.lighting, views)
        rng = stream(params['seed'], STREAM_SEQUENCE, spec.index, 1000 + index)
        correspondences = []
        for k, view, render in zip(kinects, views, renders):
            obj_rot, obj_t = object_pose_to_camera(angle, obj_trans, rig.cam_to_world_R[k], rig.cam_to_world_t[k])
            coords = object_coordinates(render.object_depth, view.intrinsics, obj_rot, obj_t)
            correspondences.append(sample_correspondences(rng, render.object_mask & render.object_full, coords,
                                                          params['corr_num_points'], params['corr_noise_px'],
                                                          params['corr_outlier_ratio']))
        # drawn after every correspondence, so that the correspondences do not depend on the keypoints
        with torch.no_grad():
            body25 = context.model.body25(torch.as_tensor(body_vertices, dtype=torch.float32)[None])[0].double().numpy()
        keypoints = []
        for k, view, render in zip(kinects, views, renders):
            joints_cam = body25 @ view.rotation.T + view.translation
            keypoints.append(noisy_body25(rng, joints_cam, view.intrinsics, render.object_depth,
                                          params['keypoint_noise_px']))
        image_dir, *link_dirs, mask_dir, maps_dir, keypoints_dir = _frame_dirs(self.out_dir, spec, part, frame_time)
        with atomic_folder(keypoints_dir) as tmp:
            for k, kpts in zip(kinects, keypoints):
                write_openpose_keypoints(osp.join(tmp, f'k{k}.color_keypoints.json'), kpts)
        with atomic_folder(maps_dir) as tmp:
            for k, render, corr in zip(kinects, renders, correspondences):
                write_mask(osp.join(tmp, f'k{k}.mask_full.jpg'), half_resolution_mask(render.object_full))
                write_pickle(osp.join(tmp, f'k{k}.obj_coor.pkl'), corr)
        with atomic_folder(mask_dir) as tmp:
            for k, render in zip(kinects, renders):
                write_mask(osp.join(tmp, f'k{k}.person_mask.jpg'), render.person_mask)
        with atomic_folder(image_dir) as tmp:
            for k, render in zip(kinects, renders):
                write_image(osp.join(tmp, f'k{k}.color.jpg'), render.color)
        for link_dir in link_dirs:  # the merged sequence's name sees the second part's images too
            with atomic_folder(link_dir) as tmp:
                for k in kinects:
                    _link_or_copy(osp.join(image_dir, f'k{k}.color.jpg'), osp.join(tmp, f'k{k}.color.jpg'))


def generate_synthetic_sequences(out_dir: str,
                                 num_sequences: int = 6,
                                 frames_per_sequence: int = 150,
                                 seed: int = 0,
                                 image_size: tuple = (512, 384),
                                 objects: tuple = None,
                                 actions: tuple = None,
                                 kinects: tuple = (0, 1, 2, 3),
                                 keypoint_noise_px: float = 2.0,
                                 corr_noise_px: float = 1.0,
                                 corr_outlier_ratio: float = 0.1,
                                 corr_num_points: int = 1024,
                                 test_fraction: float = 1 / 6,
                                 split_pair: bool = True,
                                 key_spacing: int = KEY_SPACING,
                                 workers: int = 2,
                                 body_model_root: str = None,
                                 progress: bool = True) -> dict:
    """Generate (or resume) synthetic 30 fps sequences in the BEHAVE-extended layout.

    Args:
        out_dir: Dataset root (new, empty, or a previous run with the same parameters).
        num_sequences: Sequences (a two-part sequence counts once).
        frames_per_sequence: Frames of each sequence at 30 fps (the two-part one is split in halves).
        seed: Global seed; the output is a pure function of the parameters (not of ``workers``).
        image_size: (width, height) pixels.
        objects: BEHAVE objects to draw from (default all 20); ``boxtiny`` is added for the two-part sequence.
        actions: Restrict the interactions (:data:`hoirecon.synthetic.scene.ACTIONS`).
        kinects: Cameras to render (calibrations of all four are written).
        keypoint_noise_px: Std of the OpenPose-like keypoint noise, pixels.
        corr_noise_px, corr_outlier_ratio, corr_num_points: The correspondences of ``k<k>.obj_coor.pkl``.
        test_fraction: Fraction of sequences in ``split.json``'s test list.
        split_pair: Start with :data:`PAIR_SEQUENCE` written in two parts.
        key_spacing: Frames between IK key poses (:mod:`hoirecon.synthetic.sequences`).
        workers: Rendering processes.
        body_model_root: Folder with ``smplh/SMPLH_*.pkl``; None = the surrogate.
        progress: Show a progress bar of frames.

    Returns:
        Summary: ``out_dir``, ``num_sequences``, ``folders``, ``num_frames``, ``num_images``, ``generated_frames``,
        ``skipped_frames``, ``seconds`` and ``sequences`` (each spec with its ``parts``).
    """
    start = time.time()
    objects = tuple(BEHAVE_OBJECTS if objects is None else objects)
    kinects = tuple(sorted({int(k) for k in kinects}))
    unknown = sorted(set(objects) - set(BEHAVE_OBJECTS)) + sorted(set(actions or ()) - set(ACTIONS))
    if unknown:
        raise ValueError(f'unknown objects/actions {unknown}; objects: {BEHAVE_OBJECTS}, actions: {ACTIONS}.')
    if num_sequences < 1 or frames_per_sequence < 1 or (split_pair and frames_per_sequence < 2):
        raise ValueError(f'need num_sequences >= 1 and frames_per_sequence >= 1 (>= 2 for the two-part sequence), '
                         f'got {num_sequences} and {frames_per_sequence}.')
    if not kinects or not set(kinects) <= set(range(NUM_KINECTS)):
        raise ValueError(f'kinects must be a non-empty subset of 0..{NUM_KINECTS - 1}, got {kinects}.')
    params = {
        'layout': 'behave_extended', 'num_sequences': int(num_sequences),
        'frames_per_sequence': int(frames_per_sequence), 'seed': int(seed),
        'image_size': [int(image_size[0]), int(image_size[1])], 'objects': list(objects),
        'actions': None if actions is None else list(actions), 'kinects': list(kinects),
        'keypoint_noise_px': float(keypoint_noise_px), 'corr_noise_px': float(corr_noise_px),
        'corr_outlier_ratio': float(corr_outlier_ratio),
        'corr_num_points': int(corr_num_points), 'test_fraction': float(test_fraction), 'split_pair': bool(split_pair),
        'key_spacing': int(key_spacing), 'body_model_root': None if body_model_root is None else
        osp.abspath(body_model_root), 'version': GENERATOR_VERSION,
    }
    out_dir = start_generation(out_dir, params)
    write_body_models(out_dir, body_model_root)
    write_objects(out_dir)
    write_calibration(out_dir, seed, image_size)
    geometries = load_objects(out_dir, objects)
    pair = load_objects(out_dir, (PAIR_OBJECT, ))[PAIR_OBJECT] if split_pair else None
    restrict_interactions(geometries, actions)
    restrict_interactions({PAIR_OBJECT: pair} if split_pair else {}, actions)
    specs = plan_sequence_set(num_sequences, seed, geometries, test_fraction, pair)
    worker_params = dict(params, out_dir=out_dir)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # float results must not depend on the thread count
    planner = MotionMaker(worker_params)
    tasks, plans, total, done = [], [], 0, 0
    try:
        for spec in specs:
            parts = sequence_parts(spec.name, frames_per_sequence)
            for part in parts:
                write_sequence_info(osp.join(out_dir, 'sequences', part.folder), spec.date, spec.obj_name,
                                    spec.gender)
                for folder in (IMAGE_FOLDER, PERSON_MASK_FOLDER, OBJECT_MAPS_FOLDER, OPENPOSE_FOLDER):
                    remove_stale_temporaries(osp.join(out_dir, folder, part.folder))
            motion = planner.motion(spec, frames_per_sequence, key_spacing)
            write_sequence_fits(out_dir, motion, parts)
            missing = [i for i in range(frames_per_sequence)
                       if not all(osp.isdir(d) for d in _frame_dirs(out_dir, spec, _part_of(parts, i),
                                                                    motion.frame_times[i]))]
            total += frames_per_sequence
            done += frames_per_sequence - len(missing)
            tasks += [(spec, parts, motion, missing[i:i + CHUNK_FRAMES]) for i in range(0, len(missing), CHUNK_FRAMES)]
            plans.append(dict(asdict(spec), parts=[asdict(p) for p in parts], key_frames=motion.key_frames.tolist()))
    finally:
        torch.set_num_threads(threads)

    bar = tqdm(total=total, initial=done, desc='synthetic BEHAVE-extended frames', unit='frame', disable=not progress)
    generated = run_frame_tasks(SequenceFrameMaker, worker_params, tasks, workers, bar)
    bar.close()

    folders = {split: [p['folder'] for plan in plans if plan['split'] == split for p in plan['parts']]
               for split in ('train', 'test')}
    write_json(osp.join(out_dir, 'split.json'), folders)
    summary = {
        'out_dir': out_dir, 'num_sequences': len(specs), 'folders': folders['train'] + folders['test'],
        'num_frames': total, 'num_images': total * len(kinects), 'generated_frames': generated,
        'skipped_frames': total - generated, 'seconds': round(time.time() - start, 2), 'sequences': plans,
    }
    _write_manifest(out_dir, params, complete=True, summary={k: v for k, v in summary.items() if k != 'sequences'})
    return summary
