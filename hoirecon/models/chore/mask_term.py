"""CHORE's object mask term: the posed template's soft silhouette against the object's instance mask.

CHORE's object fit adds a 2D term to the distance field's: the object, rendered with a differentiable renderer, must
cover its (occlusion-aware) instance mask, pixels that the person's mask claims alone left out, as PHOSA does. Here
the pieces of the PHOSA-style baseline are reused unchanged: :func:`~hoirecon.models.baselines.phosa.prepare_masks`
crops each image's masks to a square around the object's mask box (``size`` pixels a side),
:func:`~hoirecon.models.baselines.phosa.roi_intrinsics` gives that square's camera,
:func:`~hoirecon.models.utils.soft_silhouette.soft_silhouette` renders the template (decimated by
:func:`~hoirecon.models.baselines.phosa.cluster_decimate`, once per template, by the caller) and
:func:`~hoirecon.models.baselines.phosa.silhouette_loss` compares them.

The fitted object lives in the fields' scene (scaled about the camera centre by the fitted scene scale ``s``):
``s R p + t``. Scaling about the camera centre leaves the image unchanged, so the silhouette is rendered there as it
is, with the full image's camera.
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from hoirecon.models.baselines.phosa import PHOSAMasks, prepare_masks, roi_intrinsics, silhouette_loss
from hoirecon.models.utils.soft_silhouette import soft_silhouette


class ObjectMaskTerm:
    """``(B,)`` occlusion-aware silhouette loss of B posed templates against their images' object masks.

    Args:
        meshes: per image the template to render, ``(vertices (V, 3), faces (F, 3))`` numpy in the object frame
            (the renderer's cost is proportional to the faces: pass a decimated template, e.g.
            :func:`~hoirecon.models.baselines.phosa.cluster_decimate`; images of the same name share the first one).
        names: (B,) template name per image (images are rendered in one call per name: the renderer shares faces).
        masks: (B,) :class:`~hoirecon.models.baselines.phosa.PHOSAMasks` of each image (``prepare_masks``), None for
            an image without an object mask (its loss is 0).
        K: (B, 3, 3) full-image intrinsics, pixels.
        sigma: the soft silhouette's edge sharpness, pixels^2 of the ``size`` square.
    """

    def __init__(self, meshes: Sequence[Tuple[np.ndarray, np.ndarray]], names: Sequence[str],
                 masks: Sequence[Optional[PHOSAMasks]], K: torch.Tensor, sigma: float = 1.0):
        if not (len(meshes) == len(names) == len(masks) == len(K)):
            raise ValueError(f'ObjectMaskTerm: {len(meshes)} meshes, {len(names)} names, {len(masks)} masks and '
                             f'{len(K)} cameras; one of each per image.')
        self.sigma = float(sigma)
        self.batch = len(names)
        device, dtype = K.device, K.dtype
        self.groups: List[Dict[str, Any]] = []
        for name in dict.fromkeys(names):
            idx = [i for i, (n, m) in enumerate(zip(names, masks)) if n == name and m is not None]
            if not idx:
                continue
            vertices, faces = meshes[idx[0]]
            roi = torch.as_tensor(np.stack([masks[i].object_roi for i in idx]), dtype=dtype, device=device)
            size = masks[idx[0]].object_mask.shape[-1]
            self.groups.append(dict(
                index=torch.as_tensor(idx, device=device),
                vertices=torch.as_tensor(np.asarray(vertices), dtype=dtype, device=device),
                faces=torch.as_tensor(np.asarray(faces), dtype=torch.long, device=device),
                K=roi_intrinsics(K[idx], roi, size),
                mask=torch.as_tensor(np.stack([masks[i].object_mask for i in idx]), dtype=dtype, device=device),
                person=torch.as_tensor(np.stack([masks[i].object_person for i in idx]), dtype=dtype, device=device),
                size=size))

    @classmethod
    def from_masks(cls, meshes: Sequence[Tuple[np.ndarray, np.ndarray]], names: Sequence[str],
                   person_masks: Sequence[Optional[np.ndarray]], object_masks: Sequence[Optional[np.ndarray]],
                   K: torch.Tensor, size: int = 64, padding: float = 0.15, sigma: float = 1.0) -> 'ObjectMaskTerm':
        """The term from full-image (H, W) bool masks (None: no mask), cropped to ``size`` squares around the
        object masks' boxes grown by ``padding`` (:func:`~hoirecon.models.baselines.phosa.prepare_masks`)."""
        masks = [None if obj is None else prepare_masks(person, obj, size, size, padding)
                 for person, obj in zip(person_masks, object_masks)]
        return cls(meshes, names, masks, K, sigma)

    def silhouettes(self, R: torch.Tensor, t: torch.Tensor, scale: Optional[torch.Tensor] = None
                    ) -> List[Tuple[torch.Tensor, torch.Tensor]]:
        """Per template group ``(index (G,), silhouette (G, S, S))`` of the poses ``R`` (B, 3, 3), ``t`` (B, 3) and
        ``scale`` (B,) (the posed points are ``scale R p + t``; None: 1)."""
        out = []
        for g in self.groups:
            idx = g['index']
            size = 1.0 if scale is None else scale[idx].to(t)[:, None, None]
            posed = size * g['vertices'] @ R[idx].transpose(1, 2) + t[idx][:, None]
            out.append((idx, soft_silhouette(posed, g['faces'], g['K'], (g['size'], g['size']), sigma=self.sigma)))
        return out

    def __call__(self, R: torch.Tensor, t: torch.Tensor, scale: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B,) the loss of each image (0 where it has no mask), differentiable in ``R``, ``t`` and ``scale``."""
        loss = t.new_zeros(self.batch)
        for g, (idx, silhouette) in zip(self.groups, self.silhouettes(R, t, scale)):
            loss = loss.index_put((idx, ), silhouette_loss(silhouette, g['mask'], g['person']))
        return loss


__all__ = ['ObjectMaskTerm']
