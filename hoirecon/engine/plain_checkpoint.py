"""Turn checkpoint contents into objects ``torch.load(weights_only=True)`` reads, and back.

mmengine 0.10.7 writes more than tensors into a checkpoint: the message hub's
``HistoryBuffer`` objects (holding numpy arrays), numpy scalars and arrays in
``meta['dataset_meta']``, numpy dtypes... A weights-only ``torch.load``
refuses all of them. :func:`to_plain` replaces each such object by a tagged
dict of plain values (tensors, numbers, strings, lists, tuples, dicts);
:func:`from_plain` rebuilds the original objects, exactly (same dtypes, same
values), so a resumed run sees what the interrupted one saved.

Plain values: ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``,
``bytes``, ``bytearray``, tensors, ``torch.Size``/``dtype``/``device``, and
``dict``/``OrderedDict``/``list``/``tuple``/``set`` of plain values. Other
mappings become ``dict`` and other tuples (named tuples) plain ``tuple``.
Containers whose contents need no conversion are returned as they are (no
copy), so a model ``state_dict`` keeps its ``_metadata``.
"""
from collections import OrderedDict
from typing import Any, Callable, Hashable

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from numpy.lib.format import descr_to_dtype, dtype_to_descr

#: Key that marks a dict as the plain form of a non-plain object.
PLAIN_TYPE_KEY = '__hoirecon_plain_type__'

#: Exact types stored as they are (subclasses such as enums or numpy scalars are not plain).
_PLAIN_ATOMS = frozenset(
    {type(None), bool, int, float, complex, str, bytes, bytearray, torch.Size, torch.dtype, torch.device})
_PLAIN_KEYS = frozenset({type(None), bool, int, float, complex, str, bytes, torch.dtype, torch.device})
#: numpy kinds whose arrays become tensors: bool, signed/unsigned int, float, complex.
_TENSOR_KINDS = 'biufc'


def to_plain(obj: Any, path: str = 'checkpoint') -> Any:
    """Return ``obj`` with every non-plain object replaced by its plain form.

    Args:
        obj: Any nesting of containers, tensors, numbers, numpy objects and
            ``HistoryBuffer`` objects.
        path (str): How ``obj`` is reached, used in error messages.

    Returns:
        The plain equivalent; ``obj`` itself when it is already plain. The
        input is never modified.

    Raises:
        TypeError: An object has no plain form; the message names its path.
    """
    if type(obj) in _PLAIN_ATOMS or isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, np.generic):
        return {PLAIN_TYPE_KEY: 'numpy_scalar', 'array': _ndarray_to_plain(np.asarray(obj), path)}
    if isinstance(obj, dict):
        items = [(_plain_key(k, path), to_plain(v, f'{path}[{k!r}]')) for k, v in obj.items()]
        if type(obj) in (dict, OrderedDict) and _unchanged(items, obj.items()):
            return obj
        return _rebuild_mapping(obj, items)
    if isinstance(obj, (list, tuple)):
        values = [to_plain(v, f'{path}[{i}]') for i, v in enumerate(obj)]
        if type(obj) in (list, tuple) and all(a is b for a, b in zip(values, obj)):
            return obj
        return list(values) if isinstance(obj, list) else tuple(values)
    if isinstance(obj, set):
        return {_plain_key(v, path) for v in obj}
    if isinstance(obj, HistoryBuffer):
        log_history, count_history = obj.data
        return {
            PLAIN_TYPE_KEY: 'HistoryBuffer',
            'log_history': _ndarray_to_plain(log_history, f'{path}.log_history'),
            'count_history': _ndarray_to_plain(count_history, f'{path}.count_history'),
            'max_length': obj.max_length,
        }
    if isinstance(obj, np.ndarray):
        return _ndarray_to_plain(obj, path)
    if isinstance(obj, np.dtype):
        return {PLAIN_TYPE_KEY: 'numpy_dtype', 'descr': dtype_to_descr(obj)}
    if isinstance(obj, type) and issubclass(obj, np.generic):
        return {PLAIN_TYPE_KEY: 'numpy_type', 'descr': dtype_to_descr(np.dtype(obj))}
    raise TypeError(f'{path} is a {type(obj).__module__}.{type(obj).__qualname__}, which a checkpoint loaded with '
                    'torch.load(weights_only=True) cannot hold. Store tensors, numbers, strings, numpy arrays or '
                    'containers of them there instead (e.g. in the dataset metainfo or the message hub).')


