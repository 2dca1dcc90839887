"""List what is registered in hoirecon's registries (used by tools/misc/list_components.py)."""
from typing import Dict, Iterable, Optional

from hoirecon.registry import CATEGORIES


def list_components(categories: Optional[Iterable[str]] = None) -> Dict[str, Dict[str, str]]:
    """Return ``{category: {registered name: 'module.Class'}}``, names sorted.

    Args:
        categories: category keys of :data:`hoirecon.registry.CATEGORIES`;
            ``None`` lists all of them.

    Raises:
        KeyError: an unknown category; the message lists the known ones.
    """
    keys = list(CATEGORIES) if categories is None else list(categories)
    unknown = [k for k in keys if k not in CATEGORIES]
    if unknown:
        raise KeyError(f'Unknown categor{"y" if len(unknown) == 1 else "ies"} {unknown}; '
                       f'choose from {sorted(CATEGORIES)}.')
    listing = {}
    for key in keys:
        registry = CATEGORIES[key]
        registry.import_from_location()
        listing[key] = {name: f'{obj.__module__}.{obj.__qualname__}'
                        for name, obj in sorted(registry.module_dict.items())}
    return listing
