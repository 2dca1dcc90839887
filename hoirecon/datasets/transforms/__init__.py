"""Registered data transforms of the HOI pipeline (StackFLOW's crop, augmentation and packing)."""
from .background import BackgroundSwap
from .chore_targets import CHOREQueryTargets, PackCHOREInputs
from .color import ColorGain
from .formatting import PackHOIInputs
from .hoi_crop import HOICrop
from .loading import LoadBodyEstimate, LoadCorrespondences, LoadHOIImage, fixed_size_correspondences
from .object_crop import ObjectCrop, PackObjectCorrespondenceInputs

__all__ = [
    'BackgroundSwap', 'CHOREQueryTargets', 'ColorGain', 'HOICrop', 'LoadBodyEstimate', 'LoadCorrespondences',
    'LoadHOIImage', 'ObjectCrop',
    'PackCHOREInputs', 'PackHOIInputs', 'PackObjectCorrespondenceInputs', 'fixed_size_correspondences'
]
