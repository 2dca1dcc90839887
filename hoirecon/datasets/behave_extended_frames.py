"""BEHAVE-extended (30 fps) frames: the annotation cache's frame source and the registered dataset.

The 30 fps fits (``behave-30fps-params-v1``, merged and trimmed as StackFLOW does,
:mod:`hoirecon.datasets.behave_extended_io`) give the targets; the frames, person masks, half-resolution full object
masks and correspondences come from ``raw_images/``, ``person_mask/`` and ``object_coor_maps_extend/``; the cameras
from the BEHAVE calibration named by ``sequences/<seq>/info.json``. The cache holds the same fields as BEHAVE's
(:data:`~hoirecon.datasets.annotations.ANNOTATION_FIELDS`), so the transforms, the model and the metrics are the
same; the dataset orders its frames by sequence, kinect and time, so that a camera of a sequence is one contiguous
run of frames (what the sequence metric and the sequence refiner read).

Visibility follows StackFLOW's BEHAVE-extended rule (``1 - |full AND person| / |full|``, masks binarised with
``> 0``, :func:`~hoirecon.evaluation.functional.visibility.object_visibility_ratio_from_person`): an empty full mask
gives NaN (a frame that the ``vis > 0.3`` rows keep), and a frame without a ``mask_full.jpg`` counts as fully visible
(ratio 1; its object box is then the projection of the fitted template).
"""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np

from hoirecon.registry import DATASETS
from . import behave_extended_io as ext
from .annotations import BEHAVEFrameSource, SequenceFits, read_sequence_calibration, video_image_record
from .behave_frames import BEHAVEFrameDataset
from .behave_io import BehaveFormatError

#: Frame rate of the BEHAVE videos that the 30 fps fits register (BEHAVE's video2images: fps 30 from 3.0 s).
VIDEO_FPS = 30


def video_frame_index(frame_time: str) -> int:
    """The video frame number of a frame time, ``round(seconds * 30)``: ``'t0003.033'`` -> 91 (consecutive frames of
    the video differ by 1, so a missing registration shows as a gap)."""
    return int(round(ext.frame_seconds(frame_time) * VIDEO_FPS))


#: StackFLOW-derived OpenPose files (docs/datasets.md): ``openpose/<seq>/<frame>/k<k>.color_keypoints.json``.
OPENPOSE_FOLDER = 'openpose'


def keypoints_path(root: str, name: str, frame_time: str, kinect: int) -> str:
    """``openpose/<seq>/<frame_time>/k<k>.color_keypoints.json`` (OpenPose JSON; optional)."""
    return osp.join(root, OPENPOSE_FOLDER, name, frame_time, f'k{int(kinect)}.color_keypoints.json')


class BEHAVEExtendedFrameSource(BEHAVEFrameSource):
    """The frame source of BEHAVE-extended for :func:`~hoirecon.datasets.annotations.build_annotations`.

    Args:
        data_root: BEHAVE root with the 30 fps folders (docs/datasets.md, "BEHAVE-extended").
    """
    name = 'behave_extended'
    title = 'BEHAVE-extended'

    def split_sequences(self, split: str) -> List[str]:
        """The sequences of ``split.json``'s ``split`` that have 30 fps fits; second parts of the six two-part
        recordings are left out (their frames are merged into the first part)."""
        names = super().split_sequences(split)
        second_parts = set(ext.SPLIT_SEQUENCES.values())
        available = set(ext.list_sequences(self.data_root))
        missing = [name for name in names if name not in second_parts and name not in available]
        if missing:
            raise FileNotFoundError(
                f'BEHAVE-extended: {len(missing)} {split} sequence(s) of {osp.join(self.data_root, "split.json")} '
                f'({", ".join(missing[:3])}{", ..." if len(missing) > 3 else ""}) have no 30 fps fits under '
                f'{osp.join(self.data_root, ext.PARAMS_FOLDER)}; download behave-30fps-params-v1 there or drop them '
                f'from the split. {ext.LAYOUT_HINT}')
        return [name for name in names if name not in second_parts]

    def read_sequence(self, name: str, kinects: Sequence[int]) -> SequenceFits:
        """The merged, trimmed 30 fps fits of ``name`` (world frame) with the calibration of its kinects."""
        info, calibrations = read_sequence_calibration(self.data_root, name, kinects)
        fits = ext.load_sequence_fits(self.data_root, name)
        smpl, obj = fits['smpl'], fits['object']
        frames = [str(t) for t in smpl['frame_times']]
        if not frames:
            raise BehaveFormatError(f'{ext.sequence_params_dir(self.data_root, name)}: the fits have no frames.')
        return SequenceFits(name=name, gender=info['gender'], object_name=info['cat'], frames=frames,
                            pose=smpl['poses'].astype(np.float64), betas=smpl['betas'].astype(np.float64),
                            trans=smpl['trans'].astype(np.float64), object_angle=obj['angles'].astype(np.float64),
                            object_trans=obj['trans'].astype(np.float64), kinects=calibrations)

    def read_image(self, sequence: str, frame: str, kinect: int, size: Tuple[int, int]) -> Optional[dict]:
        """Paths, boxes, visibility and keypoints of one frame; None when its video frame was not extracted."""
        root = self.data_root
        return video_image_record(root, ext.image_path(root, sequence, frame, kinect),
                                  ext.person_mask_path(root, sequence, frame, kinect),
                                  ext.object_mask_path(root, sequence, frame, kinect),
                                  keypoints_path(root, sequence, frame, kinect),
                                  ext.correspondences_path(root, sequence, frame, kinect), size,
                                  f'BEHAVE-extended. {ext.LAYOUT_HINT}')

    def image_id(self, sequence: str, frame: str, kinect: int) -> str:
        return ext.image_id(sequence, frame, kinect)


@DATASETS.register_module()
class BEHAVEExtendedDataset(BEHAVEFrameDataset):
    """BEHAVE-extended frames (30 fps) with StackFLOW's targets, ordered by sequence, kinect and time.

    Same arguments, data infos and transforms as :class:`~hoirecon.datasets.behave_frames.BEHAVEFrameDataset`; the
    cache is ``<annotation_dir>/behave_extended_<split>.npz``. The frames of one kinect of one sequence are
    consecutive and in time order (for :class:`~hoirecon.evaluation.metrics.HOISequenceChamferMetric` and the
    sequence loop, :class:`hoirecon.engine.loops.SequenceTestLoop`); each info also has ``frame_index``, the
    number of its video frame (:func:`video_frame_index`: frames without a registration leave gaps). StackFLOW
    scores camera 0 of the test sequences (``kinects=(0,)``).

    Example:
        >>> # python tools/make_synthetic_sequences.py --out data/behave_extended_synthetic
        >>> dataset = BEHAVEExtendedDataset('data/behave_extended_synthetic', split='test', kinects=(0,))
    """
    METAINFO = dict(dataset_name='behave_extended', classes=BEHAVEFrameDataset.METAINFO['classes'])
    FRAME_SOURCE = BEHAVEExtendedFrameSource

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        for info in data_list:
            info['frame_index'] = video_frame_index(info['frame'])
        data_list.sort(key=lambda info: (info['sequence'], info['kinect'], info['frame_index']))
        return data_list
