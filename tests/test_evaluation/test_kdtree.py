"""The exact kd-tree libraries of the CPU path give the brute-force nearest distances."""
import threading

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from hoirecon.evaluation.functional import kdtree
from hoirecon.evaluation.functional.kdtree import (KDTREE_LIBRARIES, build_tree, limit_openmp_threads,
                                                   nearest_distances, resolve_kdtree_library)

HAS_PYKDTREE = kdtree._pykdtree() is not None
LIBRARIES = ['scipy', pytest.param('pykdtree', marks=pytest.mark.skipif(not HAS_PYKDTREE, reason='no pykdtree'))]


def surface(rng: np.random.Generator, num: int, centre=(0.1, 0.3, 2.5)) -> np.ndarray:
    """Points on a noisy ellipsoid in camera space (like mesh samples)."""
    direction = rng.normal(size=(num, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return direction * [0.3, 0.8, 0.2] + centre + rng.normal(scale=0.005, size=(num, 3))


@pytest.mark.parametrize('library', LIBRARIES)
@pytest.mark.parametrize('case', ['tiny', 'one_reference', 'same_points', 'near', 'far', 'duplicates'])
def test_nearest_distances_equal_brute_force(library, case):
    rng = np.random.default_rng(len(case))
    reference, queries = {
        'tiny': lambda: (surface(rng, 2), surface(rng, 1)),
        'one_reference': lambda: (surface(rng, 1), surface(rng, 50)),
        'same_points': lambda: (lambda p: (p, p.copy()))(surface(rng, 500)),
        'near': lambda: (surface(rng, 3000), surface(rng, 2000) + rng.normal(scale=0.02, size=3)),
        'far': lambda: (surface(rng, 3000), surface(rng, 2000, centre=(3.0, -2.0, 6.0))),
        'duplicates': lambda: (np.repeat(surface(rng, 40), 30, axis=0), surface(rng, 700)),
    }[case]()
    distances = nearest_distances(build_tree(reference, library), queries)
    assert distances.dtype == np.float64 and distances.shape == (len(queries), )
    np.testing.assert_allclose(distances, cdist(queries, reference).min(axis=1), rtol=1e-12, atol=1e-15)
    if case == 'same_points':
        np.testing.assert_array_equal(distances, 0)


@pytest.mark.skipif(not HAS_PYKDTREE, reason='no pykdtree')
def test_both_libraries_give_the_same_numbers():
    rng = np.random.default_rng(7)
    reference, queries = surface(rng, 5000), surface(rng, 5000) + [0.04, -0.02, 0.03]
    scipy_distances = nearest_distances(build_tree(reference, 'scipy'), queries)
    np.testing.assert_allclose(nearest_distances(build_tree(reference, 'pykdtree'), queries),
                               scipy_distances,
                               rtol=1e-14,
                               atol=0)


def test_resolve_kdtree_library(monkeypatch):
    assert resolve_kdtree_library('scipy') == 'scipy'
    assert resolve_kdtree_library('auto') in KDTREE_LIBRARIES[1:]
    with pytest.raises(ValueError, match='kdtree_library must be one of'):
        resolve_kdtree_library('faiss')
    monkeypatch.setattr(kdtree, '_pykdtree_class', None)  # as if pykdtree were not installed
    assert resolve_kdtree_library('auto') == 'scipy'
    with pytest.raises(ValueError, match='needs the pykdtree package'):
        resolve_kdtree_library('pykdtree')


@pytest.mark.skipif(not kdtree._openmp_runtimes(), reason='no OpenMP runtime listed')
def test_limit_openmp_threads_only_affects_the_calling_thread():
    runtimes = kdtree._openmp_runtimes()
    before = [runtime.omp_get_max_threads() for runtime in runtimes]
    for runtime in runtimes:
        runtime.omp_set_num_threads(2)
    try:
        seen = []

        def worker():
            for runtime in runtimes:  # as if OMP_NUM_THREADS (a new thread's default) were 3
                runtime.omp_set_num_threads(3)
            limit_openmp_threads()
            seen.append([runtime.omp_get_max_threads() for runtime in runtimes])

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        assert seen == [[1] * len(runtimes)]
        assert [runtime.omp_get_max_threads() for runtime in runtimes] == [2] * len(runtimes)
    finally:
        for runtime, threads in zip(runtimes, before):
            runtime.omp_set_num_threads(threads)
