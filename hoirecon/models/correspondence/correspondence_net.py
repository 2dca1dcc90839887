"""``ObjectCorrespondenceNet``: object crop + object label -> dense 2D-3D correspondences -> RANSAC PnP pose.

A CDPN / EPro-PnP-family network, one for all objects of a dataset:

=====================  ==========  ===============================================================================
part                   registry    role
=====================  ==========  ===============================================================================
``backbone``           BACKBONES   crop (B, 3, H, W) -> feature map (B, C, H/32, W/32) (``forward_features``)
label FiLM             (own)       an embedding of the object label scales and shifts the feature map:
                                   ``f (1 + gamma_label) + beta_label`` (zero-initialised: starts as identity)
``head``               HEADS       :class:`DenseCorrespondenceHead`: normalised x3d, log w2d and the visible-mask
                                   logit per cell of an S x S grid over the crop; owns the losses
PnP                    (function)  :func:`pose_from_correspondences`: OpenCV RANSAC EPnP + Levenberg-Marquardt
                                   (:func:`hoirecon.models.refiners.pnp.solve_object_pnp`, the refiner's)
=====================  ==========  ===============================================================================

The per-object normalisation (``coord_centre``, ``coord_extent``, :mod:`.coordinates`) and, with the ``symmetries``
option, each object's symmetries (``coord_symmetries``, :mod:`hoirecon.objects.symmetry`, for the symmetry-aware
``loss_x3d``) are computed from the object library when the model is built and stored as buffers (so a checkpoint
carries them).
"""
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import nn

from hoirecon.objects import ObjectLibrary
from hoirecon.objects.symmetry import library_symmetries
from hoirecon.registry import BACKBONES, HEADS, MODELS
from hoirecon.structures import HOIDataSample
from ..refiners.pnp import solve_object_pnp
from .coordinates import crop_grid, library_coordinate_norms

#: Settings of :func:`pose_from_correspondences` (pixels are full-image pixels).
DEFAULT_PNP_CFG = dict(min_weight=0.1, reprojection_error=3.0, iterations=300, confidence=0.999, min_inliers=6,
                       seed=0)


def used_rows(w2d, min_weight: float):
    """(..., N) bool: the rows of weights (..., N, 2) that PnP uses (mean weight above ``min_weight``, as
    :func:`~hoirecon.models.refiners.pnp.solve_object_pnp` selects them); numpy or torch."""
    return w2d.mean(-1) > min_weight


def pose_from_correspondences(x3d: np.ndarray, x2d: np.ndarray, w2d: np.ndarray, cam_K: np.ndarray,
                              **pnp_cfg) -> Tuple[Optional[np.ndarray], Optional[np.ndarray], int, int]:
    """Object pose from weighted 2D-3D correspondences: RANSAC EPnP then LM refinement on the inliers.

    The rows whose mean weight exceeds ``min_weight`` are used (padding and off-object cells have weight 0). This
    is the refiner's :func:`~hoirecon.models.refiners.pnp.solve_object_pnp`; the network's predictions and the
    correspondence files scored by ``tools/analysis/evaluate_correspondences.py`` both go through it.

    Args:
        x3d: (N, 3) object-frame metres; x2d: (N, 2) full-image pixels; w2d: (N, 2) weights.
        cam_K: (3, 3) intrinsics.
        **pnp_cfg: overrides of :data:`DEFAULT_PNP_CFG`.

    Returns:
        ``(R (3, 3) or None, t (3,) or None, inliers, used rows)``; None when PnP fails.
    """
    cfg = dict(DEFAULT_PNP_CFG, **pnp_cfg)
    result = solve_object_pnp(x3d, x2d, w2d, cam_K, **cfg)
    used = int(used_rows(w2d, cfg['min_weight']).sum())
    if result is None:
        return None, None, 0, used
    return result.R, result.t, len(result.inliers), used


def _padded_symmetries(per_object: List[np.ndarray]) -> np.ndarray:
    """(L, K, 3, 3) float32: each object's (S_i, 3, 3) symmetries, padded with the identity to the longest K."""
    longest = max(len(rotations) for rotations in per_object)
    out = np.tile(np.eye(3, dtype=np.float32), (len(per_object), longest, 1, 1))
    for i, rotations in enumerate(per_object):
        out[i, :len(rotations)] = rotations
    return out


