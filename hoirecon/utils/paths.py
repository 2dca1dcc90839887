"""Where hoirecon keeps generated files (surrogate body cache) and where a config's ``data/...`` paths point."""
import os
import os.path as osp
from typing import Optional, Tuple

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


#: Environment variable naming the folder that stands for the configs' ``data/`` (like ``--data-root``).
DATA_ROOT_ENV = 'HOIRECON_DATA_ROOT'
#: Prefix of the configs' data paths (``data/behave``, ``data/behave_synthetic/objects``, ``data/body_models``).
DATA_PREFIX = 'data'


def checkout_root() -> Optional[str]:
    """The source checkout hoirecon runs from (the folder holding ``configs/`` and ``hoirecon/``), or None for an
    installed (non-editable) package."""
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    return root if osp.isdir(osp.join(root, 'configs')) and osp.isdir(osp.join(root, 'hoirecon')) else None


def data_base(data_root: Optional[str] = None) -> Tuple[str, str]:
    """The folder that a config's ``data/...`` paths are read under, and why.

    In order: ``data_root`` (``--data-root``), ``$HOIRECON_DATA_ROOT``, ``./data`` when it exists, the checkout's
    ``data/`` (so the tools work from any folder of a source checkout), else ``./data``.

    Returns:
        (folder standing for ``data/``, a short reason for messages).
    """
    if data_root:
        return osp.abspath(osp.expanduser(data_root)), '--data-root'
    if os.environ.get(DATA_ROOT_ENV):
        return osp.abspath(osp.expanduser(os.environ[DATA_ROOT_ENV])), f'${DATA_ROOT_ENV}'
    if osp.isdir(DATA_PREFIX):
        return osp.abspath(DATA_PREFIX), 'the current folder'
    checkout = checkout_root()
    if checkout is not None:
        return osp.join(checkout, DATA_PREFIX), 'the hoirecon checkout'
    return osp.abspath(DATA_PREFIX), 'the current folder'


def resolve_data_path(path: str, base: str) -> str:
    """``data/<rest>`` -> ``<base>/<rest>``; any other path (absolute, ``surrogate``, ``work_dirs/...``) as is."""
    parts = path.replace('\\', '/').split('/')
    if osp.isabs(path) or parts[0] != DATA_PREFIX:
        return path
    return osp.join(base, *parts[1:])


def resolve_data_paths(cfg, data_root: Optional[str] = None) -> Tuple[str, str]:
    """Rewrite every ``data/...`` string of a config (in place) under :func:`data_base`.

    Configs name their files relative to the checkout (``data/behave_synthetic``, its ``objects/``, the PCA file,
    ``data/body_models``); this makes them independent of the folder a tool is started from.

    Args:
        cfg: an mmengine ``Config`` (or nested dicts / lists).
        data_root: the folder that stands for ``data/`` (``--data-root``), or None for :func:`data_base`'s order.

    Returns:
        (base folder, reason), as :func:`data_base`.
    """
    base, reason = data_base(data_root)

    def visit(value):
        if isinstance(value, str):
            return resolve_data_path(value, base)
        if isinstance(value, dict):
            for key in list(value.keys()):
                value[key] = visit(value[key])
            return value
        if isinstance(value, (list, tuple)):
            return type(value)(visit(item) for item in value)
        return value

    target = cfg._cfg_dict if hasattr(cfg, '_cfg_dict') else cfg
    for key in list(target.keys()):
        target[key] = visit(target[key])
    return base, reason


def data_path_hint(base: str, reason: str) -> str:
    """One sentence for missing-file errors: where ``data/`` was looked for and how to point elsewhere."""
    return (f"the config's data/ paths were read under {base} ({reason}); pass --data-root DIR (the folder that "
            f'holds e.g. behave_synthetic/ or behave/) or set {DATA_ROOT_ENV}.')
