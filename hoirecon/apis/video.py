"""Video inference: the frames of a sequence -> per-frame reconstructions -> (optional) smoothing -> files.

Used by ``tools/demo_video.py``; see ``docs/demo.md`` ("Videos"). The frames come from a BEHAVE-extended sequence
(:func:`sequence_input`: frames, masks, keypoints, correspondences and camera found by the layout) or from a folder
of images / an .mp4 with optional per-frame folders (:func:`folder_input`). Every frame is read and cropped with the
single-image demo's code (:func:`~hoirecon.apis.inference.prepare_image`, the pipeline built once) and the frames go
through the model in batches (:func:`reconstruct_video`); with ``smooth``, StackFLOW's order: the per-frame
post-optimisation, then :meth:`HOIReconstructor.refine_sequence` over all frames. :func:`write_outputs` writes the
meshes, ``parameters.json`` and the video (overlay and a slowly turning side view).
"""
import copy
import json
import os
import os.path as osp
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config
from tqdm import tqdm

from hoirecon.datasets import behave_extended_io as ext
from hoirecon.datasets.annotations import read_sequence_calibration
from hoirecon.datasets.behave_extended_frames import keypoints_path, video_frame_index
from hoirecon.evaluation.functional import acceleration_magnitude
from hoirecon.objects import ObjectLibrary
from .inference import (ObjectInput, _as_list, build_model, human_faces, instance_parameters, posed_object,
                        prepare_image, run_model)
from .refinement import sequence_refiner_config

#: Image files read from a frame folder.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')
#: Video files read frame by frame (OpenCV's FFmpeg reader).
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm')
#: StackFLOW's BEHAVE-extended smoothing (configs/_base_/refiners/sequence_behave_extended.py), used under a config
#: that has no top-level ``sequence_refiner`` (entries the config does give replace these).
DEFAULT_SEQUENCE_REFINER = dict(type='SequenceSmoothingRefiner', num_stages=2, steps_per_stage=100, lr=2e-3,
                                window=128, stride=64, smooth_weight=100.0, anneal_smoothness=True, object_init=None)
#: Stages of a reconstruction: (field of the data samples, key in ``parameters.json``).
STAGES = {'network': ('init_instances', 'network_prediction'), 'per_frame': ('frame_instances', 'per_frame_prediction'),
          'final': ('pred_instances', 'prediction')}


@dataclass
class VideoFrame:
    """The files of one frame (None: not given).

    Attributes:
        name: frame name (the BEHAVE frame time, e.g. ``'t0003.033'``, or the image's file stem); folder name of its
            meshes.
        image_path: RGB image.
        frame_index: the frame's number in the video (time order; consecutive frames differ by 1).
        person_mask, keypoints, object_mask, correspondences: files as in ``tools/demo.py``.
        object_mask_scale: 2 for a half-resolution object mask (BEHAVE-extended's ``mask_full.jpg``).
    """
    name: str
    image_path: str
    frame_index: int
    person_mask: Optional[str] = None
    keypoints: Optional[str] = None
    object_mask: Optional[str] = None
    object_mask_scale: int = 1
    correspondences: Optional[str] = None


@dataclass
class VideoInput:
    """The frames of one video of one camera and what holds for all of them.

    Attributes:
        frames: in time order.
        object_name: the object category.
        intrinsics: ``(fx, fy, cx, cy)`` pixels, or None (a BEHAVE-like camera, noted).
        fps: frames per second of the video.
        source: what the frames were read from (for the JSON).
        template_dir: a BEHAVE-style ``objects/`` folder to take the object's template from, or None.
    """
    frames: List[VideoFrame]
    object_name: str
    intrinsics: Optional[List[float]] = None
    fps: float = 30.0
    source: str = ''
    template_dir: Optional[str] = None


