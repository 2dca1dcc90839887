"""Runner hooks registered in ``hoirecon.registry.HOOKS``."""
from .safe_checkpoint_hook import SafeCheckpointHook
from .visualization_hook import HOIVisualizationHook

__all__ = ['HOIVisualizationHook', 'SafeCheckpointHook']
