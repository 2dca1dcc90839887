"""Baselines of the paper's tables that are methods of their own, not component swaps of StackFLOW: the PHOSA-style
optimisation (:mod:`.phosa`, :mod:`.phosa_reconstructor`)."""
from .phosa import PHOSAMasks, PHOSAObjectFitter, PHOSAResult, prepare_masks, render_depth
from .phosa_reconstructor import PHOSAReconstructor

__all__ = ['PHOSAMasks', 'PHOSAObjectFitter', 'PHOSAReconstructor', 'PHOSAResult', 'prepare_masks', 'render_depth']
