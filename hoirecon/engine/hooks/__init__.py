"""Runner hooks registered in ``hoirecon.registry.HOOKS``."""
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = ['SafeCheckpointHook']
