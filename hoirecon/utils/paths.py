"""Where hoirecon keeps generated files (surrogate body, synthetic data)."""
import os
import os.path as osp

CACHE_ENV = 'HOIRECON_CACHE'


def cache_dir(*parts: str) -> str:
    """Return (and create) a folder under the hoirecon cache.

    The cache root is ``$HOIRECON_CACHE`` if set, else
    ``$XDG_CACHE_HOME/hoirecon`` or ``~/.cache/hoirecon``.
    """
    root = os.environ.get(CACHE_ENV)
    if not root:
        root = osp.join(os.environ.get('XDG_CACHE_HOME', osp.expanduser('~/.cache')), 'hoirecon')
    path = osp.join(root, *parts)
    os.makedirs(path, exist_ok=True)
    return path