@dataclass
class VideoResult:
    """Reconstruction of a video: one data sample per frame.

    Attributes:
        video: the input.
        samples: per frame, the predicted :class:`HOIDataSample` (``pred_instances``: the final result; with a
            refiner ``init_instances``: the network's; smoothed: ``frame_instances``: the per-frame result).
        boxes: per frame the HOI box (xyxy). human_faces: (F, 3). object_mesh: the template (vertices, faces).
        K: (3, 3) intrinsics. image_size: (W, H). refined / smoothed: which stages ran.
        notes: each distinct note with the number of frames it was given for.
        template_offset, template_source: as :class:`~hoirecon.apis.inference.DemoResult`.
        timing: seconds per stage.
    """
    video: VideoInput
    samples: list
    boxes: List[np.ndarray]
    human_faces: np.ndarray
    object_mesh: Tuple[np.ndarray, np.ndarray]
    K: np.ndarray
    image_size: Tuple[int, int]
    refined: bool
    smoothed: bool
    notes: Dict[str, int] = field(default_factory=dict)
    template_offset: Optional[np.ndarray] = None
    template_source: str = ''
    timing: Dict[str, float] = field(default_factory=dict)

    def stages(self) -> List[str]:
        """The stages held, first to last (keys of :data:`STAGES`)."""
        return (['network'] if self.refined else []) + (['per_frame'] if self.smoothed else []) + ['final']

    def note_lines(self) -> List[str]:
        """The notes, each with the number of frames it holds for when that is not every frame."""
        total = len(self.samples)
        return [note if count >= total else f'{note} ({count} of {total} frames)' for note, count in self.notes.items()]


# ----------------------------------------------------------------------------------------------- inputs
def _existing(path: str) -> Optional[str]:
    return path if osp.isfile(path) else None


def sequence_input(root: str, sequence: str, kinect: int, object_name: Optional[str] = None,
                   max_frames: Optional[int] = None) -> VideoInput:
    """The frames of one camera of a BEHAVE-extended sequence (``raw_images/<seq>/<frame>/k<k>.color.jpg``) with the
    person masks, OpenPose keypoints, half-resolution object masks and correspondences that exist for them, the
    camera of ``calibs/intrinsics/<k>/calibration.json`` (through ``sequences/<seq>/info.json``) and the object of
    ``info.json``; the template from ``ROOT/objects`` when that folder exists.

    Raises:
        FileNotFoundError: naming the missing folder or file and the option that fixes it.
    """
    if not osp.isdir(root):
        raise FileNotFoundError(f'--sequence-root {root}: no such folder (a BEHAVE-extended root with raw_images/, '
                                'person_mask/, ...; tools/make_synthetic_sequences.py makes a synthetic one).')
    frames_dir = osp.join(root, ext.IMAGE_FOLDER, sequence)
    if not osp.isdir(frames_dir):
        names = sorted(os.listdir(osp.join(root, ext.IMAGE_FOLDER))) if osp.isdir(
            osp.join(root, ext.IMAGE_FOLDER)) else []
        raise FileNotFoundError(f'--sequence {sequence}: {frames_dir} does not exist; sequences under {root}: '
                                f'{", ".join(names[:8]) or "none"}{", ..." if len(names) > 8 else ""}.')
    info_path = osp.join(root, 'sequences', sequence, 'info.json')
    if not osp.isfile(info_path):
        raise FileNotFoundError(f'{info_path} does not exist: it names the object and the calibration of '
                                f'--sequence {sequence}. {ext.LAYOUT_HINT}')
    info, calibrations = read_sequence_calibration(root, sequence, [int(kinect)])
    if int(kinect) not in calibrations:
        raise FileNotFoundError(f'--kinect {kinect}: {info_path} lists kinects {info["kinects"]} or their '
                                'calibration is missing; choose another --kinect.')
    K = calibrations[int(kinect)].cam_K
    times = sorted(t for t in os.listdir(frames_dir) if osp.isfile(ext.image_path(root, sequence, t, kinect)))
    if not times:
        raise FileNotFoundError(f'--kinect {kinect}: no frame of {frames_dir} has a k{kinect}.color.jpg.')
    frames = [VideoFrame(name=t, image_path=ext.image_path(root, sequence, t, kinect),
                         frame_index=video_frame_index(t),
                         person_mask=_existing(ext.person_mask_path(root, sequence, t, kinect)),
                         keypoints=_existing(keypoints_path(root, sequence, t, kinect)),
                         object_mask=_existing(ext.object_mask_path(root, sequence, t, kinect)), object_mask_scale=2,
                         correspondences=_existing(ext.correspondences_path(root, sequence, t, kinect)))
              for t in times[:max_frames]]
    templates = osp.join(root, 'objects')
    return VideoInput(frames=frames, object_name=object_name or info['cat'],
                      intrinsics=[K[0, 0], K[1, 1], K[0, 2], K[1, 2]], fps=30.0,
                      source=f'{root} sequence {sequence} kinect {kinect}',
                      template_dir=templates if osp.isdir(templates) else None)


