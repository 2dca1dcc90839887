import shutil

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from hoirecon.evaluation.functional import chamfer_distance, nearest_neighbor_distances


def reference_chamfer(x: np.ndarray, y: np.ndarray) -> float:
    """Brute force over all pairs: mean of x->y minima plus mean of y->x minima."""
    distances = cdist(np.asarray(x, np.float64), np.asarray(y, np.float64))
    return distances.min(axis=1).mean() + distances.min(axis=0).mean()


def surface_like(rng: np.random.Generator, num: int) -> np.ndarray:
    """Points on a noisy ellipsoid a few metres from the origin (like camera-space meshes)."""
    direction = rng.normal(size=(num, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return direction * [0.3, 0.8, 0.2] + [0.1, 0.3, 2.5] + rng.normal(scale=0.01, size=(num, 3))


@pytest.mark.parametrize('sizes', [(1, 1), (7, 13), (500, 300), (1500, 2000)])
@pytest.mark.parametrize('backend', ['kdtree', 'torch'])
def test_chamfer_equals_brute_force(sizes, backend):
    rng = np.random.default_rng(sum(sizes))
    x, y = surface_like(rng, sizes[0]), surface_like(rng, sizes[1])
    result = chamfer_distance(x, y, backend=backend)
    assert isinstance(result, float)
    assert result == pytest.approx(reference_chamfer(x, y), rel=1e-6, abs=0)


def test_chamfer_is_the_sum_of_the_one_sided_means():
    x = np.array([[0.0, 0, 0]])
    y = np.array([[1.0, 0, 0], [3.0, 0, 0]])
    # x->y: 1; y->x: (1 + 3) / 2 = 2; the papers add them: 3 (not their average, not squared).
    assert chamfer_distance(x, y) == pytest.approx(3.0)


@pytest.mark.parametrize('backend', ['kdtree', 'torch'])
def test_batched_with_lengths_and_masks(backend):
    rng = np.random.default_rng(1)
    x, y = surface_like(rng, 3 * 200).reshape(3, 200, 3), surface_like(rng, 3 * 150).reshape(3, 150, 3)
    x_lengths, y_lengths = np.array([200, 57, 1]), np.array([150, 150, 90])
    expected = [reference_chamfer(x[i, :x_lengths[i]], y[i, :y_lengths[i]]) for i in range(3)]
    by_lengths = chamfer_distance(x, y, x_lengths=x_lengths, y_lengths=y_lengths, backend=backend)
    np.testing.assert_allclose(by_lengths, expected, rtol=1e-6)
    x_mask = np.arange(200) < x_lengths[:, None]
    y_mask = np.arange(150) < y_lengths[:, None]
    by_masks = chamfer_distance(x, y, x_mask=x_mask, y_mask=y_mask, backend=backend)
    np.testing.assert_allclose(by_masks, expected, rtol=1e-6)


def test_scattered_masks_ignore_the_masked_points():
    rng = np.random.default_rng(2)
    x, y = surface_like(rng, 300)[None], surface_like(rng, 400)[None]
    x_mask, y_mask = rng.random((1, 300)) < 0.5, rng.random((1, 400)) < 0.3
    expected = reference_chamfer(x[0][x_mask[0]], y[0][y_mask[0]])
    for backend in ('kdtree', 'torch'):
        result = chamfer_distance(x, y, x_mask=x_mask, y_mask=y_mask, backend=backend)
        assert result[0] == pytest.approx(expected, rel=1e-6)


def test_torch_path_keeps_tensors_and_float32_agrees():
    rng = np.random.default_rng(3)
    x = torch.tensor(surface_like(rng, 2 * 800).reshape(2, 800, 3), dtype=torch.float32)
    y = torch.tensor(surface_like(rng, 2 * 700).reshape(2, 700, 3), dtype=torch.float32)
    result = chamfer_distance(x, y, backend='torch')
    assert isinstance(result, torch.Tensor) and result.shape == (2, ) and result.dtype == torch.float32
    expected = [reference_chamfer(x[i].numpy(), y[i].numpy()) for i in range(2)]  # same float32 points, in float64
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-6)


def test_chunking_does_not_change_the_result():
    rng = np.random.default_rng(4)
    x, y = torch.tensor(surface_like(rng,
                                     3 * 250).reshape(3, 250,
                                                      3)), torch.tensor(surface_like(rng, 3 * 90).reshape(3, 90, 3))
    whole = nearest_neighbor_distances(x, y, backend='torch')
    tiny_blocks = nearest_neighbor_distances(x, y, backend='torch', memory_budget=1)  # one query row per block
    torch.testing.assert_close(tiny_blocks, whole, rtol=0, atol=0)
    expected = np.stack([cdist(x[i].numpy(), y[i].numpy()).min(1) for i in range(3)])
    np.testing.assert_allclose(whole.numpy(), expected, rtol=1e-12)


def test_auto_backend_keeps_gradients():
    rng = np.random.default_rng(5)
    x = torch.tensor(surface_like(rng, 50), requires_grad=True)
    y = torch.tensor(surface_like(rng, 60))
    loss = chamfer_distance(x, y)  # requires_grad -> torch backend
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_errors():
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match='backend must be one of'):
        chamfer_distance(x, x, backend='faiss')
    with pytest.raises(ValueError, match='no valid point'):
        nearest_neighbor_distances(x[None], x[None], reference_mask=np.zeros((1, 4), bool))
    with pytest.raises(ValueError, match=r'\(N, 3\) and \(M, 3\)'):
        chamfer_distance(np.zeros((4, 2)), x)
    with pytest.raises(ValueError, match='not both'):
        chamfer_distance(x[None], x[None], x_lengths=[4], x_mask=np.ones((1, 4), bool))


@pytest.mark.skipif(shutil.which('g++') is None, reason='torch.compile on the CPU needs a C++ compiler')
def test_compiled_kernel_matches_the_eager_one():
    rng = np.random.default_rng(6)
    x = torch.tensor(surface_like(rng, 2 * 300).reshape(2, 300, 3), dtype=torch.float32)
    y = torch.tensor(surface_like(rng, 2 * 200).reshape(2, 200, 3), dtype=torch.float32)
    eager = chamfer_distance(x, y, backend='torch')
    compiled = chamfer_distance(x, y, backend='torch', compile=True)
    torch.testing.assert_close(compiled, eager, rtol=1e-6, atol=0)
