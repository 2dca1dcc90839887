"""CDPN-style dense head: upsample an object-crop feature map to per-pixel object coordinates, 2D weights and mask.

Per output cell the head predicts 6 numbers: ``x3d`` (3) normalised object coordinates
(:mod:`~hoirecon.models.correspondence.coordinates`), ``log_w2d`` (2) the log of the per-axis 2D weights and
``mask`` (1) the logit of "the object is visible here". It owns its three losses:

``loss_x3d``
    L1 between predicted and target normalised coordinates over the cells on the object's *full* silhouette (the
    template rendered with the true pose, occluders ignored): the coordinates exist there even where the person
    hides the object, as in StackFLOW's coordinate maps. With the object's symmetries given
    (:mod:`hoirecon.objects.symmetry`), the target of each image is the symmetric twin of its coordinates closest to
    the prediction (:func:`closest_symmetric_target`): without it, a box's four 180-degree twins pull the
    prediction to their mean, the box centre.
``loss_mask``
    binary cross-entropy of the logit against the *visible* object mask (the full silhouette minus the person in
    front), over every cell.
``loss_w2d``
    Laplace negative log-likelihood of the 2D reprojection residual. With the true pose ``(R, t)`` the predicted
    3D point of a cell projects to ``pi(R x3d + t)``; its residual ``r`` against the cell centre ``x2d`` is modelled
    as Laplace with scale ``1 / w`` per axis: ``-log p(r) = w |r| - log w + log 2``. Minimising it over ``w`` gives
    ``w = 1 / E|r|``: a cell whose coordinates reproject badly gets a small weight. The residual is detached (the
    weights explain the error, they do not move the coordinates). Why this loss: the refiner's object term is
    ``sum w2d |pi(R x3d + t) - x2d|`` (docs/refiners.md), which is exactly this NLL up to the ``log w`` constant, so
    weights trained this way make that term a likelihood in full-image pixels, and EPro-PnP's learnt weights play
    the same role (inverse scales of the reprojection residual). Averaged over full-silhouette cells.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from hoirecon.objects.symmetry import pose_under_symmetry
from hoirecon.registry import HEADS
from .coordinates import crop_grid, project

#: Channels of the head's output, in order.
OUTPUT_CHANNELS = dict(x3d=3, log_w2d=2, mask=1)


def closest_symmetric_target(pred: torch.Tensor, target: torch.Tensor, full: torch.Tensor, extent: torch.Tensor,
                             symmetries: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per image, the symmetric twin of the target coordinates that is closest (L1 on the full silhouette) to the
    prediction.

    A symmetry ``G`` about the box centre turns a normalised coordinate ``n = (x - c) / extent`` into
    ``n' = M n`` with ``M = diag(1 / extent) G diag(extent)``.

    Args:
        pred, target: (B, S, S, 3) normalised coordinates; full: (B, S, S) float silhouette.
        extent: (B, 3) metres; symmetries: (B, K, 3, 3) rotations about the box centre (padded with the
            identity; entry 0 the identity).

    Returns:
        ``(target' (B, S, S, 3), G (B, 3, 3))``: the chosen twin and its symmetry (no gradient through the choice).
    """
    batch = pred.shape[0]
    flat_target = target.reshape(batch, -1, 3)
    normalised = symmetries * extent[:, None, None, :] / extent[:, None, :, None]  # (B, K, 3, 3)
    with torch.no_grad():
        flat_pred, weight = pred.detach().reshape(batch, -1, 3), full.reshape(batch, -1)
        errors = torch.stack([((flat_pred - flat_target @ normalised[:, k].transpose(1, 2)).abs().sum(-1) *
                               weight).sum(-1) for k in range(symmetries.shape[1])], dim=1)  # (B, K)
        best = errors.argmin(dim=1)
    rows = torch.arange(batch, device=pred.device)
    chosen = flat_target @ normalised[rows, best].transpose(1, 2)
    return chosen.reshape(target.shape), symmetries[rows, best]