def _frame_key(path: str) -> str:
    """Name of a file up to its first dot: frames and their per-frame files are matched on it
    (``000012.jpg`` <-> ``000012.person_mask.png`` <-> ``000012_keypoints``-less ``000012.json``)."""
    return osp.basename(path).split('.')[0]


def _per_frame_files(folder: Optional[str], extensions: Sequence[str], flag: str) -> Dict[str, str]:
    if folder is None:
        return {}
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{flag} {folder}: no such folder (per-frame files named like the frames).')
    return {_frame_key(name): osp.join(folder, name) for name in sorted(os.listdir(folder))
            if name.lower().endswith(tuple(extensions))}


def extract_video_frames(path: str, out_dir: str, max_frames: Optional[int] = None,
                         progress: bool = True) -> Tuple[List[str], float]:
    """Write the frames of a video file as ``out_dir/000000.jpg``, ... (OpenCV's FFmpeg reader).

    Returns:
        The frame files and the video's frame rate (30 when the file does not say).
    """
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise ValueError(f'{path}: OpenCV cannot read this video; extract its frames to a folder (e.g. ffmpeg -i '
                         f'{osp.basename(path)} frames/%06d.jpg) and pass the folder.')
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    bar = tqdm(desc='reading video', unit='frame', disable=not progress)
    while max_frames is None or len(paths) < max_frames:
        ok, frame = capture.read()
        if not ok:
            break
        paths.append(osp.join(out_dir, f'{len(paths):06d}.jpg'))
        cv2.imwrite(paths[-1], frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        bar.update(1)
    bar.close()
    capture.release()
    if not paths:
        raise ValueError(f'{path}: no frame could be read.')
    return paths, float(fps)


def folder_input(source: str, object_name: str, frames_dir: Optional[str] = None,
                 person_masks: Optional[str] = None, keypoints: Optional[str] = None,
                 object_masks: Optional[str] = None, correspondences: Optional[str] = None,
                 intrinsics: Optional[Sequence[float]] = None, fps: Optional[float] = None,
                 max_frames: Optional[int] = None, progress: bool = True) -> VideoInput:
    """The frames of a folder of images (sorted by name) or of a video file, with optional per-frame folders.

    A per-frame file belongs to the frame whose file name agrees up to the first dot (``000012.jpg`` takes
    ``person_masks/000012.png`` or ``000012.person_mask.jpg``); a frame without one goes without it. A video file's
    frames are written to ``frames_dir`` as ``000000.jpg``, ``000001.jpg``, ... (so per-frame files are named so).

    Args:
        source: folder of images or a video file (.mp4, ...).
        object_name: the object category. frames_dir: where a video's frames go (required for a video).
        person_masks, keypoints, object_masks, correspondences: folders of per-frame files (images, OpenPose JSON,
            images, EPro-PnP pickles).
        intrinsics: ``(fx, fy, cx, cy)`` or None. fps: frames per second (default: the video's, else 30).
    """
    if osp.isdir(source):
        paths = sorted(osp.join(source, name) for name in os.listdir(source)
                       if name.lower().endswith(IMAGE_EXTENSIONS))[:max_frames]
        if not paths:
            raise FileNotFoundError(f'{source}: no image ({", ".join(IMAGE_EXTENSIONS)}) in this folder.')
        video_fps = 30.0
    elif osp.isfile(source):
        if not source.lower().endswith(VIDEO_EXTENSIONS):
            raise ValueError(f'{source}: expected a folder of frames or a video ({", ".join(VIDEO_EXTENSIONS)}).')
        if frames_dir is None:
            raise ValueError('a video input needs a folder for its frames (frames_dir).')
        paths, video_fps = extract_video_frames(source, frames_dir, max_frames, progress)
    else:
        raise FileNotFoundError(f'{source}: no such folder or video file.')
    keys = [_frame_key(p) for p in paths]
    if len(set(keys)) != len(keys):
        raise ValueError(f'{source}: several frames share a name before the first dot; per-frame files could not be '
                         'matched to them. Rename the frames (e.g. 000000.jpg, 000001.jpg, ...).')
    masks = _per_frame_files(person_masks, IMAGE_EXTENSIONS, '--person-masks')
    kpts = _per_frame_files(keypoints, ('.json', ), '--keypoints-dir')
    obj_masks = _per_frame_files(object_masks, IMAGE_EXTENSIONS, '--object-masks')
    corrs = _per_frame_files(correspondences, ('.pkl', ), '--correspondences-dir')
    for flag, files in (('--person-masks', masks), ('--keypoints-dir', kpts), ('--object-masks', obj_masks),
                        ('--correspondences-dir', corrs)):
        if files and not set(files) & set(keys):
            raise FileNotFoundError(f'{flag}: none of its files is named like a frame (e.g. {keys[0]}.*); per-frame '
                                    'files are matched on the name up to the first dot.')
    frames = [VideoFrame(name=key, image_path=path, frame_index=index, person_mask=masks.get(key),
                         keypoints=kpts.get(key), object_mask=obj_masks.get(key), correspondences=corrs.get(key))
              for index, (key, path) in enumerate(zip(keys, paths))]
    return VideoInput(frames=frames, object_name=object_name,
                      intrinsics=None if intrinsics is None else [float(v) for v in intrinsics],
                      fps=float(fps or video_fps), source=source)


# ----------------------------------------------------------------------------------------------- model
def sequence_refiner_settings(cfg: Config) -> Tuple[dict, bool]:
    """The model's ``sequence_refiner`` for ``cfg`` (:func:`~hoirecon.apis.sequence_refiner_config`), and whether
    :data:`DEFAULT_SEQUENCE_REFINER` filled in for a config without a (complete) top-level ``sequence_refiner``."""
    cfg = copy.deepcopy(cfg)
    given = dict(cfg.get('sequence_refiner') or {})
    default = 'type' not in given
    cfg.sequence_refiner = dict(DEFAULT_SEQUENCE_REFINER, **given) if default else given
    return sequence_refiner_config(cfg), default


def build_video_model(cfg: Config, checkpoint: str, device: str = 'cpu', refine: bool = False,
                      smooth: bool = False) -> torch.nn.Module:
    """:func:`~hoirecon.apis.inference.build_model` for a video: ``refine`` adds the config's per-frame ``refiner``,
    ``smooth`` the per-frame ``refiner`` and the ``sequence_refiner`` (:func:`sequence_refiner_settings`)."""
    cfg = copy.deepcopy(cfg)
    if smooth:
        cfg.model.sequence_refiner, _ = sequence_refiner_settings(cfg)
    model = build_model(cfg, checkpoint, device, refine or smooth, 0)
    if model.refiner is not None:
        model.refiner.show_progress = False  # one bar over the frames instead of one per batch
    return model


def _correspondence_rows(cfg: Config, default: int = 4096) -> int:
    """``num_points`` of the config's test ``LoadCorrespondences``, else ``default``."""
    for step in cfg.test_dataloader.dataset.get('pipeline', []):
        if step.get('type') == 'LoadCorrespondences':
            return int(step.get('num_points', default))
    return default


def reconstruct_video(model: torch.nn.Module, cfg: Config, video: VideoInput, template: Optional[str] = None,
                      person_bbox: Optional[Sequence[float]] = None, object_bbox: Optional[Sequence[float]] = None,
                      smooth: bool = False, batch_size: int = 8, data_hint: str = '',
                      progress: bool = True) -> VideoResult:
    """Reconstruct every frame of ``video`` (batches of ``batch_size`` frames through the model), then, with
    ``smooth``, smooth them with the model's ``sequence_refiner`` (all frames, time order = ``frame_index``).

    Args:
        model: from :func:`build_video_model` (``smooth`` needs one built with ``smooth=True``).
        cfg: the model's config. video: :func:`sequence_input` or :func:`folder_input`.
        template: object mesh (PLY/OBJ) instead of the library's. person_bbox / object_bbox: xyxy pixels for the
            frames without a person / object mask.
    """
    if not video.frames:
        raise ValueError('the video has no frames.')
    if smooth and getattr(model, 'sequence_refiner', None) is None:
        raise ValueError('smooth=True needs a model from build_video_model(..., smooth=True).')
    if int(batch_size) < 1:
        raise ValueError(f'--batch-size must be >= 1, got {batch_size}.')
    started = time.perf_counter()
    cache: dict = {}
    if video.template_dir is not None and template is None:
        cache['library'] = ObjectLibrary(dataset='behave', template_dir=video.template_dir)
    base = ObjectInput(video.object_name, template_path=template,
                       bbox=None if object_bbox is None else list(object_bbox))
    any_keypoints = any(f.keypoints for f in video.frames)
    rows = _correspondence_rows(cfg)
    notes: Dict[str, int] = OrderedDict()
    samples, boxes, first = [], [], None
    bar = tqdm(total=len(video.frames), desc='reconstructing' + (' + refining' if model.refiner else ''),
               unit='frame', disable=not progress)
    for start in range(0, len(video.frames), int(batch_size)):
        packed, batch_notes = [], []
        for number, frame in enumerate(video.frames[start:start + int(batch_size)], start):
            obj = replace(base, mask_path=frame.object_mask, mask_scale=frame.object_mask_scale,
                          correspondences_path=frame.correspondences)
            # a frame without keypoints among frames with them: zero confidence, so that the batch keeps the term
            kpts = frame.keypoints or (np.zeros((25, 3), np.float32) if any_keypoints else None)
            try:
                prepared = prepare_image(cfg, frame.image_path, [obj], person_mask=frame.person_mask,
                                         person_bbox=person_bbox, keypoints=kpts, intrinsics=video.intrinsics,
                                         num_correspondences=rows, data_hint=data_hint, cache=cache)
            except ValueError as err:
                raise ValueError(f'frame {frame.name} ({frame.image_path}): {err}') from None
            if first is None:
                first = prepared
            elif prepared.image.shape != first.image.shape:
                raise ValueError(f'frame {frame.name} ({frame.image_path}) is {prepared.image.shape[1]} x '
                                 f'{prepared.image.shape[0]} pixels, the first frame {first.image.shape[1]} x '
                                 f'{first.image.shape[0]}: the frames of a video must share one size.')
            item = prepared.packed[0]
            item['data_samples'].set_metainfo(dict(person_id=number, frame_index=int(frame.frame_index),
                                                   img_id=frame.name))
            packed.append(item)
            boxes.append(prepared.boxes[0])
            batch_notes.extend(dict.fromkeys(prepared.notes))
        out = run_model(model, packed, batch_notes)
        for sample in out:
            status = sample.metainfo.get('pnp_status', '')
            if status.startswith('network pose kept'):
                batch_notes.append(f'{video.object_name}: network pose kept (PnP start refused)')
        for note in batch_notes:
            notes[note] = notes.get(note, 0) + 1
        samples.extend(out)
        bar.update(len(packed))
    bar.close()
    timing = {'frames': round(time.perf_counter() - started, 2)}
    if smooth:
        started = time.perf_counter()
        model.sequence_refiner.show_progress = progress
        model.refine_sequence(samples)
        timing['smoothing'] = round(time.perf_counter() - started, 2)
    height, width = first.image.shape[:2]
    return VideoResult(video=video, samples=samples, boxes=boxes, human_faces=human_faces(model),
                       object_mesh=first.object_meshes[0], K=first.K, image_size=(width, height),
                       refined=model.refiner is not None, smoothed=bool(smooth), notes=dict(notes),
                       template_offset=first.template_offsets[0], template_source=first.template_sources[0],
                       timing=timing)


# ----------------------------------------------------------------------------------------------- results
def stage_vertices(result: VideoResult, stage: str = 'final') -> Tuple[np.ndarray, np.ndarray]:
    """(T, V, 3) camera-frame body vertices and (T, Vo, 3) posed object vertices of a stage (:data:`STAGES`)."""
    name = STAGES[stage][0]
    insts = [getattr(s, name) for s in result.samples]
    human = np.stack([inst.human_vertices[0].detach().cpu().numpy() for inst in insts]).astype(np.float64)
    obj = np.stack([posed_object(result.object_mesh, inst.object_R[0].detach().cpu().numpy(),
                                 inst.object_t[0].detach().cpu().numpy()) for inst in insts])
    return human, obj


def jitter(result: VideoResult) -> Dict[str, Dict[str, float]]:
    """Per stage, the mean acceleration (mm / frame^2, :func:`acceleration_magnitude`) of the body vertices, the
    object vertices and the object translation over the frames where it is defined."""
    index = np.array([f.frame_index for f in result.video.frames])
    out = {}
    for stage in result.stages():
        human, obj = stage_vertices(result, stage)
        translation = np.stack([getattr(s, STAGES[stage][0]).object_t[0].detach().cpu().numpy()
                                for s in result.samples])[:, None].astype(np.float64)
        values = {}
        for key, vertices in (('human_vertices', human), ('object_vertices', obj),
                              ('object_translation', translation)):
            accel = acceleration_magnitude(vertices, index)
            values[key] = round(float(np.nanmean(accel)), 4) if np.isfinite(accel).any() else None
        out[stage] = values
    return out


def _stage_description(result: VideoResult, stage: str) -> str:
    if stage == 'final':
        return 'smoothed' if result.smoothed else 'post-optimised per frame' if result.refined else 'network output'
    return 'post-optimised per frame' if stage == 'per_frame' else 'network output'


def video_parameters(result: VideoResult) -> dict:
    """JSON-ready parameters of every frame and stage (camera frame, metres; rotations as matrices)."""
    frames = []
    for frame, sample, box in zip(result.video.frames, result.samples, result.boxes):
        entry = dict(frame=frame.name, frame_index=int(frame.frame_index), image=frame.image_path,
                     hoi_box_xyxy=_as_list(box))
        for stage in result.stages():
            name, key = STAGES[stage]
            entry[key] = instance_parameters(getattr(sample, name))
        if result.refined:
            entry['pnp_initialised'] = bool(sample.pred_instances.pnp_used[0]) if 'pnp_used' in \
                sample.pred_instances else None
            entry['pnp_status'] = sample.metainfo.get('pnp_status')
        frames.append(entry)
    data = dict(source=result.video.source, object=result.video.object_name, num_frames=len(frames),
                fps=result.video.fps, intrinsics=_as_list(result.K), image_size=list(result.image_size),
                refined=result.refined, smoothed=result.smoothed,
                stages={STAGES[s][1]: _stage_description(result, s) for s in result.stages()},
                template_source=result.template_source,
                frame='OpenCV camera frame of the images: x right, y down, z forward; metres')
    if result.template_offset is not None:
        data['template_offset'] = _as_list(result.template_offset)
    data['jitter_mm_per_frame2'] = jitter(result)
    data['notes'] = result.note_lines()
    data['frames'] = frames
    return data


# ----------------------------------------------------------------------------------------------- video files
class FrameWriter:
    """Writes RGB frames of one size to an MP4 (OpenCV's FFmpeg writer, MPEG-4 Part 2 'mp4v') or an animated GIF
    (Pillow); odd sizes are padded by one white row / column (the MP4 codec needs even sizes). Where OpenCV cannot
    write MP4 (a build without FFmpeg; the opencv-python-headless wheels have it) the frames go to ``<stem>.gif``
    and ``note`` says so.

    Args:
        path: ``*.mp4`` or ``*.gif``.
        fps: frames per second.
    """

    def __init__(self, path: str, fps: float):
        if not path.lower().endswith(('.mp4', '.gif')):
            raise ValueError(f'{path}: the video must be .mp4 or .gif.')
        if not fps > 0:
            raise ValueError(f'--fps must be > 0, got {fps}.')
        self.path, self.fps = path, float(fps)
        self.gif = path.lower().endswith('.gif')
        self.size = None
        self.count = 0
        self.note = ''
        self._writer = None
        self._frames: list = []

    def write(self, frame: np.ndarray) -> None:
        frame = np.asarray(frame, np.uint8)
        height, width = frame.shape[:2]
        padded = np.full((height + height % 2, width + width % 2, 3), 255, np.uint8)
        padded[:height, :width] = frame
        if self.size is None:
            self.size = (padded.shape[1], padded.shape[0])
            if not self.gif:
                self._writer = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*'mp4v'), self.fps, self.size)
                if not self._writer.isOpened():  # an OpenCV built without FFmpeg: an animated GIF instead
                    self._writer = None
                    self.gif = True
                    mp4, self.path = self.path, osp.splitext(self.path)[0] + '.gif'
                    self.note = f'OpenCV cannot write {mp4} here (no FFmpeg in its build): wrote {self.path} instead.'
        elif (padded.shape[1], padded.shape[0]) != self.size:
            raise ValueError(f'frame {self.count} is {width} x {height}, the first one {self.size}.')
        if self.gif:
            self._frames.append(padded)
        else:
            self._writer.write(cv2.cvtColor(padded, cv2.COLOR_RGB2BGR))
        self.count += 1

    def close(self) -> str:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self.gif and self._frames:
            from PIL import Image
            images = [Image.fromarray(f) for f in self._frames]
            images[0].save(self.path, save_all=True, append_images=images[1:], loop=0,
                           duration=max(int(round(1000.0 / self.fps)), 20))
            self._frames = []
        return self.path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_video_frames(path: str) -> List[np.ndarray]:
    """All frames of an MP4 (OpenCV) or GIF (Pillow) as (H, W, 3) uint8 RGB: the check that a video plays."""
    if path.lower().endswith('.gif'):
        from PIL import Image, ImageSequence
        with Image.open(path) as image:
            return [np.asarray(f.convert('RGB')) for f in ImageSequence.Iterator(image)]
    capture = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def frame_meshes(result: VideoResult, index: int, stage: str = 'final') -> list:
    """The body and the posed object of frame ``index`` at ``stage`` as coloured :class:`Mesh` es."""
    from hoirecon.visualization import Mesh, default_colors
    inst = getattr(result.samples[index], STAGES[stage][0])
    colors = default_colors(1)
    obj = posed_object(result.object_mesh, inst.object_R[0].detach().cpu().numpy(),
                       inst.object_t[0].detach().cpu().numpy())
    return [Mesh(inst.human_vertices[0].detach().cpu().numpy(), result.human_faces, colors[0], 'human'),
            Mesh(obj, result.object_mesh[1], colors[1], f'object0_{result.video.object_name}')]


