"""Body shape and crop camera from the image feature."""
from typing import Dict, Optional, Sequence

import torch
from mmengine.model import BaseModule
from torch import nn

from hoirecon.registry import HEADS


@HEADS.register_module()
class CameraShapeHead(BaseModule):
    """``Linear(C, H) - ReLU - Linear(H, num_betas + 3)``: betas and the crop camera ``(s, tx, ty)``.

    The last layer is xavier-uniform with gain 0.02, so the initial camera is
    close to ``init_cam_translation``, which is added to the last three outputs
    (StackFLOW, method.md §3). Convert the camera to a translation with
    :func:`hoirecon.models.utils.crop_cam_to_translation`.

    Note that StackFLOW's BEHAVE value ``(0, 0.75, 2)``, read as ``(s, tx, ty)``,
    starts from ``s`` near 0, i.e. a very large (or negative) depth: losses on
    the camera translation are large until the network has learnt ``s``.

    Args:
        feature_dim: C, width of the image feature.
        hidden_dim: H.
        num_betas: number of shape coefficients.
        init_cam_translation: the constant added to the predicted ``(s, tx, ty)``
            (BEHAVE ``(0, 0.75, 2)``, InterCap ``(0.1037, 0.5681, 2.6866)``).
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 feature_dim: int = 2048,
                 hidden_dim: int = 2048,
                 num_betas: int = 10,
                 init_cam_translation: Sequence[float] = (0., 0.75, 2.),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        if len(init_cam_translation) != 3:
            raise ValueError(f'CameraShapeHead: init_cam_translation must have 3 numbers (s, tx, ty), got '
                             f'{init_cam_translation!r}.')
        self.feature_dim = feature_dim
        self.num_betas = num_betas
        self.layers = nn.Sequential(nn.Linear(feature_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, num_betas + 3))
        nn.init.xavier_uniform_(self.layers[2].weight, gain=0.02)
        self.register_buffer('init_cam', torch.tensor(init_cam_translation, dtype=torch.float32).view(1, 3))

    def forward(self, feature: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Predict shape and camera.

        Args:
            feature: (B, C) image features.

        Returns:
            dict with ``betas`` (B, num_betas) and ``crop_cam`` (B, 3) = ``(s, tx, ty)``.
        """
        if feature.dim() != 2 or feature.shape[1] != self.feature_dim:
            raise ValueError(f'CameraShapeHead: feature must have shape (B, feature_dim={self.feature_dim}), got '
                             f'{tuple(feature.shape)}.')
        output = self.layers(feature)
        return dict(betas=output[:, :self.num_betas], crop_cam=output[:, self.num_betas:] + self.init_cam)
