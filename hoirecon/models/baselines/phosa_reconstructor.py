"""``PHOSAReconstructor``: the network's person, the object placed by :class:`~.phosa.PHOSAObjectFitter`.

A thin mode of :class:`~hoirecon.models.reconstructors.HOIReconstructor`: ``predict`` runs the network (and its
refiner, if any) unchanged, keeps that reconstruction in ``init_instances`` and replaces the object of
``pred_instances`` by the PHOSA-style fit to the image's masks (``object_R``, ``object_t``, ``rel_R``, ``rel_t``;
``object_scale`` the fitted intrinsic scale, which the metrics do not read). The body is the network's.

Masks: ``observations.person_mask`` / ``observations.object_mask`` (H, W) when a sample carries them, else the files
named by the metainfo ``person_mask_path`` and ``object_mask_path`` (the visible, occlusion-aware object mask, as
PHOSA's instance segmentation gives): ``configs/baselines/phosa_synthetic.py`` packs those keys.
"""
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmengine.structures import InstanceData

from hoirecon.models.reconstructors.hoi_reconstructor import HOIReconstructor
from hoirecon.models.utils import hoi_frame
from hoirecon.registry import MODELS, REFINERS
from hoirecon.structures import HOIDataSample
from .phosa import PHOSAObjectFitter

#: metainfo keys the PHOSA configs add to ``PackHOIInputs(meta_keys=...)``.
MASK_META_KEYS = ('person_mask_path', 'object_mask_path')


def _read_mask(path: str, shape: Optional[Tuple[int, int]]) -> np.ndarray:
    import cv2
    mask = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise FileNotFoundError(f'PHOSAReconstructor: cannot read the mask {path}')
    if shape is not None and mask.shape != tuple(shape):
        mask = cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return mask > 127


def sample_masks(sample: HOIDataSample) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """(person, object) (H, W) bool masks of a sample in the full image, None where there is none."""
    obs = sample.observations if 'observations' in sample else None
    if obs is not None and 'object_mask' in obs:
        person = obs.person_mask[0].cpu().numpy() > 0.5 if 'person_mask' in obs else None
        return person, obs.object_mask[0].cpu().numpy() > 0.5
    shape = sample.metainfo.get('ori_shape')
    paths = [sample.metainfo.get(key) or None for key in MASK_META_KEYS]
    if paths[1] is None:
        raise KeyError(f"{sample.metainfo.get('img_path')}: the sample has neither observations.object_mask nor the "
                       f'metainfo {MASK_META_KEYS} that the object mask term reads (add them to the pack '
                       "transform's meta_keys, as configs/baselines/phosa_synthetic.py and chore_synthetic.py do).")
    return tuple(None if p is None else _read_mask(p, shape) for p in paths)


def sample_intrinsics(sample: HOIDataSample) -> torch.Tensor:
    """(3, 3) float64 full-image intrinsics of a sample: its metainfo ``focal`` (one or two values) and
    ``principal``, pixels."""
    focal = np.broadcast_to(np.asarray(sample.metainfo['focal'], np.float64).reshape(-1), (2, ))
    principal = np.asarray(sample.metainfo['principal'], np.float64).reshape(2)
    return torch.tensor([[focal[0], 0, principal[0]], [0, focal[1], principal[1]], [0, 0, 1]])


@MODELS.register_module()
class PHOSAReconstructor(HOIReconstructor):
    """:class:`HOIReconstructor` whose test-time object is PHOSA-style (module docstring).

    Args:
        phosa: REFINERS config of a :class:`~.phosa.PHOSAObjectFitter`.
        *args, **kwargs: :class:`HOIReconstructor`'s (the checkpoint loads as the network's).
    """

    def __init__(self, *args, phosa: Optional[dict] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.phosa: PHOSAObjectFitter = REFINERS.build(dict(type='PHOSAObjectFitter', **(phosa or {})))

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: List[HOIDataSample]) -> List[HOIDataSample]:
        data_samples = super().predict(inputs, data_samples)
        fitter = self.phosa
        pred = [s.pred_instances for s in data_samples]
        first = pred[0].human_vertices
        stack = lambda key: torch.cat([p[key] for p in pred]).to(first)  # noqa: E731
        hoi_R, hoi_t = stack('hoi_R'), stack('hoi_t')
        masks = []
        for sample in data_samples:
            person, obj = sample_masks(sample)
            masks.append(None if obj is None else fitter.prepare_masks(person, obj))
        K = torch.stack([sample_intrinsics(s) for s in data_samples]).to(first)
        result = fitter(stack('human_vertices'), torch.as_tensor(self.body_model.faces, dtype=torch.long),
                        torch.as_tensor(self.body_model.part_labels), self._labels(data_samples), K, masks,
                        stack('object_R'), stack('object_t'))
        rel_R, rel_t = hoi_frame.decompose_object_pose(hoi_R, hoi_t, result.object_R, result.object_t)
        update = dict(object_R=result.object_R, object_t=result.object_t, rel_R=rel_R, rel_t=rel_t,
                      object_scale=result.object_scale)
        for i, (sample, fields) in enumerate(zip(data_samples, pred)):
            if 'init_instances' not in sample:
                sample.init_instances = fields
            new = {key: fields[key] for key in fields.keys()}
            new.update({key: value[i:i + 1].to(fields['object_R']) for key, value in update.items()})
            sample.pred_instances = InstanceData(**new)
            sample.set_metainfo(dict(phosa_status=result.status[i]))
        return data_samples
