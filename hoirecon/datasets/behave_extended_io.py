"""Readers of BEHAVE-extended (the 30 fps registrations of BEHAVE) and StackFLOW's fixes of its sequences.

Layout (docs/datasets.md, "BEHAVE-extended")::

    ROOT/behave-30fps-params-v1/<seq>/smpl_fit_all.npz     poses (N, 156), betas (N, 10), trans (N, 3), frame_times (N,)
    ROOT/behave-30fps-params-v1/<seq>/object_fit_all.npz   angles (N, 3), trans (N, 3), frame_times (N,)
    ROOT/raw_images/<seq>/<frame_time>/k<k>.color.jpg       frames of the videos (frame_time e.g. 't0003.033')
    ROOT/person_mask/<seq>/<frame_time>/k<k>.person_mask.jpg
    ROOT/object_coor_maps_extend/<seq>/<frame_time>/k<k>.{mask_full.jpg, obj_coor.pkl}

Fits are in the BEHAVE world (Kinect 1) like the 1 fps fits, so :mod:`hoirecon.datasets.behave_io` converts them to
the cameras. Not every video frame has a registration: ``frame_times`` names the frames that do.

StackFLOW's fixes, applied in memory here (StackFLOW rewrites the files): the six sequences recorded in two parts are
merged into the first name (the second part's fits appended in order), ``Date02_Sub02_backpack_twohand`` keeps its
first ``len(object)`` SMPL frames and ``Date06_Sub07_backpack_back`` drops its first 30 SMPL frames, after which the
SMPL and object ``frame_times`` must agree.
"""
import os
import os.path as osp
from typing import Dict, List

import numpy as np

from .behave_io import BehaveFormatError, NUM_KINECTS, SMPLH_POSE_DIM, _field
from hoirecon.structures.body_skeletons import NUM_BETAS

PARAMS_FOLDER = 'behave-30fps-params-v1'
IMAGE_FOLDER = 'raw_images'
PERSON_MASK_FOLDER = 'person_mask'
OBJECT_MAPS_FOLDER = 'object_coor_maps_extend'
#: Sequences recorded in two parts: first name -> second part (merged into the first name).
SPLIT_SEQUENCES = {
    'Date02_Sub02_monitor_move': 'Date02_Sub02_monitor_move2',
    'Date02_Sub02_toolbox': 'Date02_Sub02_toolbox_part2',
    'Date03_Sub04_boxtiny': 'Date03_Sub04_boxtiny_part2',
    'Date03_Sub04_yogaball_play': 'Date03_Sub04_yogaball_play2',
    'Date03_Sub05_chairwood': 'Date03_Sub05_chairwood_part2',
    'Date04_Sub05_monitor': 'Date04_Sub05_monitor_part2',
}
#: Sequences whose SMPL fits are longer than the object fits: how StackFLOW trims the SMPL frames.
SMPL_TRIMS = {
    'Date02_Sub02_backpack_twohand': 'object_length',  # 1419 SMPL frames, 1261 object frames: keep the first 1261
    'Date06_Sub07_backpack_back': 'drop_first_30',     # 1441 SMPL frames, 1411 object frames: drop the first 30
}
LAYOUT_HINT = 'See docs/datasets.md ("BEHAVE-extended") for the layout.'


def _require(path: str, what: str) -> str:
    if not osp.exists(path):
        raise FileNotFoundError(f'BEHAVE-extended {what} not found: {path}. {LAYOUT_HINT}')
    return path


def _load_npz(path: str, what: str) -> dict:
    _require(path, what)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (ValueError, OSError, EOFError) as err:
        raise BehaveFormatError(f'{path}: cannot read {what} ({type(err).__name__}: {err}); re-download the '
                                'BEHAVE-extended parameters.') from err


def _frame_times(data: dict, path: str, num: int) -> np.ndarray:
    if 'frame_times' not in data:
        raise BehaveFormatError(f"{path}: missing key 'frame_times' (found {sorted(data)}); expected (N,) strings "
                                "like 't0003.033'.")
    times = np.asarray(data['frame_times']).astype(str).reshape(-1)
    if len(times) != num:
        raise BehaveFormatError(f"{path}: 'frame_times' has {len(times)} entries for {num} frames of fits.")
    return times


def load_smpl_fit_all(path: str) -> Dict[str, np.ndarray]:
    """Read ``smpl_fit_all.npz``: ``poses`` (N, 156) axis-angle, ``betas`` (N, 10), ``trans`` (N, 3) m (world),
    ``frame_times`` (N,) str."""
    data = _load_npz(path, 'SMPL-H fits (smpl_fit_all.npz)')
    num = len(np.asarray(data.get('poses', [])))
    out = dict(poses=_field(data, 'poses', (num, SMPLH_POSE_DIM), path),
               betas=_field(data, 'betas', (num, NUM_BETAS), path), trans=_field(data, 'trans', (num, 3), path))
    out['frame_times'] = _frame_times(data, path, num)
    return out


def load_object_fit_all(path: str) -> Dict[str, np.ndarray]:
    """Read ``object_fit_all.npz``: ``angles`` (N, 3) axis-angle, ``trans`` (N, 3) m (world), ``frame_times`` (N,)."""
    data = _load_npz(path, 'object fits (object_fit_all.npz)')
    num = len(np.asarray(data.get('angles', [])))
    out = dict(angles=_field(data, 'angles', (num, 3), path), trans=_field(data, 'trans', (num, 3), path))
    out['frame_times'] = _frame_times(data, path, num)
    return out


def _concat(first: dict, second: dict) -> dict:
    return {key: np.concatenate([first[key], second[key]], axis=0) for key in first}