def _up_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """x2 transposed convolution (4x4, stride 2), batch norm, ReLU."""
    return nn.Sequential(nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


@HEADS.register_module()
class DenseCorrespondenceHead(BaseModule):
    """Feature map -> (x3d, log_w2d, mask logit) maps of ``out_size x out_size`` cells, with its losses.

    Args:
        in_channels: channels of the feature map (ResNet-18/34: 512).
        channels: output channels of each x2 upsampling block (CDPN: three 256-wide deconvolutions from stride 32
            at 256 px; here four from a 4 x 4 map of a 128 px crop to 64 x 64).
        out_size: cells per side of the output; the upsampled map is resized to it if the sizes differ.
        loss_weights: weights of ``x3d``, ``mask`` and ``w2d``.
        log_w2d_range: clamp of the predicted log-weights (weights in ``[e^low, e^high]`` per full-image pixel).
        init_cfg: mmengine init config.

    Shapes:
        - input: (B, in_channels, h, w) feature map.
        - output: dict ``x3d`` (B, 3, S, S) normalised coordinates, ``log_w2d`` (B, 2, S, S), ``mask`` (B, 1, S, S)
          logits.
    """

    def __init__(self,
                 in_channels: int = 512,
                 channels: Sequence[int] = (256, 128, 64, 64),
                 out_size: int = 64,
                 loss_weights: Optional[Dict[str, float]] = None,
                 log_w2d_range: Sequence[float] = (-7.0, 4.0),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        blocks, width = [], in_channels
        for out_channels in channels:
            blocks.append(_up_block(width, out_channels))
            width = out_channels
        self.upsample = nn.Sequential(*blocks)
        self.refine = nn.Sequential(nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                                    nn.ReLU(inplace=True))
        self.predict = nn.Conv2d(width, sum(OUTPUT_CHANNELS.values()), 1)
        nn.init.normal_(self.predict.weight, std=1e-3)
        nn.init.zeros_(self.predict.bias)
        self.out_size = int(out_size)
        self.loss_weights = {**dict(x3d=1.0, mask=1.0, w2d=0.1), **(loss_weights or {})}
        unknown = set(self.loss_weights) - {'x3d', 'mask', 'w2d'}
        if unknown:
            raise ValueError(f'DenseCorrespondenceHead: unknown loss_weights {sorted(unknown)}; terms are x3d, mask, '
                             'w2d.')
        self.log_w2d_range = tuple(float(v) for v in log_w2d_range)

    def forward(self, feature: torch.Tensor) -> Dict[str, torch.Tensor]:
        out = self.predict(self.refine(self.upsample(feature)))
        if out.shape[-1] != self.out_size or out.shape[-2] != self.out_size:
            out = F.interpolate(out, size=(self.out_size, self.out_size), mode='bilinear', align_corners=False)
        x3d, log_w2d, mask = out.float().split(tuple(OUTPUT_CHANNELS.values()), dim=1)
        return dict(x3d=x3d, log_w2d=log_w2d.clamp(*self.log_w2d_range), mask=mask)

    def loss(self, outputs: Dict[str, torch.Tensor], targets: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """The three terms (see the module doc).

        Args:
            outputs: :meth:`forward`'s dict.
            targets: ``x3d`` (B, S, S, 3) normalised target coordinates, ``full`` (B, S, S) and ``visible``
                (B, S, S) float masks (1 on the object), ``centre``, ``extent`` (B, 3) metres (the objects'
                normalisation), ``object_R`` (B, 3, 3), ``object_t`` (B, 3) metres, ``cam_K`` (B, 3, 3) and
                ``crop_box`` (B, 3) pixels.

        Returns:
            ``loss_x3d``, ``loss_mask``, ``loss_w2d`` (weighted scalars) and ``w2d_mean_residual`` (B-mean of the
            full-silhouette mean reprojection residual of the predicted coordinates, pixels; a log value with no
            ``loss`` in its name, so it is not optimised).
        """
        full = targets['full']
        count = full.sum().clamp(min=1.0)
        pred = outputs['x3d'].permute(0, 2, 3, 1)  # (B, S, S, 3)
        target, object_R, object_t = targets['x3d'], targets['object_R'], targets['object_t']
        symmetries = targets.get('symmetries')
        if symmetries is not None and symmetries.shape[1] > 1:
            target, symmetry = closest_symmetric_target(pred, target, full, targets['extent'], symmetries)
            object_R, object_t = pose_under_symmetry(object_R, object_t, symmetry, targets['centre'])
        loss_x3d = ((pred - target).abs().sum(-1) * full).sum() / (3 * count)
        loss_mask = F.binary_cross_entropy_with_logits(outputs['mask'][:, 0], targets['visible'])

        batch, size = pred.shape[0], pred.shape[1]
        metres = pred.detach().reshape(batch, -1, 3) * targets['extent'][:, None] + targets['centre'][:, None]
        camera = metres @ object_R.transpose(1, 2) + object_t[:, None]
        residual = (project(camera, targets['cam_K']) - crop_grid(targets['crop_box'], size)).abs()  # (B, N, 2)
        residual = residual.clamp(max=1e3).reshape(batch, size, size, 2)
        log_w = outputs['log_w2d'].permute(0, 2, 3, 1)
        nll = (log_w.exp() * residual - log_w).sum(-1)
        loss_w2d = (nll * full).sum() / (2 * count)
        mean_residual = (residual.norm(dim=-1) * full).sum() / count
        weights = self.loss_weights
        return dict(loss_x3d=weights['x3d'] * loss_x3d, loss_mask=weights['mask'] * loss_mask,
                    loss_w2d=weights['w2d'] * loss_w2d, w2d_mean_residual=mean_residual)
