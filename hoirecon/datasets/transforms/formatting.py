"""Packing a transformed sample into the model's inputs and an :class:`~hoirecon.structures.HOIDataSample`."""
from typing import Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData

from hoirecon.registry import TRANSFORMS
from hoirecon.structures import HOIDataSample

#: Ground-truth fields copied (as float32 with a leading instance dim of 1) when present.
GT_FIELDS = ('global_orient', 'body_pose', 'hoi_R', 'hoi_t', 'object_R', 'object_t', 'rel_R', 'rel_t', 'joints_3d',
             'joints_2d', 'object_kpts_3d', 'object_kpts_2d', 'object_kpts_weights')
#: Detector outputs available at test time (the refiner's inputs), copied into ``observations`` when present.
OBSERVATION_FIELDS = ('person_kpts', 'corr_x3d', 'corr_x2d', 'corr_w2d', 'object_mask_box', 'object_mask_grid')
#: ``body_target`` -> the (betas, translation) keys of the results that become ``betas`` / ``transl``.
BODY_TARGETS = {'male': ('betas_male', 'transl_male'), 'gendered': ('betas', 'transl')}
DEFAULT_META_KEYS = ('img_id', 'img_path', 'object_name', 'cam_K', 'box_center', 'box_size', 'focal', 'principal',
                     'visibility', 'sequence', 'frame', 'frame_index', 'kinect', 'gender', 'corr_path', 'hoi_box',
                     'crop_affine',
                     'crop_rotation', 'img_shape', 'ori_shape')


def pack_hoi_targets(results: dict, body_target: str = 'male') -> Tuple[InstanceData, InstanceData]:
    """The HOI ground truth and the test-time observations of a transformed sample, as :class:`PackHOIInputs` packs
    them (its docstring lists the fields): ``(gt_instances, observations)``, each field with a leading 1; fields
    missing from ``results`` are left out. :class:`~hoirecon.datasets.transforms.PackCHOREInputs` packs the same
    ground truth for its test pipelines, so the evaluators read one layout."""
    if body_target not in BODY_TARGETS:
        raise ValueError(f'body_target must be one of {sorted(BODY_TARGETS)}, got {body_target!r}.')
    gt = InstanceData()
    betas_key, transl_key = BODY_TARGETS[body_target]
    for name, key in (('betas', betas_key), ('transl', transl_key)) + tuple(zip(GT_FIELDS, GT_FIELDS)):
        if key in results:
            gt[name] = torch.as_tensor(np.asarray(results[key], np.float32))[None]
    if 'object_label' in results:
        gt.object_label = torch.tensor([int(results['object_label'])], dtype=torch.long)
    observations = InstanceData()
    for key in OBSERVATION_FIELDS:
        if key in results:
            observations[key] = torch.as_tensor(np.asarray(results[key], np.float32))[None]
    return gt, observations


@TRANSFORMS.register_module()
class PackHOIInputs(BaseTransform):
    """Pack the image as a (3, H, W) uint8 tensor and the targets as a :class:`HOIDataSample`.

    No normalisation happens here: the model's data preprocessor divides by 255 and applies the ImageNet
    mean / std (StackFLOW skips the division by 255; see ``docs/datasets.md``).

    ``gt_instances`` (torch, one instance, so every field has a leading 1): ``betas`` (1, 10), ``transl`` (1, 3)
    [m] of the body model chosen by ``body_target``; ``global_orient`` (1, 3, 3), ``body_pose`` (1, 21, 3, 3),
    ``hoi_R``, ``hoi_t``, ``object_R``, ``object_t``, ``rel_R``, ``rel_t`` [camera frame, m]; ``object_label``
    (1,) int64; ``joints_3d`` (1, 22, 3) camera frame; ``joints_2d`` (1, 22, 2) and ``object_kpts_2d``
    (1, 16, 2) crop coordinates; ``object_kpts_3d`` (1, 16, 3) object frame; ``object_kpts_weights`` (1, 16).
    ``observations`` (detector outputs the refiner reads): ``person_kpts`` (1, 25, 3) OpenPose (x px, y px, conf)
    in the (rotated) image; ``corr_x3d`` (1, N, 3), ``corr_x2d`` (1, N, 2), ``corr_w2d`` (1, N, 2) object
    correspondences (:class:`LoadCorrespondences`); ``object_mask_box`` (1, 4) xyxy px and ``object_mask_grid``
    (1, S, S) the object mask as :func:`~hoirecon.models.refiners.pnp.mask_grid` gives it (the PnP check). Fields
    missing from the results are left out. Metainfo: the ``meta_keys`` present in the results (``frame_index``: the
    video frame number of a sequence frame).

    Args:
        body_target: 'male' (``betas_male``/``transl_male``: the male SMPL-H that StackFLOW trains) or 'gendered'
            (the subject's own fit, e.g. for ground-truth meshes with a gendered evaluator).
        meta_keys: Result keys copied into the metainfo.
    """

    def __init__(self, body_target: str = 'male', meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        if body_target not in BODY_TARGETS:
            raise ValueError(f'PackHOIInputs: body_target must be one of {sorted(BODY_TARGETS)}, got {body_target!r}.')
        self.body_target = body_target
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f'PackHOIInputs: img must be (H, W, 3) uint8 RGB, got {img.shape} {img.dtype} '
                             f'({results.get("img_path")}).')
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        gt, observations = pack_hoi_targets(results, self.body_target)
        sample = HOIDataSample()
        sample.gt_instances = gt
        sample.observations = observations
        sample.set_metainfo({key: results[key] for key in self.meta_keys if key in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(body_target={self.body_target!r}, meta_keys={self.meta_keys})'
