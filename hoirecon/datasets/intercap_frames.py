"""InterCap frames: the annotation cache's frame source and the registered dataset.

The SMPL-X fits (``res_1.pkl``) and object fits (``res_2.pkl``) of a sequence give the targets
(:mod:`hoirecon.datasets.intercap_io`); the frames, StackFLOW's person masks, half-resolution full object masks,
coordinate maps and OpenPose files come from the folders named there; the six cameras from
``Data/calibration_third``. The cache holds the same fields as BEHAVE's
(:data:`~hoirecon.datasets.annotations.ANNOTATION_FIELDS`), made for StackFLOW's InterCap training body model, the
neutral SMPL-X (``betas_male`` / ``transl_male`` / ``joints_3d`` hold the neutral model's, the field names are
BEHAVE's). The dataset orders its frames by sequence, camera and time, as
:class:`~hoirecon.datasets.behave_extended_frames.BEHAVEExtendedDataset` does.

Decisions:

- Hands: ``res_1.pkl`` stores 12 PCA coefficients per hand; the cache's ``hand_pose`` is the 15-joint axis-angle
  pose ``coefficients @ hands_components[:12] + hands_mean`` with the components and mean of the SMPL-X file of the
  fit's gender (smplx's ``use_pca=True`` with its default ``flat_hand_mean=False``, as the fitting and StackFLOW's
  ``smplx.create(..., num_pca_comps=12)`` use it). hoirecon's SMPL-X applies no hand mean, so the mean is in the
  stored pose; ``hand_mean=False`` leaves it out.
- Gender: the fits of the real release are gendered SMPL-X fits (StackFLOW reads them with its ``SUBID_GENDER``
  table and refits neutral betas, ``fit_smplx_neutral``); the synthetic set's fits are neutral (its manifest).
  ``fit_gender`` overrides both.
- Jaw, eye and expression parameters are read but not cached (the cache has no face fields; the synthetic fits keep
  them at rest, so the cached fields pose the synthetic bodies exactly).
- Visibility: StackFLOW's InterCap rule ``1 - |full AND person| / |full|`` (masks read with
  :func:`~hoirecon.datasets.behave_io.load_mask`, then set where > 0,
  :func:`~hoirecon.evaluation.functional.visibility.object_visibility_ratio_from_person`): an empty full mask gives
  NaN, a frame without a full mask counts as visible (1; its object box is the projection of the fitted template),
  as in BEHAVE-extended.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from hoirecon.models.body_models.model_files import load_model_data, resolve_model_file
from hoirecon.objects import ObjectLibrary
from hoirecon.objects.catalogue import INTERCAP_OBJECTS
from hoirecon.registry import DATASETS
from . import intercap_io as io
from .annotations import BEHAVEFrameSource, KinectCalibration, SequenceFits, video_image_record
from .behave_frames import SYNTHETIC_MANIFEST, BEHAVEFrameDataset

#: StackFLOW's InterCap training body model: the neutral SMPL-X.
INTERCAP_BODY_MODEL = dict(type='SMPLX', model_path='surrogate', gender='neutral')
#: Gender of each InterCap subject, StackFLOW's ``SUBID_GENDER`` (its InterCap dataset utilities). The posepile
#: loader says subject 09 is female; the two sources disagree and StackFLOW's table is kept here.
SUBJECT_GENDER = {'01': 'male', '02': 'male', '03': 'female', '04': 'male', '05': 'male', '06': 'female',
                  '07': 'female', '08': 'female', '09': 'male', '10': 'male'}
#: StackFLOW's split file at the data root (it takes precedence over :func:`intercap_io.split_sequences`).
SPLIT_FILE = 'intercap_split.json'
CAMERAS = tuple(range(1, io.NUM_CAMERAS + 1))


def frame_name(index: int) -> str:
    """The cache's ``frame`` of frame number ``index``: ``'00042'``."""
    return f'{int(index):05d}'


def image_size(path: str) -> Tuple[int, int]:
    """(width, height) of an image file (the calibration files hold no image size)."""
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise io.InterCapFormatError(f'{path}: cannot decode the image (corrupt or not a jpg).')
    return image.shape[1], image.shape[0]


def hand_pca_to_axis_angle(coefficients: np.ndarray, components: np.ndarray, mean: Optional[np.ndarray]) -> np.ndarray:
    """(N, k) PCA coefficients -> (N, 45) axis-angle finger pose ``c @ components[:k] (+ mean)``."""
    coefficients = np.asarray(coefficients, np.float64)
    pose = coefficients @ np.asarray(components, np.float64)[:coefficients.shape[1]]
    return pose if mean is None else pose + np.asarray(mean, np.float64).reshape(1, -1)


