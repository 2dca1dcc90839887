"""``CHOREFieldNet``: a CHORE-style pixel-aligned implicit network (Xie, Bhatnagar, Pons-Moll, ECCV 2022), written
from the paper's description (docs/chore.md).

=====================  ===============================================================================================
part                   role
=====================  ===============================================================================================
``encoder``            :class:`PixelAlignedEncoder`: the toolbox's ``ResNet`` with a 5-channel stem (RGB + person
                       mask + object mask); the stem and the first ``num_stages`` stages give feature maps at
                       1/2, 1/4, 1/8, ... of the crop (CHORE: a stacked hourglass)
sampling               each map is sampled bilinearly at the query point's projection into the crop
                       (:func:`~.geometry.crop_grid_coords`) and the samples are concatenated with the point's
                       normalised depth ``(z - depth_ref) / depth_scale``
decoders               three MLPs (:class:`FieldDecoder`, CHORE has one per field): ``distance`` -> unsigned distances
                       to the human and to the object surface (2), ``parts`` -> body-part logits (``num_parts``),
                       ``object`` -> offset from the point to the object centre (3) and the object's rotation (6D:
                       the first two columns of ``object_R``; CHORE predicts PCA axes)
=====================  ===============================================================================================

Losses (:meth:`CHOREFieldNet.loss`): L1 between the predicted and true distances both clamped at ``clamp``
(IF-Net / CHORE; :meth:`CHOREFieldNet.clamped_l1`), cross-entropy of the part of the nearest body point on points
within ``part_radius`` of the body, and squared errors of the centre offset and the 6D rotation on points within
``object_radius`` of the object.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import nn

from hoirecon.models.utils import rot6d_to_matrix as toolbox_rot6d_to_matrix
from hoirecon.registry import BACKBONES, MODELS
from hoirecon.structures import HOIDataSample
from .geometry import chunked_fields, crop_grid_coords, frustum_grid

#: ImageNet RGB mean / std on 0..255 (the ResNet's convention).
RGB_MEAN = (123.675, 116.28, 103.53)
RGB_STD = (58.395, 57.12, 57.375)
#: Keys of ``gt_instances`` the loss reads (:class:`~hoirecon.datasets.transforms.PackCHOREInputs` writes them).
TARGET_KEYS = ('query_points', 'udf_human', 'udf_object', 'part_labels', 'centre_offset', 'object_rot6d')
#: Metainfo keys the sampling needs (HOICrop writes them).
CROP_META_KEYS = ('focal', 'principal', 'box_center', 'box_size')


class PixelAlignedEncoder(nn.Module):
    """ResNet (toolbox ``ResNet`` of any depth) with an ``in_channels`` stem, returning multi-scale feature maps.

    Args:
        depth: ResNet depth (18 / 34 / 50 ...).
        num_stages: ResNet stages used after the stem (1..4); the stem's map (1/2) is the first feature.
        in_channels: input channels (5: RGB + person mask + object mask).
        channels_last: ResNet's channels-last layout (faster on CPU).
    """

    def __init__(self, depth: int = 18, num_stages: int = 2, in_channels: int = 5, channels_last: bool = False):
        super().__init__()
        if not 1 <= num_stages <= 4:
            raise ValueError(f'PixelAlignedEncoder: num_stages must be in 1..4, got {num_stages}.')
        self.resnet = BACKBONES.build(dict(type='ResNet', depth=depth, channels_last=channels_last, init_cfg=None))
        old = self.resnet.conv1
        self.resnet.conv1 = nn.Conv2d(in_channels, old.out_channels, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(self.resnet.conv1.weight, mode='fan_out', nonlinearity='relu')
        self.num_stages = num_stages
        for i in range(num_stages, 4):  # unused stages: no parameters to train or store
            delattr(self.resnet, f'layer{i + 1}')
        self.resnet.stage_planes = self.resnet.stage_planes[:num_stages]
        expansion = 4 if depth >= 50 else 1
        self.out_channels = 64 + sum(p * expansion for p in self.resnet.stage_planes)
        self.memory_format = self.resnet.memory_format

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        r = self.resnet
        x = r.relu(r.bn1(r.conv1(x.contiguous(memory_format=self.memory_format))))
        maps = [x]
        x = r.maxpool(x)
        for i in range(self.num_stages):
            x = getattr(r, f'layer{i + 1}')(x)
            maps.append(x)
        return maps


class FieldDecoder(nn.Module):
    """Point-wise MLP (Linear + ReLU) from the pixel-aligned feature to one field's channels."""

    def __init__(self, in_channels: int, hidden: Sequence[int], out_channels: int):
        super().__init__()
        layers, width = [], in_channels
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
            width = h
        layers.append(nn.Linear(width, out_channels))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


