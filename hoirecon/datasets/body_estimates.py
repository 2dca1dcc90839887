"""Body estimates beside the images: BEHAVE's ``k{k}.mocap.json`` (a FrankMocap estimate of the person, which CHORE
starts its body fit from) read and written in its own layout.

The file (BEHAVE frame folders; CHORE's example frame ships one; docs/chore.md, "Body start")::

    {"pose": [72 floats], "betas": [10 floats]}

``pose`` is SMPL's axis-angle vector, 24 joints x 3: the global orientation (camera frame), then the 23 body joints in
SMPL's order. SMPL-H and SMPL-X share SMPL's first 22 joints (root + 21 body joints); SMPL's joints 22 and 23 are its
hands, which SMPL-H and SMPL-X replace by fingers, so readers for those bodies take the first 22 and writers of a
21-joint body write zeros there. ``betas`` are the estimate's shape (the first 10 are used). There is no translation:
FrankMocap's camera is weak-perspective, so the reader of the estimate places the body itself (CHORE: from its
fields, at its fixed depth).

:func:`body_estimate_path` names the file of an image, :func:`read_body_estimate` / :func:`write_body_estimate` read
and write it (rotation matrices in, rotation matrices out), the transform
:class:`~hoirecon.datasets.transforms.LoadBodyEstimate` loads it into a pipeline, and :class:`DumpBodyEstimates` (a
test-loop "metric", kept beside the format it writes) writes a body network's predictions in it
(tools/misc/export_body_estimates.py), so that a body network of this toolbox can stand in for FrankMocap.
"""
import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.structures import BaseDataElement
from scipy.spatial.transform import Rotation

from hoirecon.registry import METRICS
from .behave_io import BehaveFormatError

#: The estimate's file beside ``k{k}.color.jpg`` (BEHAVE / CHORE).
BODY_ESTIMATE_SUFFIX = '.mocap.json'
#: SMPL's pose length (24 joints x 3); the first 22 joints are shared by SMPL-H and SMPL-X.
SMPL_POSE_LENGTH = 72
NUM_SHARED_JOINTS = 22
NUM_BETAS = 10


def body_estimate_path(img_path: str) -> str:
    """The estimate file of an image: ``.../k1.color.jpg`` -> ``.../k1.mocap.json`` (other names: the extension
    replaced, ``frame.jpg`` -> ``frame.mocap.json``)."""
    if img_path.endswith('.color.jpg'):
        return img_path[:-len('.color.jpg')] + BODY_ESTIMATE_SUFFIX
    return osp.splitext(img_path)[0] + BODY_ESTIMATE_SUFFIX