class InterCapFrameSource(BEHAVEFrameSource):
    """The frame source of InterCap for :func:`~hoirecon.datasets.annotations.build_annotations`.

    Args:
        data_root: InterCap root (docs/datasets.md, "InterCap").
        fit_gender: Gender of the ``res_1.pkl`` fits: None reads 'neutral' for a synthetic set (its manifest) and
            :data:`SUBJECT_GENDER` otherwise; a gender forces it for every sequence. Sequences whose gender is not
            the training model's (neutral) get neutral betas fitted to their bodies.
        hand_mean: Add the SMPL-X file's hand mean to the PCA hand poses (smplx's ``flat_hand_mean=False``).
    """
    name = 'intercap'
    title = 'InterCap'
    body_model = INTERCAP_BODY_MODEL

    def __init__(self, data_root: str, fit_gender: Optional[str] = None, hand_mean: bool = True):
        super().__init__(data_root)
        self.fit_gender = fit_gender
        self.hand_mean = bool(hand_mean)
        self.model_path = INTERCAP_BODY_MODEL['model_path']
        self._hand_bases: Dict[str, dict] = {}

    def bind_body_model(self, body_model: dict):
        """Read the hand PCA bases from the files of the cache's body model (called by ``build_annotations``)."""
        self.model_path = body_model.get('model_path', self.model_path)
        self._hand_bases = {}

    def split_sequences(self, split: str) -> List[str]:
        """``intercap_split.json``'s ``split`` when the root has it, else :func:`intercap_io.split_sequences` of the
        sequences with images."""
        path = osp.join(self.data_root, SPLIT_FILE)
        splits = io.load_split(path) if osp.isfile(path) else io.split_sequences(io.list_sequences(self.data_root))
        if split not in splits:
            raise ValueError(f'unknown split {split!r}; InterCap splits are {sorted(splits)}.')
        return list(splits[split])

    def sequence_gender(self, name: str) -> str:
        if self.fit_gender is not None:
            return self.fit_gender
        manifest = osp.join(self.data_root, SYNTHETIC_MANIFEST)
        if osp.isfile(manifest):
            with open(manifest) as f:
                if json.load(f).get('params', {}).get('layout') == 'intercap':
                    return 'neutral'
        subject = io.parse_sequence_name(name)[0]
        if subject not in SUBJECT_GENDER:
            raise io.InterCapFormatError(f'InterCap subject {subject!r} of {name!r} has no gender in SUBJECT_GENDER '
                                         f'({sorted(SUBJECT_GENDER)}); pass fit_gender.')
        return SUBJECT_GENDER[subject]

    def hand_basis(self, gender: str) -> dict:
        """``{'left': (components (45, 45), mean (45,) or None), 'right': ...}`` of the SMPL-X file of ``gender``."""
        if gender not in self._hand_bases:
            model_path = self.model_path
            if model_path == 'surrogate':  # as the body model wrappers: built once into the cache
                from hoirecon.assets import ensure_surrogate_body
                model_path = ensure_surrogate_body(model_types=('smplx', ))
            path = resolve_model_file(model_path, 'smplx', gender)
            data = load_model_data(path)
            basis = {}
            for side, s in (('left', 'l'), ('right', 'r')):
                if f'hands_components{s}' not in data:
                    raise io.InterCapFormatError(f'{path}: no hands_components{s}; the InterCap fits need the '
                                                 'SMPL-X hand PCA basis.')
                mean = np.asarray(data.get(f'hands_mean{s}', np.zeros(45)), np.float64).reshape(45)
                basis[side] = (np.asarray(data[f'hands_components{s}'], np.float64), mean if self.hand_mean else None)
            self._hand_bases[gender] = basis
        return self._hand_bases[gender]

    def calibrations(self, name: str, kinects: Sequence[int]) -> Dict[int, KinectCalibration]:
        """The wanted cameras (1..6) that have a colour folder, camera -> world, with the size of their images."""
        out = {}
        for cam in sorted(set(int(k) for k in kinects) & set(CAMERAS)):
            folder = osp.dirname(io.image_path(self.data_root, name, cam, 0))
            images = sorted(f for f in os.listdir(folder) if f.endswith('.jpg')) if osp.isdir(folder) else []
            if not images:
                continue
            camera = io.load_camera(io.calibration_path(self.data_root, cam))
            rot = camera['R'].T  # x_c = R x + T  ->  x = R^T x_c - R^T T
            out[cam] = KinectCalibration(camera['K'], image_size(osp.join(folder, images[0])), rot,
                                         -rot @ camera['T'])
        return out

    def read_sequence(self, name: str, kinects: Sequence[int]) -> SequenceFits:
        """The SMPL-X and object fits of ``name`` (world = camera 1), with the calibration of its cameras; the
        pose is SMPL-X's 55 joints (global, body, jaw, eyes, hands as 15-joint axis-angle)."""
        fit_dir = io.sequence_dir(self.data_root, name, fits=True)
        fits = io.load_smplx_fits(osp.join(fit_dir, 'res_1.pkl'))
        objects = io.load_object_fits(osp.join(fit_dir, 'res_2.pkl'))
        num = len(fits['betas'])
        if len(objects['angle']) != num:
            raise io.InterCapFormatError(f'{fit_dir}: res_1.pkl has {num} frames, res_2.pkl {len(objects["angle"])}.')
        gender = self.sequence_gender(name)
        basis = self.hand_basis(gender)
        hands = [hand_pca_to_axis_angle(fits[f'{side}_hand_pose'], *basis[side]) for side in ('left', 'right')]
        pose = np.concatenate([fits['global_orient'], fits['body_pose'], fits['jaw_pose'], fits['leye_pose'],
                               fits['reye_pose']], axis=1).astype(np.float64)
        pose = np.concatenate([pose] + hands, axis=1)
        return SequenceFits(name=name, gender=gender, object_name=io.sequence_object(name),
                            frames=[frame_name(i) for i in range(num)], pose=pose,
                            betas=fits['betas'].astype(np.float64), trans=fits['transl'].astype(np.float64),
                            object_angle=objects['angle'].astype(np.float64),
                            object_trans=objects['trans'].astype(np.float64),
                            kinects=self.calibrations(name, kinects))

    def read_image(self, sequence: str, frame: str, kinect: int, size: Tuple[int, int]) -> Optional[dict]:
        """Paths, boxes, visibility and keypoints of one image; None when the image does not exist."""
        root, index = self.data_root, int(frame)
        return video_image_record(root, io.image_path(root, sequence, kinect, index),
                                  io.person_mask_path(root, sequence, kinect, index),
                                  io.object_mask_path(root, sequence, kinect, index),
                                  io.openpose_path(root, sequence, kinect, index),
                                  io.object_coor_path(root, sequence, kinect, index), size,
                                  f'InterCap. {io.LAYOUT_HINT}')

    def image_id(self, sequence: str, frame: str, kinect: int) -> str:
        return io.image_id(sequence, kinect, int(frame))

    def object_library(self) -> ObjectLibrary:
        """InterCap's templates from ``<data_root>/objs`` (``01.ply`` .. ``10.ply``)."""
        return ObjectLibrary('intercap', template_dir=osp.join(self.data_root, 'objs'))


