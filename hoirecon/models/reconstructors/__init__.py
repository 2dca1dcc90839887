"""Full models assembled from registered parts (registered in :data:`hoirecon.registry.MODELS`)."""
from hoirecon.models.losses import LOSS_TERMS
from .hoi_reconstructor import HOIReconstructor

__all__ = ['HOIReconstructor', 'LOSS_TERMS']
