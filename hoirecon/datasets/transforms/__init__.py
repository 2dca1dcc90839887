"""Registered data transforms of the HOI pipeline (StackFLOW's crop, augmentation and packing)."""
from .background import BackgroundSwap
from .color import ColorGain
from .formatting import PackHOIInputs
from .hoi_crop import HOICrop
from .loading import LoadCorrespondences, LoadHOIImage, fixed_size_correspondences

__all__ = [
    'BackgroundSwap', 'ColorGain', 'HOICrop', 'LoadCorrespondences', 'LoadHOIImage', 'PackHOIInputs',
    'fixed_size_correspondences'
]
