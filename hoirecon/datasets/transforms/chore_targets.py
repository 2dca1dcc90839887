"""CHORE-style query points and their field targets, computed on the fly from the posed body and object meshes, and
the packing of the 5-channel crop (docs/chore.md)."""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData

from hoirecon.models.chore.geometry import MeshDistance, group_parts, sample_frustum, sample_surface
from hoirecon.objects import ObjectLibrary
from hoirecon.registry import BODY_MODELS, TRANSFORMS
from hoirecon.structures import HOIDataSample
from ..behave_io import load_mask
from .formatting import BODY_TARGETS, pack_hoi_targets
from .loading import BODY_ESTIMATE_FIELDS

#: Targets written by :class:`CHOREQueryTargets` and packed into ``gt_instances`` by :class:`PackCHOREInputs`.
CHORE_GT_FIELDS = ('query_points', 'udf_human', 'udf_object', 'part_labels', 'centre_offset', 'object_rot6d')
CHORE_META_KEYS = ('img_id', 'img_path', 'cam_K', 'ori_shape', 'img_shape', 'focal', 'principal', 'box_center',
                   'box_size', 'crop_affine', 'object_name', 'object_label')


def posed_body(body_model, results: dict) -> Tuple[np.ndarray, np.ndarray]:
    """(V, 3) camera-frame vertices and (F, 3) faces of the training body model posed by an annotation-cache
    record (``betas_male`` / ``transl_male``, the fit's ``global_orient``, ``body_pose`` and finger ``hand_pose``)."""
    def t(key):
        return torch.as_tensor(np.asarray(results[key], np.float32))[None]

    kwargs = dict(betas=t('betas_male'), global_orient=t('global_orient'), body_pose=t('body_pose'),
                  transl=t('transl_male'))
    if 'hand_pose' in results and body_model.model_type in ('smplh', 'smplx'):
        hands = t('hand_pose')
        kwargs.update(left_hand_pose=hands[:, :15], right_hand_pose=hands[:, 15:])
    with torch.no_grad():
        out = body_model(**kwargs)
    return out.vertices[0].double().numpy(), body_model.faces


def field_targets(points: np.ndarray, body: MeshDistance, body_parts: np.ndarray, obj: MeshDistance,
                  object_t: np.ndarray) -> dict:
    """The targets at (N, 3) camera-frame points: ``udf_human`` / ``udf_object`` (N,) exact unsigned distances to the
    meshes (not clamped), ``part_labels`` (N,) the part of the body vertex nearest to the closest surface point
    (of the closest triangle's three vertices), ``centre_offset`` (N, 3) = ``object_t - point``."""
    d_h, closest, tri = body.query(points)
    corners = body.faces[tri]  # (N, 3) vertex ids
    nearest = np.linalg.norm(body.vertices[corners] - closest[:, None], axis=-1).argmin(1)
    d_o, _, _ = obj.query(points)
    return dict(udf_human=d_h, udf_object=d_o, part_labels=body_parts[corners[np.arange(len(points)), nearest]],
                centre_offset=np.asarray(object_t, np.float64)[None] - points)


