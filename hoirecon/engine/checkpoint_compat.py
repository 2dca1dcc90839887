"""Checkpoint loading that is safe by default and works on mmengine 0.10.7.

mmengine 0.10.7 calls ``torch.load(filename)`` for local files; torch >= 2.6
defaults to ``weights_only=True`` and then fails on the extra objects mmengine
pickles (see docs/toolbox_conventions notes in ``docs/install.md``). Upstream
fixed it by loading with ``weights_only=False``, which runs whatever code a
pickle names: unacceptable for a file downloaded from elsewhere.

hoirecon re-registers mmengine's local (``''``) scheme with a loader that

* loads with ``weights_only=True`` (tensors, numbers, strings, containers),
* and, if the file needs arbitrary unpickling, raises
  :class:`UnsafeCheckpointError` naming the file and the explicit opt-in:
  the environment variable ``HOIRECON_ALLOW_UNSAFE_CHECKPOINTS=1`` or the
  context manager :func:`allow_unsafe_checkpoints`.

Importing :mod:`hoirecon` installs it (``force=True`` replaces mmengine's).
"""
import contextlib
import os
import os.path as osp
import pickle
from typing import Iterator, Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader

UNSAFE_ENV = 'HOIRECON_ALLOW_UNSAFE_CHECKPOINTS'
_unsafe_depth = 0


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint can only be read by running arbitrary pickled code."""


@contextlib.contextmanager
def allow_unsafe_checkpoints() -> Iterator[None]:
    """Allow full unpickling of trusted checkpoints inside this block."""
    global _unsafe_depth
    _unsafe_depth += 1
    try:
        yield
    finally:
        _unsafe_depth -= 1


def _unsafe_allowed() -> bool:
    return _unsafe_depth > 0 or os.environ.get(UNSAFE_ENV, '') in ('1', 'true', 'yes')


def load_checkpoint_file(filename: str, map_location: Optional[object] = 'cpu'):
    """Load a local checkpoint with ``weights_only=True`` unless opted out.

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        UnsafeCheckpointError: the file needs arbitrary unpickling and the
            user did not opt in.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint {filename} can not be found.')
    if _unsafe_allowed():
        return torch.load(filename, map_location=map_location, weights_only=False)
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f'Refusing to load {filename}: it is not a plain-tensor checkpoint and loading it would run '
            f'arbitrary pickled code ({str(err).splitlines()[0]}). If you trust this file, set '
            f'{UNSAFE_ENV}=1 or wrap the call in hoirecon.engine.allow_unsafe_checkpoints().') from err


@CheckpointLoader.register_scheme(prefixes='', force=True)
def _load_from_local(filename: str, map_location):
    """mmengine's local-file scheme, replaced by :func:`load_checkpoint_file`."""
    return load_checkpoint_file(filename, map_location)