def from_plain(obj: Any) -> Any:
    """Inverse of :func:`to_plain`: rebuild the objects that it replaced.

    Objects that :func:`to_plain` never produces (e.g. a ``HistoryBuffer``
    from a checkpoint loaded with full unpickling) are returned unchanged, as
    are containers with nothing to rebuild.
    """
    if isinstance(obj, dict):
        if PLAIN_TYPE_KEY in obj:
            return _DECODERS[obj[PLAIN_TYPE_KEY]](obj)
        items = [(k, from_plain(v)) for k, v in obj.items()]
        if _unchanged(items, obj.items()):
            return obj
        return _rebuild_mapping(obj, items)
    if isinstance(obj, (list, tuple)) and not isinstance(obj, torch.Size):
        values = [from_plain(v) for v in obj]
        if all(a is b for a, b in zip(values, obj)):
            return obj
        return list(values) if isinstance(obj, list) else tuple(values)
    return obj


def _unchanged(new_items: list, old_items) -> bool:
    """Whether every (key, value) pair of ``new_items`` is the very same objects as in ``old_items``."""
    return all(k is old_k and v is old_v for (k, v), (old_k, old_v) in zip(new_items, old_items))


def _plain_key(key: Any, path: str) -> Hashable:
    """Dict keys and set members must stay hashable: numpy scalars become Python scalars."""
    if isinstance(key, np.generic):
        return key.item()
    if type(key) in _PLAIN_KEYS:
        return key
    if isinstance(key, tuple):
        return tuple(_plain_key(k, path) for k in key)
    raise TypeError(f'{path} has a key or set member {key!r} of type {type(key).__qualname__}; checkpoint keys '
                    'must be strings, numbers or tuples of them.')


def _rebuild_mapping(original: dict, items: list) -> dict:
    """A ``dict`` (or ``OrderedDict``, keeping its ``_metadata``) with ``items``."""
    if isinstance(original, OrderedDict):
        rebuilt = OrderedDict(items)
        if type(original) is OrderedDict:
            rebuilt.__dict__.update(vars(original))
        return rebuilt
    return dict(items)


def _ndarray_to_plain(array: np.ndarray, path: str) -> dict:
    """Numeric arrays become tensors; others (strings, objects) nested lists."""
    descr = dtype_to_descr(array.dtype)
    if array.dtype.kind in _TENSOR_KINDS and array.dtype.names is None:
        native = np.array(array, dtype=array.dtype.newbyteorder('='), order='C', copy=True)
        return {PLAIN_TYPE_KEY: 'ndarray', 'descr': descr, 'tensor': torch.from_numpy(native)}
    items = [to_plain(v, f'{path}[{i}]') for i, v in enumerate(array.ravel().tolist())]
    return {PLAIN_TYPE_KEY: 'ndarray', 'descr': descr, 'shape': tuple(array.shape), 'items': items}


def _ndarray_from_plain(plain: dict) -> np.ndarray:
    dtype = descr_to_dtype(plain['descr'])
    if 'tensor' in plain:
        return plain['tensor'].cpu().numpy().astype(dtype, copy=True)
    array = np.empty(len(plain['items']), dtype=dtype)
    for i, value in enumerate(plain['items']):
        array[i] = from_plain(value)
    return array.reshape(plain['shape'])


def _history_buffer_from_plain(plain: dict) -> HistoryBuffer:
    return HistoryBuffer(_ndarray_from_plain(plain['log_history']),
                         _ndarray_from_plain(plain['count_history']),
                         max_length=plain['max_length'])


_DECODERS: dict[str, Callable[[dict], Any]] = {
    'HistoryBuffer': _history_buffer_from_plain,
    'ndarray': _ndarray_from_plain,
    'numpy_scalar': lambda plain: _ndarray_from_plain(plain['array'])[()],
    'numpy_dtype': lambda plain: descr_to_dtype(plain['descr']),
    'numpy_type': lambda plain: descr_to_dtype(plain['descr']).type,
}
