"""Dense object correspondences for one image from a trained correspondence network (``tools/demo.py
--correspondence-checkpoint``): the refiner's object evidence without a file from another code base.

The network (:class:`~hoirecon.models.correspondence.ObjectCorrespondenceNet`) sees a square crop around the object's
box, as in training; the rows it predicts are what ``tools/test.py`` writes for a split (``x3d`` object-frame metres,
``x2d`` full-image pixels, ``w2d`` weights), plus the pose its PnP gives.
"""
import copy
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

from hoirecon.engine.checkpoint_compat import hoirecon_checkpoint_loading
from hoirecon.registry import MODELS

#: Transforms of a correspondence test pipeline that read files (the caller gives the image).
_LOADING = ('LoadHOIImage', 'LoadCorrespondences')


def correspondence_config(checkpoint: str, config: Optional[str] = None) -> Config:
    """The config of a correspondence checkpoint: ``config`` when given, else the one mmengine saved in it.

    Raises:
        FileNotFoundError: no checkpoint (or config) file.
        ValueError: the checkpoint holds no config and none was given, or the config is not a correspondence model.
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'--correspondence-checkpoint {checkpoint}: no such file (train one with '
                                'tools/train.py configs/correspondence/cdpn_synthetic.py).')
    if config is not None:
        if not osp.isfile(config):
            raise FileNotFoundError(f'--correspondence-config {config}: no such file.')
        cfg = Config.fromfile(config)
    else:
        meta = torch.load(checkpoint, map_location='cpu', weights_only=True).get('meta') or {}
        if not meta.get('cfg'):
            raise ValueError(f'{checkpoint} holds no config (not saved by tools/train.py); give it with '
                             '--correspondence-config configs/correspondence/<name>.py.')
        cfg = Config.fromstring(meta['cfg'], '.py')
    if cfg.model.get('type') != 'ObjectCorrespondenceNet':
        raise ValueError(f'the correspondence config builds {cfg.model.get("type")!r}, not an ObjectCorrespondenceNet '
                         '(configs/correspondence/*.py).')
    return cfg


def build_correspondence_model(cfg: Config, checkpoint: str, device: str = 'cpu') -> torch.nn.Module:
    """The config's correspondence network with the checkpoint loaded (strict), in eval mode."""
    with DefaultScope.overwrite_default_scope('hoirecon'):
        model = MODELS.build(copy.deepcopy(cfg.model))
    with hoirecon_checkpoint_loading():
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True, logger='current')
    return model.to(device).eval()


def predict_correspondences(model: torch.nn.Module, cfg: Config, image: np.ndarray, cam_K: np.ndarray,
                            object_name: str, object_box: Sequence[float]) -> Dict[str, np.ndarray]:
    """The network's correspondences and PnP pose for one object of one image.

    Args:
        model, cfg: :func:`build_correspondence_model` and its config (its test pipeline without the loading steps).
        image: (H, W, 3) uint8 RGB, the full image.
        cam_K: (3, 3) intrinsics, pixels.
        object_name: a category of the model's object library.
        object_box: (4,) xyxy pixels of the (full) object.

    Returns:
        ``x3d`` (N, 3) float32 object-frame metres, ``x2d`` (N, 2) float32 full-image pixels, ``w2d`` (N, 2) float32
        (0 off the predicted mask): the refiner's correspondence format; ``object_R`` (3, 3), ``object_t`` (3,)
        metres of its PnP (NaN when PnP failed) and ``pnp_ok``.
    """
    names = list(model.object_names)
    if object_name not in names:
        raise ValueError(f'the correspondence network knows no object {object_name!r}; its objects: {names}.')
    box = np.asarray(object_box, np.float64).reshape(4)
    if not (box[2] > box[0] and box[3] > box[1]):
        raise ValueError(f'object box {box.tolist()} of {object_name} is empty (x0 < x1 and y0 < y1 needed).')
    pipeline = [t for t in copy.deepcopy(cfg.test_dataloader.dataset.pipeline) if t['type'] not in _LOADING]
    with DefaultScope.overwrite_default_scope('hoirecon'):
        transforms = Compose(pipeline)
    height, width = image.shape[:2]
    packed = transforms(dict(img=np.ascontiguousarray(image), object_box=box.astype(np.float32),
                             cam_K=np.asarray(cam_K, np.float64), object_name=object_name,
                             object_label=names.index(object_name), ori_shape=(height, width)))
    with torch.no_grad():
        data = model.data_preprocessor(pseudo_collate([packed]), False)
        pred = model(**data, mode='predict')[0].pred_instances
    out = {key: pred[f'corr_{key}'][0].cpu().numpy().astype(np.float32) for key in ('x3d', 'x2d', 'w2d')}
    out.update(object_R=pred.object_R[0].cpu().numpy(), object_t=pred.object_t[0].cpu().numpy(),
               pnp_ok=bool(pred.pnp_ok[0]))
    return out


def correspondence_summary(rows: Dict[str, np.ndarray]) -> str:
    """A one-line note on :func:`predict_correspondences`'s output: rows with weight, and whether PnP found a pose."""
    used = int((rows['w2d'].mean(-1) > 0).sum())
    pose = 'PnP pose found' if rows['pnp_ok'] else 'PnP failed'
    return f'{used} weighted correspondences of {len(rows["w2d"])} ({pose})'
