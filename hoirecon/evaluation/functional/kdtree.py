"""Exact float64 nearest-neighbour distances on the CPU: the kd-tree libraries of the evaluator's CPU path.

Two libraries answer the same queries with the same float64 distances (both
take ``sqrt`` of the exact squared Euclidean distance to the exact nearest
point; no approximation, ``eps = 0``):

- ``'scipy'``: ``scipy.spatial.cKDTree`` with ``leafsize=48,
  balanced_tree=False, compact_nodes=False``, the fastest options measured on
  10000 surface samples (``compact_nodes=False`` alone saves ~12 % of the
  query time on this data);
- ``'pykdtree'``: ``pykdtree.kdtree.KDTree`` with ``leafsize=16``, an optional
  package (``pip install pykdtree``) whose queries are ~1.6x faster than
  scipy's on the same trees of surface samples.

``'auto'`` takes pykdtree when it is installed and the OpenMP runtimes can be
listed to limit its threads (Linux, see :func:`limit_openmp_threads`), else
scipy.

pykdtree runs each query as an OpenMP loop whose per-query start distance
(``min_dist``) is a variable shared by the OpenMP threads (pykdtree 1.4.x):
a data race when the team has more than one thread. The evaluator therefore
calls it with ONE OpenMP thread per calling thread and parallelises over
frames with its own threads instead (which is also what avoids OpenMP teams
oversubscribing a shared machine).
"""
import ctypes
import re
from typing import Any, Dict, List, Optional

import numpy as np
from scipy.spatial import cKDTree

#: Libraries of the CPU path; ``'auto'`` resolves to ``'pykdtree'`` or ``'scipy'``.
KDTREE_LIBRARIES = ('auto', 'scipy', 'pykdtree')
#: cKDTree build options, measured fastest for 10000 surface samples (docs/evaluation.md).
SCIPY_TREE_OPTIONS = dict(leafsize=48, balanced_tree=False, compact_nodes=False)
#: pykdtree leaf size, measured fastest for 10000 surface samples.
PYKDTREE_LEAFSIZE = 16

_UNSET = object()
#: File names of OpenMP runtimes (GNU, LLVM, Intel), possibly with a wheel's hash: libgomp-870cb1d0.so.1.0.0.
_OPENMP_NAME = re.compile(r'lib(gomp|omp|iomp5)[-.]')
_pykdtree_class: Any = _UNSET
_openmp_handles: Dict[str, Optional[ctypes.CDLL]] = {}


def _pykdtree() -> Optional[type]:
    """Return pykdtree's ``KDTree`` class, or None when pykdtree is not installed."""
    global _pykdtree_class
    if _pykdtree_class is _UNSET:
        try:
            from pykdtree.kdtree import KDTree
        except ImportError:
            KDTree = None
        _pykdtree_class = KDTree
    return _pykdtree_class


def _openmp_runtimes() -> Optional[List[ctypes.CDLL]]:
    """Every OpenMP runtime loaded in this process, or None where that cannot be listed (no ``/proc``).

    All of them, not only the copy a pykdtree wheel ships: torch loads its
    ``libgomp`` into the global symbol scope, and pykdtree's OpenMP calls then
    bind to that one. Re-read at each call: a library imported later may add one.
    """
    try:
        with open('/proc/self/maps') as maps:
            paths = sorted({line.split()[-1] for line in maps if _OPENMP_NAME.match(line.rsplit('/', 1)[-1])})
    except OSError:
        return None
    for path in paths:
        if path not in _openmp_handles:
            try:
                library = ctypes.CDLL(path)  # already loaded: the same handle
                library.omp_set_num_threads.argtypes = [ctypes.c_int]
                library.omp_get_max_threads.restype = ctypes.c_int
            except (OSError, AttributeError):
                library = None
            _openmp_handles[path] = library
    return [_openmp_handles[path] for path in paths if _openmp_handles[path] is not None]


def resolve_kdtree_library(library: str) -> str:
    """Resolve ``library`` (one of :data:`KDTREE_LIBRARIES`) to ``'scipy'`` or ``'pykdtree'``.

    Raises:
        ValueError: unknown name, or ``'pykdtree'`` requested but not installed.
    """
    if library not in KDTREE_LIBRARIES:
        raise ValueError(f'kdtree_library must be one of {KDTREE_LIBRARIES}, got {library!r}')
    if library == 'auto':
        return 'pykdtree' if _pykdtree() is not None and _openmp_runtimes() is not None else 'scipy'
    if library == 'pykdtree' and _pykdtree() is None:
        raise ValueError("kdtree_library='pykdtree' needs the pykdtree package (pip install pykdtree)")
    return library


def limit_openmp_threads() -> None:
    """Make the calling thread run OpenMP regions with one thread, in every OpenMP runtime of the process.

    For the evaluator's worker threads (a thread-pool initializer): they
    parallelise over frames, so pykdtree's queries (see the module doc) and
    torch's sampling ops inside them run on one thread each.
    ``omp_set_num_threads`` sets the calling thread's own limit, so other
    threads keep theirs. Where the runtimes cannot be listed (no ``/proc``),
    set ``OMP_NUM_THREADS=1`` before using ``'pykdtree'`` explicitly
    (``'auto'`` takes scipy there).
    """
    for runtime in _openmp_runtimes() or []:
        runtime.omp_set_num_threads(1)


def build_tree(points: np.ndarray, library: str) -> Any:
    """Build the kd-tree of (N, 3) float64 points with ``library`` (``'scipy'`` or ``'pykdtree'``)."""
    points = np.ascontiguousarray(points, dtype=np.float64)
    if library == 'pykdtree':
        return _pykdtree()(points, leafsize=PYKDTREE_LEAFSIZE)
    return cKDTree(points, **SCIPY_TREE_OPTIONS)


def nearest_distances(tree: Any, queries: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance (float64) from each of the (M, 3) ``queries`` to its nearest tree point."""
    return np.asarray(tree.query(np.ascontiguousarray(queries, dtype=np.float64))[0], dtype=np.float64)