def _slice(fit: dict, index: slice) -> dict:
    return {key: value[index] for key, value in fit.items()}


def sequence_params_dir(root: str, name: str) -> str:
    """``ROOT/behave-30fps-params-v1/<name>``."""
    return osp.join(root, PARAMS_FOLDER, name)


def load_sequence_fits(root: str, name: str) -> Dict[str, Dict[str, np.ndarray]]:
    """The SMPL-H and object fits of one sequence with StackFLOW's merges and trims applied.

    Returns:
        ``{'smpl': load_smpl_fit_all(...), 'object': load_object_fit_all(...)}`` with equal ``frame_times``.

    Raises:
        BehaveFormatError: when, after the fixes, the two lists of frames differ (naming both files).
    """
    folders = [name] + ([SPLIT_SEQUENCES[name]] if name in SPLIT_SEQUENCES else [])
    smpl = obj = None
    for folder in folders:
        s = load_smpl_fit_all(osp.join(sequence_params_dir(root, folder), 'smpl_fit_all.npz'))
        o = load_object_fit_all(osp.join(sequence_params_dir(root, folder), 'object_fit_all.npz'))
        smpl, obj = (s, o) if smpl is None else (_concat(smpl, s), _concat(obj, o))
    trim = SMPL_TRIMS.get(name)
    if trim == 'object_length':
        smpl = _slice(smpl, slice(0, len(obj['frame_times'])))
    elif trim == 'drop_first_30':
        smpl = _slice(smpl, slice(30, None))
    if not np.array_equal(smpl['frame_times'], obj['frame_times']):
        where = sequence_params_dir(root, name)
        raise BehaveFormatError(f'{where}: smpl_fit_all.npz and object_fit_all.npz list different frames '
                                f"({len(smpl['frame_times'])} vs {len(obj['frame_times'])} after the known fixes); "
                                'the files do not match the BEHAVE-extended release.')
    return dict(smpl=smpl, object=obj)


def list_sequences(root: str) -> List[str]:
    """Sequences with 30 fps fits, sorted; second parts are left out (they are merged into their first part).

    StackFLOW leaves out every folder whose name ends in '2'; that is the same set in the release (its six second
    parts end in '2'), and a folder ending in '2' that is not a known second part is kept here.
    """
    params = _require(osp.join(root, PARAMS_FOLDER), 'parameter folder')
    second_parts = set(SPLIT_SEQUENCES.values())
    return sorted(name for name in os.listdir(params)
                  if osp.isdir(osp.join(params, name)) and name not in second_parts)


def frame_seconds(frame_time: str) -> float:
    """``'t0003.033'`` -> 3.033 (seconds into the recording)."""
    if not (frame_time.startswith('t') and frame_time[1:].replace('.', '', 1).isdigit()):
        raise ValueError(f"BEHAVE-extended frame time {frame_time!r}: expected 't' and seconds, e.g. 't0003.033'.")
    return float(frame_time[1:])


def _check_kinect(kinect: int) -> int:
    if not 0 <= int(kinect) < NUM_KINECTS:
        raise ValueError(f'BEHAVE-extended kinect {kinect}: kinects are numbered 0..{NUM_KINECTS - 1}.')
    return int(kinect)


def image_path(root: str, name: str, frame_time: str, kinect: int) -> str:
    """``raw_images/<seq>/<frame_time>/k<k>.color.jpg``."""
    return osp.join(root, IMAGE_FOLDER, name, frame_time, f'k{_check_kinect(kinect)}.color.jpg')


def person_mask_path(root: str, name: str, frame_time: str, kinect: int) -> str:
    """``person_mask/<seq>/<frame_time>/k<k>.person_mask.jpg`` (StackFLOW's PointRend masks)."""
    return osp.join(root, PERSON_MASK_FOLDER, name, frame_time, f'k{_check_kinect(kinect)}.person_mask.jpg')


def object_mask_path(root: str, name: str, frame_time: str, kinect: int) -> str:
    """``object_coor_maps_extend/<seq>/<frame_time>/k<k>.mask_full.jpg`` (the unoccluded object render)."""
    return osp.join(root, OBJECT_MAPS_FOLDER, name, frame_time, f'k{_check_kinect(kinect)}.mask_full.jpg')


def correspondences_path(root: str, name: str, frame_time: str, kinect: int) -> str:
    """``object_coor_maps_extend/<seq>/<frame_time>/k<k>.obj_coor.pkl``."""
    return osp.join(root, OBJECT_MAPS_FOLDER, name, frame_time, f'k{_check_kinect(kinect)}.obj_coor.pkl')


def image_id(name: str, frame_time: str, kinect: int) -> str:
    """StackFLOW's image id ``'<day>_<sub>_<obj>_<act>_<frame>_<k>'``: day and subject numbers without their prefix,
    ``'none'`` for a sequence without an action, the frame's decimals kept (``'Date03_Sub04_boxtiny'``, ``'t0003.033'``,
    kinect 0 -> ``'3_4_boxtiny_none_003.033_0'``)."""
    parts = name.split('_')
    if len(parts) not in (3, 4) or not (parts[0].startswith('Date') and parts[1].startswith('Sub')):
        raise ValueError(f"BEHAVE sequence name {name!r}: expected 'Date<dd>_Sub<ss>_<object>[_<action>]'.")
    day, sub = str(int(parts[0][4:])), str(int(parts[1][3:]))
    action = parts[3] if len(parts) == 4 else 'none'
    frame_seconds(frame_time)
    return '_'.join([day, sub, parts[2], action, frame_time[2:], str(_check_kinect(kinect))])