@MODELS.register_module()
class ObjectCorrespondenceNet(BaseModel):
    """Dense object correspondences (x3d, w2d, visible mask) on an object crop, and the PnP pose they give.

    Args:
        backbone: BACKBONES config with a ``forward_features`` method (``ResNet``).
        head: HEADS config of a :class:`~hoirecon.models.correspondence.DenseCorrespondenceHead`; ``in_channels``
            is filled from the backbone.
        object_library: :class:`~hoirecon.objects.ObjectLibrary` keyword arguments (the templates whose bounding
            boxes normalise the coordinates).
        mask_threshold: cells whose visible-mask probability is below this get weight 0 in ``predict``.
        symmetries: :func:`~hoirecon.objects.symmetry.object_symmetries` keyword arguments (``{}`` for its
            defaults): train ``loss_x3d`` up to each object's symmetries found on its template; None: against the
            rendered coordinates alone (the buffer then holds the identity only).
        pnp_cfg: overrides of :data:`DEFAULT_PNP_CFG`.
        data_preprocessor: mmengine data preprocessor config.
        init_cfg: mmengine init config.

    ``predict`` fills ``pred_instances`` per image: ``object_R`` (1, 3, 3), ``object_t`` (1, 3) metres (NaN when
    PnP fails), ``pnp_ok`` (1,) bool, ``pnp_inliers`` and ``pnp_used`` (1,) counts, ``corr_x3d`` (1, S*S, 3)
    object-frame metres, ``corr_x2d`` (1, S*S, 2) full-image pixels (cell centres), ``corr_w2d`` (1, S*S, 2)
    weights (``exp(log_w2d)`` times the mask probability, 0 below ``mask_threshold``) and ``mask_prob``
    (1, S*S), ``corr_used`` (1, S*S) bool the rows given to PnP.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 object_library: dict,
                 mask_threshold: float = 0.5,
                 symmetries: Optional[dict] = None,
                 pnp_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = BACKBONES.build(backbone)
        channels = self.backbone.feat_channels
        self.head = HEADS.build({**head, 'in_channels': channels})
        library = ObjectLibrary(**object_library)
        centres, extents = library_coordinate_norms(library)
        self.num_objects = len(centres)
        self.object_names = tuple(library.names)  # label -> name
        self.register_buffer('coord_centre', torch.from_numpy(centres))
        self.register_buffer('coord_extent', torch.from_numpy(extents))
        self.register_buffer('coord_symmetries', torch.from_numpy(_padded_symmetries(
            library_symmetries(library, **symmetries) if symmetries is not None else [np.eye(3)[None]] *
            self.num_objects)))
        self.label_film = nn.Embedding(self.num_objects, 2 * channels)
        nn.init.zeros_(self.label_film.weight)
        self.mask_threshold = float(mask_threshold)
        self.pnp_cfg = dict(DEFAULT_PNP_CFG, **(pnp_cfg or {}))

    def _features(self, inputs: torch.Tensor, labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        feature = self.backbone.forward_features(inputs)
        gamma, beta = self.label_film(labels).to(feature.dtype).chunk(2, dim=-1)
        feature = feature * (1 + gamma[..., None, None]) + beta[..., None, None]
        return self.head(feature)

    @staticmethod
    def _labels(samples: List[HOIDataSample], device) -> torch.Tensor:
        return torch.cat([s.gt_instances.object_label for s in samples]).to(device)

    @staticmethod
    def _meta(samples: List[HOIDataSample], key: str, device) -> torch.Tensor:
        return torch.stack([torch.as_tensor(np.asarray(s.metainfo[key]), dtype=torch.float32)
                            for s in samples]).to(device)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[HOIDataSample]] = None,
                mode: str = 'tensor'):
        labels = self._labels(data_samples, inputs.device)
        outputs = self._features(inputs, labels)
        if mode == 'tensor':
            return outputs
        if mode == 'loss':
            return self.loss(outputs, labels, data_samples)
        if mode == 'predict':
            return self.predict(outputs, labels, data_samples)
        raise RuntimeError(f'ObjectCorrespondenceNet: invalid mode {mode!r} (tensor, loss or predict).')

    def normalise(self, x3d: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Object-frame metres (B, ..., 3) -> normalised coordinates of each image's object."""
        shape = (len(labels), ) + (1, ) * (x3d.dim() - 2) + (3, )
        return (x3d - self.coord_centre[labels].view(shape)) / self.coord_extent[labels].view(shape)

    def denormalise(self, x3d: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Normalised coordinates (B, ..., 3) -> object-frame metres."""
        shape = (len(labels), ) + (1, ) * (x3d.dim() - 2) + (3, )
        return x3d * self.coord_extent[labels].view(shape) + self.coord_centre[labels].view(shape)

    def loss(self, outputs: Dict[str, torch.Tensor], labels: torch.Tensor,
             samples: List[HOIDataSample]) -> Dict[str, torch.Tensor]:
        device = labels.device
        gt = [s.gt_instances for s in samples]
        targets = dict(
            x3d=self.normalise(torch.cat([g.coord_x3d for g in gt]).to(device), labels),
            full=torch.cat([g.coord_full for g in gt]).to(device),
            visible=torch.cat([g.coord_visible for g in gt]).to(device),
            centre=self.coord_centre[labels], extent=self.coord_extent[labels],
            object_R=torch.cat([g.object_R for g in gt]).to(device),
            object_t=torch.cat([g.object_t for g in gt]).to(device),
            cam_K=self._meta(samples, 'cam_K', device), crop_box=self._meta(samples, 'crop_box', device),
            symmetries=self.coord_symmetries[labels])
        return self.head.loss(outputs, targets)

    def decode(self, outputs: Dict[str, torch.Tensor], labels: torch.Tensor,
               crop_box: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The head's maps as correspondence rows (row-major cells).

        Returns:
            ``x3d`` (B, S*S, 3) object-frame metres, ``x2d`` (B, S*S, 2) full-image pixels, ``w2d`` (B, S*S, 2)
            and ``mask_prob`` (B, S*S).
        """
        batch, size = outputs['x3d'].shape[0], outputs['x3d'].shape[-1]
        x3d = self.denormalise(outputs['x3d'].permute(0, 2, 3, 1).reshape(batch, -1, 3), labels)
        mask_prob = outputs['mask'].sigmoid().reshape(batch, -1)
        keep = (mask_prob >= self.mask_threshold).to(mask_prob.dtype)
        w2d = outputs['log_w2d'].exp().permute(0, 2, 3, 1).reshape(batch, -1, 2) * (mask_prob * keep)[..., None]
        return dict(x3d=x3d, x2d=crop_grid(crop_box.to(x3d.dtype), size), w2d=w2d, mask_prob=mask_prob)

    def predict(self, outputs: Dict[str, torch.Tensor], labels: torch.Tensor,
                samples: List[HOIDataSample]) -> List[HOIDataSample]:
        rows = self.decode(outputs, labels, self._meta(samples, 'crop_box', labels.device))
        rows = {k: v.detach().cpu() for k, v in rows.items()}
        for i, sample in enumerate(samples):
            cam_K = np.asarray(sample.metainfo['cam_K'], np.float64)
            R, t, inliers, used = pose_from_correspondences(rows['x3d'][i].numpy(), rows['x2d'][i].numpy(),
                                                            rows['w2d'][i].numpy(), cam_K, **self.pnp_cfg)
            ok = R is not None
            pred = InstanceData()
            pred.object_R = torch.as_tensor(R if ok else np.full((3, 3), np.nan), dtype=torch.float32)[None]
            pred.object_t = torch.as_tensor(t if ok else np.full(3, np.nan), dtype=torch.float32)[None]
            pred.object_label = labels[i:i + 1].cpu()
            pred.pnp_ok = torch.tensor([ok])
            pred.pnp_inliers = torch.tensor([inliers])
            pred.pnp_used = torch.tensor([used])
            pred.corr_x3d = rows['x3d'][i:i + 1].float()
            pred.corr_x2d = rows['x2d'][i:i + 1].float()
            pred.corr_w2d = rows['w2d'][i:i + 1].float()
            pred.mask_prob = rows['mask_prob'][i:i + 1].float()
            pred.corr_used = used_rows(rows['w2d'][i:i + 1], self.pnp_cfg['min_weight'])
            sample.pred_instances = pred
        return samples
