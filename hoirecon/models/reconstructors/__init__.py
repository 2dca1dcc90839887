"""Full models assembled from registered parts (registered in :data:`hoirecon.registry.MODELS`)."""
from .hoi_reconstructor import LOSS_TERMS, HOIReconstructor

__all__ = ['HOIReconstructor', 'LOSS_TERMS']
