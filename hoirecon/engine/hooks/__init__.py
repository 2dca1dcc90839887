"""Runner hooks registered in ``hoirecon.registry.HOOKS``."""
from .adaptive_threads_hook import AdaptiveThreadsHook
from .loss_warmup_hook import LossWarmupHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .visualization_hook import HOIVisualizationHook

__all__ = ['AdaptiveThreadsHook', 'HOIVisualizationHook', 'LossWarmupHook', 'SafeCheckpointHook']