@TRANSFORMS.register_module()
class CHOREQueryTargets(BaseTransform):
    """Sample query points around the posed meshes and in the crop's frustum, with their exact field targets.

    The points (CHORE / IF-Net / PIFu): ``num_points * (1 - uniform_ratio)`` surface samples, half on the body and
    half on the object, displaced by isotropic Gaussian noise, split evenly over ``sigmas``; the rest uniform in the
    crop square's frustum over depths ``hoi_t.z + depth_margin``. Surfaces are sampled area-uniformly from the
    training body model posed by the record and the object template posed by ``object_R`` / ``object_t``.

    Must follow :class:`HOICrop` **without rotation** (``rot_prob=0``: the crop's ``focal`` / ``principal`` must be
    the image's). Required keys: HOICrop's ``box_center``, ``box_size``, ``focal``, ``principal``; the cache's
    ``betas_male``, ``transl_male``, ``global_orient``, ``body_pose``, ``hand_pose``, ``object_name``,
    ``object_R``, ``object_t``, ``hoi_t``.

    Added keys (float32 / int64): ``query_points`` (N, 3) camera frame, ``udf_human``, ``udf_object`` (N,) metres,
    ``part_labels`` (N,), ``centre_offset`` (N, 3) metres, ``object_rot6d`` (6,) the first two columns of
    ``object_R``.

    Args:
        body_model: BODY_MODELS config (the annotation cache's training model: ``betas_male`` are its betas).
        object_library: :class:`~hoirecon.objects.ObjectLibrary` keyword arguments.
        num_points: query points per image.
        sigmas: standard deviations of the surface noise, metres (CHORE / IF-Net: a small and a large one).
        uniform_ratio: share of points uniform in the frustum.
        depth_margin: (near, far) offsets of the frustum's depth range from the root joint's depth, metres.
        num_parts: 14 (CHORE) or 22.
        candidates: nearest triangles (by centroid) whose exact distance is taken first (:class:`MeshDistance`).
        exact_below: distances are exact below this (metres) and at least this above it (set it to the model's
            ``clamp``: the clamped targets are then exact, and far points cost no brute force); ``inf``: all exact.
            Far from the body the part label is then the one of the nearest candidate triangle.
        max_candidates: cap of the candidate triangles per point (None: exact, up to every triangle). 32 (with the
            triangles split to <= 3 cm radius) matched the exact clamped distances within 1 micrometre on 21,000
            points around the surrogate body and the 20 objects, at 24 + 16 ms per 1000 points instead of 180 + 40.
        seed: a fixed seed gives the same points every call (tests, test split); None draws from ``np.random``.
        fixed_depth: CHORE's fixed person depth (metres): the scene is scaled about the camera centre by
            ``fixed_depth / root depth`` (``hoi_t``'s z) before anything is sampled, so every person stands at this
            depth. The image does not change under such a scaling, while the root depth cannot be read from the
            crop (a person 2 m or 3 m away fills the HOI crop alike): without it the fields learn a blurred depth
            (docs/chore.md, "Fixed depth"). Points, distances and offsets are then in the scaled scene
            (``results['scene_scale']`` is the factor); None keeps metric depths.
    """

    def __init__(self, body_model: dict, object_library: dict, num_points: int = 1024,
                 sigmas: Sequence[float] = (0.015, 0.1), uniform_ratio: float = 0.1,
                 depth_margin: Sequence[float] = (-1.0, 1.0), num_parts: int = 14, candidates: int = 16,
                 exact_below: float = float('inf'), max_candidates: Optional[int] = 32, seed: Optional[int] = None,
                 fixed_depth: Optional[float] = None):
        self.body_model_cfg = dict(body_model)
        self.body_model = BODY_MODELS.build(dict(body_model))
        self.body_parts = group_parts(self.body_model.part_labels, num_parts)
        self.library = ObjectLibrary(**object_library)
        self.num_points = int(num_points)
        self.sigmas = tuple(float(s) for s in sigmas)
        self.uniform_ratio = float(uniform_ratio)
        self.depth_margin = tuple(float(d) for d in depth_margin)
        self.num_parts = int(num_parts)
        self.candidates = int(candidates)
        self.exact_below = float(exact_below)
        self.max_candidates = max_candidates
        self.seed = seed
        self.fixed_depth = None if fixed_depth is None else float(fixed_depth)
        self._object_cache = {}

    def _object_mesh(self, name: str):
        if name not in self._object_cache:
            template = self.library[name]
            self._object_cache[name] = (np.asarray(template.vertices, np.float64), np.asarray(template.faces))
        return self._object_cache[name]

    def sample_points(self, body_v, body_f, obj_v, obj_f, results, rng, root_depth: float) -> np.ndarray:
        n_uniform = int(round(self.num_points * self.uniform_ratio))
        n_surface = self.num_points - n_uniform
        n_body = n_surface // 2
        chunks = []
        for (v, f), n in (((body_v, body_f), n_body), ((obj_v, obj_f), n_surface - n_body)):
            surface, _ = sample_surface(v, f, n, rng)
            sigma = np.repeat(self.sigmas, -(-n // len(self.sigmas)))[:n]
            chunks.append(surface + rng.standard_normal((n, 3)) * sigma[:, None])
        z = root_depth
        chunks.append(sample_frustum(n_uniform, results['box_center'], results['box_size'], results['focal'],
                                     results['principal'], (max(z + self.depth_margin[0], 0.1),
                                                            z + self.depth_margin[1]), rng))
        return np.concatenate(chunks)

    def transform(self, results: dict) -> dict:
        if float(results.get('crop_rotation', 0.0)) != 0.0:
            raise ValueError('CHOREQueryTargets: the crop is rotated; use HOICrop(rot_prob=0) before it (the targets '
                             'are computed in the unrotated camera).')
        rng = np.random.default_rng(self.seed) if self.seed is not None else np.random.default_rng(
            np.random.randint(0, 2**31 - 1))
        body_v, body_f = posed_body(self.body_model, results)
        R, t = np.asarray(results['object_R'], np.float64), np.asarray(results['object_t'], np.float64)
        template_v, obj_f = self._object_mesh(str(results['object_name']))
        root_depth = float(np.asarray(results['hoi_t'])[2])
        scale = 1.0 if self.fixed_depth is None else self.fixed_depth / root_depth
        # the whole scene (both meshes, the object's centre) scaled about the camera centre
        body_v, obj_v, t = body_v * scale, (template_v @ R.T + t) * scale, t * scale
        points = self.sample_points(body_v, body_f, obj_v, obj_f, results, rng, root_depth * scale)
        kwargs = dict(candidates=self.candidates, exact_below=self.exact_below, max_candidates=self.max_candidates)
        targets = field_targets(points, MeshDistance(body_v, body_f, **kwargs), self.body_parts,
                                MeshDistance(obj_v, obj_f, **kwargs), t)
        results['query_points'] = points.astype(np.float32)
        for key in ('udf_human', 'udf_object', 'centre_offset'):
            results[key] = targets[key].astype(np.float32)
        results['part_labels'] = targets['part_labels'].astype(np.int64)
        results['object_rot6d'] = np.concatenate([R[:, 0], R[:, 1]]).astype(np.float32)
        results['scene_scale'] = scale
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(body_model={self.body_model_cfg}, num_points={self.num_points}, '
                f'sigmas={self.sigmas}, uniform_ratio={self.uniform_ratio}, depth_margin={self.depth_margin}, '
                f'num_parts={self.num_parts}, fixed_depth={self.fixed_depth})')


@TRANSFORMS.register_module()
class PackCHOREInputs(BaseTransform):
    """Pack the crop and its masks as a (5, H, W) uint8 tensor (RGB, person mask, object mask as 0 / 255) and the
    targets of :class:`CHOREQueryTargets` as ``gt_instances`` (each with a leading 1) of an :class:`HOIDataSample`;
    metainfo: the ``meta_keys`` present (``focal``, ``principal``, ``box_center``, ``box_size`` are what the model
    needs); :class:`~hoirecon.datasets.transforms.LoadBodyEstimate`'s body, when loaded, as ``observations``
    (``estimate_global_orient`` (1, 3, 3), ``estimate_body_pose`` (1, J, 3, 3), ``estimate_betas`` (1, 10)), and the
    OpenPose keypoints ``person_kpts`` (1, 25, 3) when the record has them, as ``observations`` too.

    Args:
        object_mask: 'full': the whole object silhouette ``object_full_mask`` (HOICrop warps it;
            LoadHOIImage(with_masks=True)); 'visible': the occlusion-aware mask of ``object_mask_path`` (what a
            segmenter gives at test time, CHORE's input), read here and warped with HOICrop's ``crop_affine``
            (nearest neighbour).
        meta_keys: metainfo keys kept.
        body_target: None (training: the field targets only) or the ``body_target`` of
            :class:`~hoirecon.datasets.transforms.PackHOIInputs` ('gendered' in the test pipelines): the HOI ground
            truth (body parameters, object pose, ...) is packed too, in PackHOIInputs' layout
            (:func:`~hoirecon.datasets.transforms.formatting.pack_hoi_targets`), for the HOI evaluators.
    """

    def __init__(self, object_mask: str = 'full', meta_keys: Sequence[str] = CHORE_META_KEYS,
                 body_target: Optional[str] = None):
        if object_mask not in ('full', 'visible'):
            raise ValueError(f"PackCHOREInputs: object_mask must be 'full' or 'visible', got {object_mask!r}.")
        if body_target is not None and body_target not in BODY_TARGETS:
            raise ValueError(f'PackCHOREInputs: body_target must be None or one of {sorted(BODY_TARGETS)}, '
                             f'got {body_target!r}.')
        self.object_mask = object_mask
        self.meta_keys = tuple(meta_keys)
        self.body_target = body_target

    def _object_mask(self, results: dict) -> np.ndarray:
        if self.object_mask == 'full':
            return results['object_full_mask']
        height, width = np.asarray(results['ori_shape'])[:2]
        mask = load_mask(results['object_mask_path'], (int(width), int(height))).astype(np.uint8)
        size = results['img'].shape[1], results['img'].shape[0]
        return cv2.warpAffine(mask, np.asarray(results['crop_affine'], np.float64), size, flags=cv2.INTER_NEAREST)

    def transform(self, results: dict) -> dict:
        masks = [np.asarray(m, bool).astype(np.uint8) * 255
                 for m in (results['person_mask'], self._object_mask(results))]
        stacked = np.concatenate([results['img'], np.stack(masks, -1)], axis=-1)
        inputs = torch.from_numpy(np.ascontiguousarray(stacked.transpose(2, 0, 1)))
        gt = InstanceData() if self.body_target is None else pack_hoi_targets(results, self.body_target)[0]
        for key in CHORE_GT_FIELDS:
            if key in results:
                gt[key] = torch.as_tensor(np.asarray(results[key]))[None]
        sample = HOIDataSample()
        sample.gt_instances = gt
        observed = {key: torch.as_tensor(np.asarray(results[key], np.float32))[None]
                    for key in BODY_ESTIMATE_FIELDS + ('person_kpts', ) if key in results}
        if observed:  # LoadBodyEstimate's body (the fit's start) and the OpenPose keypoints (its 2D term)
            sample.observations = InstanceData(**observed)
        sample.set_metainfo({key: results[key] for key in self.meta_keys if key in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(object_mask={self.object_mask!r}, meta_keys={self.meta_keys}, '
                f'body_target={self.body_target!r})')