def read_body_estimate(path: str, num_body_joints: int = 21) -> Dict[str, np.ndarray]:
    """Read a ``mocap.json`` (module docstring).

    Args:
        path: the file.
        num_body_joints: body joints after the root that the reader's body model has (21: SMPL-H / SMPL-X; 23: SMPL,
            whose last two, the hands, are taken as they are).

    Returns:
        ``global_orient`` (3, 3), ``body_pose`` (num_body_joints, 3, 3) rotation matrices and ``betas`` (10,),
        float32.

    Raises:
        FileNotFoundError: no file (the message names the tool that writes one).
        BehaveFormatError: not JSON, or a missing / short / non-finite ``pose`` or ``betas``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'body estimate not found: {path}. BEHAVE ships FrankMocap estimates as k*.mocap.json beside the '
            'images; for other data write them with tools/misc/export_body_estimates.py (a body network of this '
            "toolbox), or start the CHORE-style fit from its fields: fitting=dict(body_start='fields').")
    try:
        with open(path, 'r') as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BehaveFormatError(f'{path}: not valid JSON ({err}); expected {{"pose": [72 floats], "betas": '
                                '[10 floats]}. Regenerate the file.') from err
    needed = 3 * (1 + num_body_joints)
    out = {}
    for key, length in (('pose', needed), ('betas', NUM_BETAS)):
        if not isinstance(data, dict) or key not in data:
            raise BehaveFormatError(f'{path}: no field {key!r}; expected {{"pose": [72 floats], "betas": '
                                    '[10 floats]} (a FrankMocap estimate). Regenerate the file.')
        try:
            value = np.asarray(data[key], dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as err:
            raise BehaveFormatError(f'{path}: field {key!r} is not a list of numbers ({err}).') from err
        if value.size < length or not np.isfinite(value[:length]).all():
            raise BehaveFormatError(f'{path}: field {key!r} has {value.size} values (finite: '
                                    f'{bool(np.isfinite(value).all())}); at least {length} finite ones are needed.')
        out[key] = value[:length]
    rotations = Rotation.from_rotvec(out['pose'].reshape(-1, 3)).as_matrix().astype(np.float32)
    return dict(global_orient=rotations[0], body_pose=rotations[1:], betas=out['betas'].astype(np.float32))


def write_body_estimate(path: str, global_orient: np.ndarray, body_pose: np.ndarray, betas: np.ndarray) -> None:
    """Write a ``mocap.json`` (module docstring) of a body given as rotation matrices.

    Args:
        global_orient: (3, 3) camera-frame orientation. body_pose: (J, 3, 3) body joints after the root, J >= 21
            (SMPL-H / SMPL-X: 21, written with zero hand joints; SMPL: 23).
        betas: (>= 10,) shape; the first 10 are written.
    """
    body_pose = np.asarray(body_pose, np.float64)
    if body_pose.ndim != 3 or body_pose.shape[1:] != (3, 3) or body_pose.shape[0] < NUM_SHARED_JOINTS - 1:
        raise ValueError(f'write_body_estimate({path}): body_pose must be (J >= 21, 3, 3), got {body_pose.shape}.')
    rotations = np.concatenate([np.asarray(global_orient, np.float64).reshape(1, 3, 3), body_pose])
    error = np.abs(rotations @ rotations.transpose(0, 2, 1) - np.eye(3)).max((1, 2))
    bad = np.flatnonzero(~(error < 1e-3) | ~(np.linalg.det(rotations) > 0))
    if bad.size:
        raise ValueError(f'write_body_estimate({path}): joint(s) {bad.tolist()} (0 = global_orient) are not rotation '
                         f'matrices (|R R^T - I| up to {float(np.nan_to_num(error, nan=np.inf).max()):.3g}); the model '
                         'predicted no valid body (an untrained checkpoint?).')
    pose = np.zeros(SMPL_POSE_LENGTH)
    count = min(len(rotations), SMPL_POSE_LENGTH // 3)
    pose[:3 * count] = Rotation.from_matrix(rotations[:count]).as_rotvec().reshape(-1)
    betas = np.asarray(betas, np.float64).reshape(-1)[:NUM_BETAS]
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(dict(pose=[float(v) for v in pose], betas=[float(v) for v in betas]), f, indent=1)
    os.replace(tmp, path)  # never a half-written estimate


def _numpy(value) -> np.ndarray:
    """A tensor or array as a float64 numpy array (on the CPU, detached)."""
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value, np.float64)


#: The predicted body fields written (rotation matrices; the first instance of each image).
WRITTEN_FIELDS = ('global_orient', 'body_pose', 'betas')


@METRICS.register_module()
class DumpBodyEstimates(BaseMetric):
    """Write ``pred_instances``' body of every test image as ``<image stem>.mocap.json``.

    Args:
        out_root: None: beside each image (``.../k1.color.jpg`` -> ``.../k1.mocap.json``, BEHAVE's place); else the
            same relative path under this folder (``data_root`` is cut from the image path first).
        data_root: the dataset root the image paths start with (needed with ``out_root``).
        overwrite: replace existing files (default: keep them and count them as skipped).
        pred_field: the instances written ('init_instances': a refined model's network body).
    """

    default_prefix = 'body_estimates'

    def __init__(self, out_root: Optional[str] = None, data_root: Optional[str] = None, overwrite: bool = False,
                 pred_field: str = 'pred_instances', collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if out_root is not None and data_root is None:
            raise ValueError('DumpBodyEstimates: out_root needs data_root (the part of the image paths replaced).')
        self.out_root, self.data_root = out_root, data_root
        self.overwrite, self.pred_field = overwrite, pred_field

    def target_path(self, img_path: str) -> str:
        """Where the estimate of ``img_path`` goes."""
        path = body_estimate_path(img_path)
        if self.out_root is None:
            return path
        relative = osp.relpath(osp.abspath(path), osp.abspath(self.data_root))
        if relative.startswith('..'):
            raise ValueError(f'DumpBodyEstimates: {img_path} is not under data_root {self.data_root}.')
        return osp.join(self.out_root, relative)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            img_path = sample.get('img_path')
            instances = sample.get(self.pred_field)
            if img_path is None or instances is None:
                raise KeyError(f'DumpBodyEstimates: a sample without img_path or {self.pred_field} (keys: '
                               f'{sorted(sample)}); keep img_path in the pack meta_keys.')
            if isinstance(instances, BaseDataElement):
                instances = instances.to_dict()
            missing = [key for key in WRITTEN_FIELDS if key not in instances]
            if missing:
                raise KeyError(f'DumpBodyEstimates: {self.pred_field} of {img_path} has no {missing}: the model '
                               'predicts no parametric body (a body network is needed, e.g. configs/'
                               'stackflow_synthetic.py).')
            path = self.target_path(str(img_path))
            if osp.isfile(path) and not self.overwrite:
                self.results.append(dict(written=0, skipped=1))
                continue
            body = {key: _numpy(instances[key]) for key in WRITTEN_FIELDS}
            write_body_estimate(path, body['global_orient'].reshape(-1, 3, 3)[0],
                                body['body_pose'].reshape(-1, *body['body_pose'].shape[-3:])[0],
                                body['betas'].reshape(-1, body['betas'].shape[-1])[0])
            self.results.append(dict(written=1, skipped=0))

    def compute_metrics(self, results: List[Dict[str, int]]) -> Dict[str, float]:
        return dict(written=float(sum(r['written'] for r in results)),
                    skipped=float(sum(r['skipped'] for r in results)))


__all__ = ['BODY_ESTIMATE_SUFFIX', 'DumpBodyEstimates', 'body_estimate_path', 'read_body_estimate',
           'write_body_estimate']
