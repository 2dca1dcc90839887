"""ResNet-18/34/50/101/152 with torchvision's parameter names, without torchvision.

The module tree mirrors ``torchvision.models.resnet`` (v1.5: the stride of a
bottleneck sits on its 3x3 conv) minus the ``fc`` classifier, so a torchvision
ImageNet ``state_dict`` saved to a local file loads as it is::

    backbone = ResNet(depth=50, init_cfg=dict(type='Pretrained', checkpoint='resnet50.pth'))
    backbone.init_weights()
"""
from typing import List, Optional, Tuple, Type, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from hoirecon.registry import BACKBONES
from .pretrained import find_pretrained_file, load_torchvision_resnet, pretrained_checkpoint


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or projected) shortcut (ResNet-18/34).

    Args:
        in_channels: channels of the input.
        planes: channels of both convolutions (= output channels, ``expansion`` is 1).
        stride: stride of the first convolution.
        downsample: shortcut projection, needed when the stride or channels change.
    """
    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None):
        super().__init__()
        self.conv1 = conv3x3(in_channels, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand by 4, with a shortcut (ResNet-50/101/152, torchvision v1.5).

    Args:
        in_channels: channels of the input.
        planes: channels of the 1x1 reduction and the 3x3 conv; output has ``4 * planes``.
        stride: stride of the 3x3 convolution.
        downsample: shortcut projection, needed when the stride or channels change.
    """
    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None):
        super().__init__()
        self.conv1 = conv1x1(in_channels, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


Block = Union[Type[BasicBlock], Type[Bottleneck]]


def make_stage(block: Block, in_channels: int, planes: int, num_blocks: int, stride: int) -> nn.Sequential:
    """One ResNet stage (``layerN``): ``num_blocks`` blocks, the first one strided.

    The first block gets ``downsample = Sequential(conv1x1, BatchNorm2d)`` when the
    stride or the channel count changes, named ``downsample.0`` / ``downsample.1``
    as in torchvision.
    """
    out_channels = planes * block.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))
    blocks = [block(in_channels, planes, stride, downsample)]
    blocks += [block(out_channels, planes) for _ in range(1, num_blocks)]
    return nn.Sequential(*blocks)


