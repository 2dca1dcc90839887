"""Registered data transforms of the HOI pipeline (StackFLOW's crop, augmentation and packing)."""
from .background import BackgroundSwap
from .color import ColorGain
from .formatting import PackHOIInputs
from .hoi_crop import HOICrop
from .loading import LoadCorrespondences, LoadHOIImage, fixed_size_correspondences
from .object_crop import ObjectCrop, PackObjectCorrespondenceInputs

__all__ = [
    'BackgroundSwap', 'ColorGain', 'HOICrop', 'LoadCorrespondences', 'LoadHOIImage', 'ObjectCrop', 'PackHOIInputs',
    'PackObjectCorrespondenceInputs', 'fixed_size_correspondences'
]
