"""Runner-side pieces: checkpoint loading policy (hooks and loops come later)."""
from . import checkpoint_compat  # noqa: F401
from .checkpoint_compat import UnsafeCheckpointError, allow_unsafe_checkpoints, load_checkpoint_file

__all__ = ['UnsafeCheckpointError', 'allow_unsafe_checkpoints', 'load_checkpoint_file']