def sample_pixel_aligned(maps: List[torch.Tensor], grid: torch.Tensor) -> torch.Tensor:
    """(B, N, sum C) bilinear samples of each (B, C, h, w) map at (B, N, 2) ``align_corners=False`` coordinates
    (outside the crop: the border value)."""
    samples = [F.grid_sample(m.float(), grid[:, :, None].to(m.dtype).float(), mode='bilinear', padding_mode='border',
                             align_corners=False)[..., 0] for m in maps]
    return torch.cat(samples, dim=1).transpose(1, 2)


def rot6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """(..., 6) = the first two columns (c1, c2) of a rotation, concatenated (CHORE's targets) -> (..., 3, 3): the
    toolbox's Gram-Schmidt (:func:`hoirecon.models.utils.rot6d_to_matrix`, whose 6D interleaves the two columns)."""
    interleaved = d6.reshape(*d6.shape[:-1], 2, 3).transpose(-1, -2).reshape(*d6.shape[:-1], 6)
    return toolbox_rot6d_to_matrix(interleaved)


@MODELS.register_module()
class CHOREFieldNet(BaseModel):
    """CHORE-style fields at 3D query points from a 5-channel crop (RGB, person mask, object mask).

    Args:
        encoder: :class:`PixelAlignedEncoder` keyword arguments.
        hidden: hidden widths of each decoder MLP (CHORE: 5 x 512; CPU default 2 x 128).
        num_parts: 14 (CHORE) or 22 body parts (:func:`~.geometry.group_parts`).
        clamp: distances are clamped at this many metres (target and prediction) before the L1.
        depth_ref, depth_scale: the depth feature is ``(z - depth_ref) / depth_scale`` (metres; CHORE places the
            person at a fixed depth: a constant reference is what makes the feature available at test time).
        part_radius: cross-entropy on points closer than this to the body (metres; ``inf``: all points).
        object_radius: offset and rotation losses on points closer than this to the object (metres).
        loss_weights: ``udf_human``, ``udf_object``, ``parts``, ``offset``, ``rotation``.
        data_preprocessor: mmengine data preprocessor config (moves the data; the model normalises its inputs).
        init_cfg: mmengine init config.

    ``predict`` fills ``pred_instances`` per image with the fields at the sample's ``query_points`` (1, N, 3):
    ``udf_human``, ``udf_object`` (1, N) metres (clamped at ``clamp``), ``part_prob`` (1, N, P), ``centre_offset``
    (1, N, 3) metres, ``object_rot6d`` (1, N, 6), ``object_centre`` (1, 3) and ``object_R`` (1, 3, 3): the
    votes of the points within ``object_radius`` of the predicted object surface, averaged (all points if none).
    """

    def __init__(self,
                 encoder: Optional[dict] = None,
                 hidden: Sequence[int] = (128, 128),
                 num_parts: int = 14,
                 clamp: float = 0.1,
                 depth_ref: float = 2.2,
                 depth_scale: float = 1.0,
                 part_radius: float = float('inf'),
                 object_radius: float = 0.1,
                 loss_weights: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.encoder = PixelAlignedEncoder(**(encoder or {}))
        width = self.encoder.out_channels + 1
        self.decoders = nn.ModuleDict(dict(distance=FieldDecoder(width, hidden, 2),
                                           parts=FieldDecoder(width, hidden, num_parts),
                                           object=FieldDecoder(width, hidden, 9)))
        self.num_parts = int(num_parts)
        self.clamp = float(clamp)
        self.depth_ref, self.depth_scale = float(depth_ref), float(depth_scale)
        self.part_radius, self.object_radius = float(part_radius), float(object_radius)
        self.loss_weights = dict(dict(udf_human=1.0, udf_object=1.0, parts=0.1, offset=1.0, rotation=0.1),
                                 **(loss_weights or {}))
        self.register_buffer('rgb_mean', torch.tensor(RGB_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('rgb_std', torch.tensor(RGB_STD).view(1, 3, 1, 1), persistent=False)

    # ---------------------------------------------------------------- inputs
    def normalise_inputs(self, inputs) -> torch.Tensor:
        """(B, 5, H, W) uint8 (a batch or a list) -> float: RGB by ImageNet mean / std, masks to -1 / 1."""
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(list(inputs))
        x = inputs.float()
        return torch.cat([(x[:, :3] - self.rgb_mean) / self.rgb_std, x[:, 3:] / 127.5 - 1.0], dim=1)

    @staticmethod
    def crop_meta(samples: List[HOIDataSample], device) -> Dict[str, torch.Tensor]:
        """The crop geometry of each sample: ``focal``, ``principal``, ``box_center`` (B, 2), ``box_size`` (B,)."""
        meta = {}
        for key in CROP_META_KEYS:
            meta[key] = torch.stack([torch.as_tensor(np.asarray(s.metainfo[key]), dtype=torch.float32)
                                     for s in samples]).to(device)
        return meta

    # ---------------------------------------------------------------- fields
    def encode(self, inputs) -> List[torch.Tensor]:
        """Feature maps of a batch of 5-channel uint8 crops."""
        return self.encoder(self.normalise_inputs(inputs))

    def query(self, maps: List[torch.Tensor], points: torch.Tensor, meta: Dict[str, torch.Tensor],
              img_size: int) -> Dict[str, torch.Tensor]:
        """Raw fields at (B, N, 3) camera-frame points: ``udf`` (B, N, 2), ``parts`` (B, N, P) logits,
        ``centre_offset`` (B, N, 3), ``object_rot6d`` (B, N, 6)."""
        grid = crop_grid_coords(points, meta['focal'], meta['principal'], meta['box_center'], meta['box_size'],
                                img_size)
        depth = (points[..., 2:3] - self.depth_ref) / self.depth_scale
        feature = torch.cat([sample_pixel_aligned(maps, grid), depth], dim=-1)
        obj = self.decoders['object'](feature)
        return dict(udf=self.decoders['distance'](feature), parts=self.decoders['parts'](feature),
                    centre_offset=obj[..., :3], object_rot6d=obj[..., 3:])

    def forward(self, inputs, data_samples: Optional[List[HOIDataSample]] = None, mode: str = 'tensor'):
        maps = self.encode(inputs)
        img_size = maps[0].shape[-1] * 2
        if isinstance(inputs, torch.Tensor):
            img_size = inputs.shape[-1]
        elif isinstance(inputs, (list, tuple)):
            img_size = inputs[0].shape[-1]
        device = maps[0].device
        points = torch.cat([s.gt_instances.query_points for s in data_samples]).to(device).float()
        outputs = self.query(maps, points, self.crop_meta(data_samples, device), img_size)
        if mode == 'tensor':
            return outputs
        if mode == 'loss':
            return self.loss(outputs, data_samples)
        if mode == 'predict':
            return self.predict(outputs, points, data_samples)
        raise RuntimeError(f'CHOREFieldNet: invalid mode {mode!r} (tensor, loss or predict).')

    # ---------------------------------------------------------------- losses
    def clamped_l1(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean ``|min(pred, c) - min(target, c)|`` with a gradient everywhere it is not zero: where the target is
        below ``c`` it is ``|pred - target|`` (clamping the prediction too would give a prediction above ``c`` no
        gradient towards a near target), where it is at or beyond ``c`` it is ``max(c - pred, 0)``."""
        c = self.clamp
        near = target < c
        return torch.where(near, (pred - target).abs(), (c - pred).clamp(min=0)).mean()

    def loss(self, outputs: Dict[str, torch.Tensor], samples: List[HOIDataSample]) -> Dict[str, torch.Tensor]:
        device = outputs['udf'].device
        gt = {k: torch.cat([s.gt_instances[k] for s in samples]).to(device) for k in TARGET_KEYS}
        w = self.loss_weights
        losses = dict(loss_udf_human=w['udf_human'] * self.clamped_l1(outputs['udf'][..., 0], gt['udf_human']),
                      loss_udf_object=w['udf_object'] * self.clamped_l1(outputs['udf'][..., 1], gt['udf_object']))
        near_body = (gt['udf_human'] < self.part_radius).float()
        ce = F.cross_entropy(outputs['parts'].flatten(0, 1), gt['part_labels'].flatten().long(), reduction='none')
        losses['loss_parts'] = w['parts'] * (ce * near_body.flatten()).sum() / near_body.sum().clamp(min=1)
        near_obj = (gt['udf_object'] < self.object_radius).float()
        denom = near_obj.sum().clamp(min=1)
        offset_err = ((outputs['centre_offset'] - gt['centre_offset'])**2).sum(-1)
        losses['loss_offset'] = w['offset'] * (offset_err * near_obj).sum() / denom
        rot_err = ((outputs['object_rot6d'] - gt['object_rot6d'][:, None])**2).sum(-1)
        losses['loss_rotation'] = w['rotation'] * (rot_err * near_obj).sum() / denom
        return losses

    # ---------------------------------------------------------------- prediction
    def decode(self, outputs: Dict[str, torch.Tensor], points: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Fields in the units of ``predict`` (B, N, ...) plus the per-image object votes (B, 3) / (B, 3, 3)."""
        udf = outputs['udf'].clamp(min=0, max=self.clamp)
        votes = points + outputs['centre_offset']
        weight = (udf[..., 1] < self.object_radius).float()
        weight = torch.where(weight.sum(1, keepdim=True) > 0, weight, torch.ones_like(weight))[..., None]
        centre = (votes * weight).sum(1) / weight.sum(1)
        rot6d = (outputs['object_rot6d'] * weight).sum(1) / weight.sum(1)
        return dict(udf_human=udf[..., 0], udf_object=udf[..., 1], part_prob=outputs['parts'].softmax(-1),
                    centre_offset=outputs['centre_offset'], object_rot6d=outputs['object_rot6d'],
                    object_centre=centre, object_R=rot6d_to_matrix(rot6d))

    def predict(self, outputs: Dict[str, torch.Tensor], points: torch.Tensor,
                samples: List[HOIDataSample]) -> List[HOIDataSample]:
        fields = {k: v.detach().cpu().float() for k, v in self.decode(outputs, points).items()}
        for i, sample in enumerate(samples):
            pred = InstanceData()
            pred.query_points = points[i:i + 1].detach().cpu()
            for key, value in fields.items():
                pred[key] = value[i:i + 1]
            sample.pred_instances = pred
        return samples

    @torch.no_grad()
    def grid_query(self, inputs: torch.Tensor, sample: HOIDataSample, resolution: int = 32,
                   depth_range: Sequence[float] = (1.2, 3.2), chunk: int = 65536) -> Dict[str, torch.Tensor]:
        """Fields of one image on a dense grid of the crop's frustum: ``resolution`` crop pixels per side (cell
        centres) x ``resolution`` depths uniform in ``depth_range`` (metres).

        Args:
            inputs: (5, H, W) uint8 crop. sample: its data sample (``focal``, ``principal``, ``box_center``,
                ``box_size`` metainfo).

        Returns:
            the fields of :meth:`decode` for the (R^3, 3) ``points`` (depth-major, then rows, then columns),
            ``udf_human`` etc. with a leading 1 dropped, and ``points`` itself.
        """
        device = next(self.parameters()).device
        meta = self.crop_meta([sample], device)
        maps = self.encode(inputs[None].to(device))
        points = frustum_grid(meta['focal'], meta['principal'], meta['box_center'], meta['box_size'], resolution,
                              depth_range)
        outputs = chunked_fields(lambda p: self.query(maps, p, meta, inputs.shape[-1]), points, chunk)
        fields = self.decode(outputs, points)
        out = {k: v[0] for k, v in fields.items()}
        out['points'] = points[0]
        return out
