"""Checkpoint loading that is safe by default and works on mmengine 0.10.7, on hoirecon's loading paths.

mmengine 0.10.7 calls ``torch.load(filename)`` for local files; torch >= 2.6
defaults to ``weights_only=True`` and then fails on the extra objects mmengine
pickles (see docs/toolbox_conventions notes in ``docs/install.md``). Upstream
fixed it by loading with ``weights_only=False``, which runs whatever code a
pickle names: unacceptable for a file downloaded from elsewhere.

hoirecon's loader (:func:`load_checkpoint_file`)

* loads with ``weights_only=True`` (tensors, numbers, strings, containers),
* and, if the file needs arbitrary unpickling, raises
  :class:`UnsafeCheckpointError` naming the file and the explicit opt-in:
  the environment variable ``HOIRECON_ALLOW_UNSAFE_CHECKPOINTS=1`` or the
  context manager :func:`allow_unsafe_checkpoints`.

Scope: it serves the local files that hoirecon loads, i.e. while

* ``'hoirecon'`` is mmengine's current default scope: a runner built from a
  hoirecon config (``default_scope = 'hoirecon'`` in
  ``configs/_base_/default_runtime.py``), for ``load_from``, ``resume`` and
  ``init_cfg=dict(type='Pretrained')``; or inside
  ``DefaultScope.overwrite_default_scope('hoirecon')``;
* or inside :func:`hoirecon_checkpoint_loading` (``tools/train.py``,
  ``tools/test.py`` and :func:`hoirecon.apis.inference.build_model` use it, so
  they keep the policy whatever a config's ``default_scope``).

Every other local load in the process (a runner of another toolbox, a script
calling ``mmengine.runner.load_checkpoint`` outside hoirecon's scope) goes to
mmengine's own ``load_from_local``, unchanged.

Why importing :mod:`hoirecon` still registers a loader for mmengine's local
(``''``) scheme with ``force=True``: in mmengine 0.10.7 the loader of a local
path is found only in one class-level table, ``CheckpointLoader._schemes``
(``Runner.load_checkpoint`` / ``Runner.resume`` ->
``mmengine.runner.checkpoint._load_checkpoint`` ->
``CheckpointLoader.load_checkpoint`` -> ``_get_checkpoint_loader``). Neither the
runner nor ``load_checkpoint`` takes a loader argument; a prefix of hoirecon's
own (``'hoirecon://'``) would change every checkpoint path in configs and
command lines; and swapping the table entry only around hoirecon's calls would
miss the plain ``mmengine.runner.Runner`` the tools build (its loads happen
inside ``runner.train()`` / ``runner.test()``) and would race with other
threads. So the entry is replaced once, by a dispatcher that calls hoirecon's
loader inside hoirecon's scope and mmengine's original function
(:data:`MMENGINE_LOCAL_LOADER`) everywhere else.
"""
import contextlib
import contextvars
import os
import os.path as osp
import pickle
from typing import Callable, Iterator, Optional

import torch
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import CheckpointLoader

UNSAFE_ENV = 'HOIRECON_ALLOW_UNSAFE_CHECKPOINTS'
#: mmengine's default scope of hoirecon's configs and registries.
HOIRECON_SCOPE = 'hoirecon'
_unsafe_depth = 0
_explicit_scope = contextvars.ContextVar('hoirecon_checkpoint_loading', default=0)


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


@contextlib.contextmanager
def hoirecon_checkpoint_loading() -> Iterator[None]:
    """Load local checkpoints with hoirecon's policy inside this block, whatever the current default scope."""
    token = _explicit_scope.set(_explicit_scope.get() + 1)
    try:
        yield
    finally:
        _explicit_scope.reset(token)


def in_hoirecon_scope() -> bool:
    """Whether a local checkpoint loaded now goes through :func:`load_checkpoint_file` (see the module doc)."""
    if _explicit_scope.get() > 0:
        return True
    scope = DefaultScope.get_current_instance()
    return scope is not None and scope.scope_name == HOIRECON_SCOPE


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


def _original_local_loader() -> Callable:
    """mmengine's loader of the ``''`` scheme (also when this module is imported a second time)."""
    loader = CheckpointLoader._schemes['']
    return getattr(loader, 'mmengine_loader', loader)


#: mmengine's own local-file loader, used outside hoirecon's scope.
MMENGINE_LOCAL_LOADER = _original_local_loader()


def _load_from_local(filename: str, map_location):
    """mmengine's local-file scheme: :func:`load_checkpoint_file` in hoirecon's scope, else mmengine's loader."""
    if in_hoirecon_scope():
        return load_checkpoint_file(filename, map_location)
    return MMENGINE_LOCAL_LOADER(filename, map_location)


_load_from_local.mmengine_loader = MMENGINE_LOCAL_LOADER
CheckpointLoader.register_scheme(prefixes='', loader=_load_from_local, force=True)