@BACKBONES.register_module()
class ResNet(BaseModule):
    """ResNet image backbone returning a globally average-pooled feature.

    Parameter and buffer names equal torchvision's ``resnet{depth}`` without
    ``fc`` (``conv1``, ``bn1``, ``layer1.0.conv1``, ..., ``layer2.0.downsample.0``),
    so torchvision ImageNet weights load from a local file through
    ``init_cfg=dict(type='Pretrained', checkpoint='resnet50.pth')`` (a plain
    state_dict; extra ``fc.*`` keys are reported and ignored). Inputs are
    expected normalised as for torchvision (ImageNet mean/std, RGB).

    Args:
        depth: 18 or 34 (:class:`BasicBlock`, 512-d feature), 50, 101 or 152
            (:class:`Bottleneck`, 2048-d feature).
        out_channels: if set, a 1x1 convolution ``out_proj`` (with bias) maps the
            pooled feature to this many channels (StackFLOW's
            ``visual_feature_dim``). Applied after pooling, which equals applying
            it before since both are linear.
        frozen_stages: stages whose parameters get no gradient and whose batch
            norms stay in eval mode: -1 none, 0 the stem (``conv1``, ``bn1``),
            ``i`` the stem and ``layer1`` ... ``layer{i}`` (at most 4).
        norm_eval: keep every BatchNorm in eval mode (frozen running statistics)
            during training.
        channels_last: keep weights and activations in the channels-last
            (NHWC) memory layout; same numbers, faster convolutions on CPUs
            (oneDNN): a training step of ResNet-18 at 128 px, batch 32, took
            0.64 s instead of 0.80 s on 2 AMD EPYC cores (docs/benchmarks.md).
            Checkpoints load either way.
        init_cfg: mmengine init config; by default Kaiming-normal (fan-out)
            convolutions and unit/zero BatchNorms, as torchvision.

    Shapes:
        - input ``x``: (B, 3, H, W) float.
        - :meth:`forward_features`: (B, feat_channels, ceil(H/32), ceil(W/32)).
        - :meth:`forward`: (B, out_channels) (``feat_channels`` when ``out_channels`` is None).
    """
    arch_settings = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }
    stage_planes = (64, 128, 256, 512)

    def __init__(self,
                 depth: int = 50,
                 out_channels: Optional[int] = None,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 channels_last: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu', distribution='normal'),
                dict(type='Constant', val=1, bias=0, layer='_BatchNorm'),
            ]
        super().__init__(init_cfg=init_cfg)
        if depth not in self.arch_settings:
            raise ValueError(f'ResNet: depth={depth!r} is not supported; choose one of {sorted(self.arch_settings)}.')
        if not -1 <= frozen_stages <= len(self.stage_planes):
            raise ValueError(f'ResNet: frozen_stages={frozen_stages} must be in [-1, {len(self.stage_planes)}] '
                             '(-1 freezes nothing, 0 the stem, i the stem and layer1..layer{i}).')
        self.depth = depth
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        block, stage_blocks = self.arch_settings[depth]
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_channels = 64
        for i, (planes, num_blocks) in enumerate(zip(self.stage_planes, stage_blocks)):
            stride = 1 if i == 0 else 2
            self.add_module(f'layer{i + 1}', make_stage(block, in_channels, planes, num_blocks, stride))
            in_channels = planes * block.expansion
        self.feat_channels = in_channels
        self.out_proj = None if out_channels is None else nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.out_channels = in_channels if out_channels is None else out_channels
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            self.to(memory_format=self.memory_format)
        self._freeze_stages()

    @property
    def stages(self) -> Tuple[nn.Sequential, ...]:
        """``(layer1, layer2, layer3, layer4)``."""
        return tuple(getattr(self, f'layer{i + 1}') for i in range(len(self.stage_planes)))

    def init_weights(self) -> None:
        """Initialise as ``init_cfg`` says; a 'Pretrained' entry loads torchvision ImageNet weights from a local
        file (:func:`~hoirecon.models.backbones.pretrained.find_pretrained_file`: a path, a file name or the public
        URL, looked up in torch's hub cache and ``data/pretrained/``; never downloaded), keeping ``out_proj`` at its
        default initialisation."""
        checkpoint = pretrained_checkpoint(self.init_cfg)
        if checkpoint is None:
            super().init_weights()
            return
        report = load_torchvision_resnet(self, checkpoint)
        self.to(memory_format=self.memory_format)
        self._is_init = True
        print_log(f'ResNet-{self.depth}: ImageNet weights loaded from {find_pretrained_file(checkpoint)} '
                  f'(ignored {len(report["ignored"])} classifier keys; not in the file: {report["not_loaded"]})',
                  logger='current')

    def _frozen_modules(self) -> List[nn.Module]:
        if self.frozen_stages < 0:
            return []
        return [self.conv1, self.bn1, *self.stages[:self.frozen_stages]]

    def _freeze_stages(self) -> None:
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'ResNet':
        """Set train/eval mode, keeping frozen stages (and all norms if ``norm_eval``) in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map of the last stage.

        Args:
            x: (B, 3, H, W) normalised images.

        Returns:
            (B, feat_channels, ceil(H/32), ceil(W/32)) feature map.
        """
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f'ResNet expects images of shape (B, 3, H, W), got {tuple(x.shape)}.')
        x = x.contiguous(memory_format=self.memory_format)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in self.stages:
            x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled (and optionally 1x1-projected) feature.

        Args:
            x: (B, 3, H, W) normalised images.

        Returns:
            (B, out_channels) feature vector.
        """
        pooled = self.forward_features(x).mean(dim=(2, 3), keepdim=True)
        if self.out_proj is not None:
            pooled = self.out_proj(pooled)
        return pooled.flatten(1)