@DATASETS.register_module()
class InterCapDataset(BEHAVEFrameDataset):
    """InterCap frames with StackFLOW's targets for the neutral SMPL-X, ordered by sequence, camera and time.

    Same data infos and transforms as :class:`~hoirecon.datasets.behave_frames.BEHAVEFrameDataset` (``kinect`` is
    the camera, 1..6; ``frame`` the 5-digit frame number); the cache is ``<annotation_dir>/intercap_<split>.npz``.
    The frames of one camera of one sequence are consecutive and in time order (for
    :class:`~hoirecon.evaluation.metrics.HOISequenceChamferMetric` and the sequence loop); each info also has
    ``frame_index``, the frame number. StackFLOW scores camera 1 of the test sequences (``kinects=(1,)``).

    Args:
        kinects: Cameras (default all six).
        body_model: The training body model (default :data:`INTERCAP_BODY_MODEL`, the neutral SMPL-X).
        **kwargs: :class:`~hoirecon.datasets.behave_frames.BEHAVEFrameDataset`'s other arguments.

    Example:
        >>> # python tools/make_synthetic_sequences.py --layout intercap --out data/intercap_synthetic
        >>> dataset = InterCapDataset('data/intercap_synthetic', split='test', kinects=(1,))
    """
    METAINFO = dict(dataset_name='intercap', classes=INTERCAP_OBJECTS)
    FRAME_SOURCE = InterCapFrameSource

    def __init__(self, data_root: str, split: str = 'train', kinects: Sequence[int] = CAMERAS,
                 body_model: dict = INTERCAP_BODY_MODEL, **kwargs):
        super().__init__(data_root, split=split, kinects=kinects, body_model=body_model, **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        for info in data_list:
            info['frame_index'] = int(info['frame'])
        data_list.sort(key=lambda info: (info['sequence'], info['kinect'], info['frame_index']))
        return data_list
