"""hoirecon: monocular 3D human-object interaction reconstruction on mmengine.

Importing the package installs the checkpoint-loading policy of
:mod:`hoirecon.engine.checkpoint_compat` (safe ``weights_only`` loading that
works with torch >= 2.6 on mmengine 0.10.7) for hoirecon's loading paths:
runners whose default scope is ``'hoirecon'`` and the blocks of
``hoirecon.engine.hoirecon_checkpoint_loading()``; other local loads keep
mmengine's own loader.
"""
from .version import __version__
from .engine import checkpoint_compat  # noqa: F401  (registers the scoped local loader)

__all__ = ['__version__']