def side_angles(num_frames: int, fps: float, start: float = 90.0, turn_rate: float = 20.0) -> np.ndarray:
    """Side-view angle of each frame (degrees): ``start`` turning by ``turn_rate`` degrees per second of video."""
    return start + turn_rate * np.arange(num_frames) / float(fps)


def write_outputs(result: VideoResult, out_dir: str, fps: Optional[float] = None, side_angle: float = 90.0,
                  turn_rate: float = 20.0, video_format: str = 'mp4', meshes: bool = True,
                  progress: bool = True) -> dict:
    """Write ``meshes/<frame>/`` (final meshes, PLY and OBJ), ``parameters.json`` and ``video.<mp4|gif>``.

    Each video frame shows, side by side: the input, the overlay of each stage (network / per frame, when refined
    or smoothed, and the final one) and the final meshes turned about the vertical axis, starting at ``side_angle``
    and turning ``turn_rate`` degrees per second.

    Returns:
        ``{'video': path, 'parameters': path, 'meshes': folder or None, 'video_frames': n, 'video_size': [W, H]}``.
    """
    from hoirecon.datasets.behave_io import load_image
    from hoirecon.visualization import MeshRenderer, contact_sheet, export_meshes

    fps = float(fps or result.video.fps)
    os.makedirs(out_dir, exist_ok=True)
    files: dict = dict(meshes=None)
    started = time.perf_counter()
    if meshes:
        files['meshes'] = osp.join(out_dir, 'meshes')
        for index, frame in enumerate(tqdm(result.video.frames, desc='meshes', unit='frame', disable=not progress)):
            export_meshes(osp.join(files['meshes'], frame.name), frame_meshes(result, index))
    result.timing['meshes'] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    angles = side_angles(len(result.samples), fps, side_angle, turn_rate)
    shown = [s for s in result.stages() if s != 'network' or not result.smoothed]
    captions = {'network': 'network', 'per_frame': 'per-frame', 'final': 'smoothed' if result.smoothed else (
        'refined' if result.refined else 'reconstruction')}
    path = osp.join(out_dir, f'video.{video_format}')
    with MeshRenderer() as renderer, FrameWriter(path, fps) as writer:
        for index, frame in enumerate(tqdm(result.video.frames, desc='rendering', unit='frame',
                                           disable=not progress)):
            image = load_image(frame.image_path)
            final = frame_meshes(result, index)
            overlay, side = renderer.views(image, final, result.K, side_angles=(float(angles[index]), ))
            panels, titles = [image], [frame.name]
            for stage in shown[:-1]:
                panels.append(renderer.overlay(image, frame_meshes(result, index, stage), result.K))
                titles.append(captions[stage])
            panels += [overlay, side]
            titles += [captions['final'], f'turned {angles[index] % 360:.0f} deg']
            writer.write(contact_sheet(panels, titles, columns=len(panels)))
    result.timing['video'] = round(time.perf_counter() - started, 2)
    if writer.note:
        result.notes[writer.note] = len(result.samples)
    files.update(video=writer.path, video_frames=writer.count, video_size=list(writer.size), video_fps=fps,
                 video_codec='GIF (Pillow)' if writer.gif else "MPEG-4 Part 2 in MP4 ('mp4v', OpenCV's FFmpeg)")
    data = video_parameters(result)
    data['files'] = files
    work = sum(result.timing.get(key, 0.0) for key in ('frames', 'smoothing', 'meshes', 'video'))
    data['timing_s'] = dict(result.timing, seconds_per_frame=round(work / len(result.samples), 3))
    files['parameters'] = osp.join(out_dir, 'parameters.json')
    with open(files['parameters'], 'w') as f:
        json.dump(data, f, indent=1)
    return files
