"""Image backbones (registered in :data:`hoirecon.registry.BACKBONES`)."""
from .resnet import ResNet

__all__ = ['ResNet']
