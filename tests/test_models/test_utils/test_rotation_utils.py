"""Rotation utilities against independent numpy / scipy references."""
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hoirecon.models.utils import (axis_angle_to_matrix, matrix_to_axis_angle, matrix_to_rot6d, rigid_fit,
                                   rot6d_orthogonality_loss, rot6d_to_matrix)


def gram_schmidt_reference(x):
    """numpy Gram-Schmidt of the two columns of x.reshape(3, 2)."""
    a = x.reshape(3, 2)
    b1 = a[:, 0] / np.linalg.norm(a[:, 0])
    b2 = a[:, 1] - b1.dot(a[:, 1]) * b1
    b2 /= np.linalg.norm(b2)
    return np.stack([b1, b2, np.cross(b1, b2)], axis=1)


def kabsch_reference(p, q, w=None):
    """numpy weighted Kabsch: argmin sum w |R q + t - p|^2 over rotations."""
    w = np.ones(len(p)) if w is None else w
    w = w / w.sum()
    pm, qm = w @ p, w @ q
    h = (q - qm).T @ np.diag(w) @ (p - pm)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return r, pm - r @ qm


def fit_cost(r, t, p, q, w=None):
    w = np.ones(len(p)) if w is None else w
    return float((w * ((q @ r.T + t - p)**2).sum(-1)).sum())


def test_rot6d_convention_is_first_two_columns_row_by_row():
    r = torch.from_numpy(Rotation.random(random_state=0).as_matrix())
    x = matrix_to_rot6d(r)
    expected = [r[0, 0], r[0, 1], r[1, 0], r[1, 1], r[2, 0], r[2, 1]]
    assert torch.equal(x, torch.stack(expected))
    assert torch.equal(x.view(3, 2), r[:, :2])


def test_rot6d_round_trip_any_leading_dims():
    r = torch.from_numpy(Rotation.random(24, random_state=1).as_matrix()).reshape(2, 3, 4, 3, 3)
    torch.testing.assert_close(rot6d_to_matrix(matrix_to_rot6d(r)), r)


def test_rot6d_to_matrix_matches_numpy_gram_schmidt():
    x = np.random.default_rng(2).normal(size=(50, 6))
    out = rot6d_to_matrix(torch.from_numpy(x)).numpy()
    ref = np.stack([gram_schmidt_reference(v) for v in x])
    np.testing.assert_allclose(out, ref, atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(out), 1.0, atol=1e-12)
    assert rot6d_to_matrix(torch.from_numpy(x).float()).dtype == torch.float32


def test_orthogonality_loss_value():
    x = np.random.default_rng(3).normal(size=(4, 5, 6))
    a = x.reshape(4, 5, 3, 2)
    gram = np.einsum('...ki,...kj->...ij', a, a)
    expected = ((gram - np.eye(2))**2).mean()
    np.testing.assert_allclose(rot6d_orthogonality_loss(torch.from_numpy(x)).item(), expected, rtol=1e-12)
    r = torch.from_numpy(Rotation.random(8, random_state=4).as_matrix())
    assert rot6d_orthogonality_loss(matrix_to_rot6d(r)).item() < 1e-24


def test_axis_angle_matches_scipy():
    rotvec = Rotation.random(30, random_state=5).as_rotvec()
    mats = axis_angle_to_matrix(torch.from_numpy(rotvec).reshape(5, 6, 3))
    np.testing.assert_allclose(mats.reshape(30, 3, 3).numpy(), Rotation.from_rotvec(rotvec).as_matrix(), atol=1e-12)
    back = matrix_to_axis_angle(torch.from_numpy(Rotation.from_rotvec(rotvec).as_matrix()))
    np.testing.assert_allclose(back.numpy(), rotvec, atol=1e-10)  # scipy's random rotvecs have angle <= pi


@pytest.mark.parametrize('fn,shape', [(rot6d_to_matrix, (4, 5)), (matrix_to_rot6d, (4, 3, 2)),
                                      (axis_angle_to_matrix, (4, 4)), (matrix_to_axis_angle, (3, )),
                                      (rot6d_orthogonality_loss, (6, 3))])
def test_bad_shapes_raise(fn, shape):
    with pytest.raises(ValueError, match='must have shape'):
        fn(torch.zeros(shape))


def _random_problem(rng, n, noise=0.01):
    r = Rotation.random(random_state=rng.integers(1 << 31)).as_matrix()
    t = rng.normal(size=3)
    q = rng.normal(size=(n, 3))
    p = q @ r.T + t + noise * rng.normal(size=(n, 3))
    return p, q, r, t


def test_rigid_fit_recovers_exact_transform_batched():
    rng = np.random.default_rng(6)
    problems = [_random_problem(rng, 12, noise=0.0) for _ in range(6)]
    p = torch.from_numpy(np.stack([x[0] for x in problems])).reshape(2, 3, 12, 3)
    q = torch.from_numpy(np.stack([x[1] for x in problems])).reshape(2, 3, 12, 3)
    r, t = rigid_fit(p, q)
    assert r.shape == (2, 3, 3, 3) and t.shape == (2, 3, 3)
    np.testing.assert_allclose(r.reshape(6, 3, 3).numpy(), np.stack([x[2] for x in problems]), atol=1e-10)
    np.testing.assert_allclose(t.reshape(6, 3).numpy(), np.stack([x[3] for x in problems]), atol=1e-10)


def test_rigid_fit_noisy_and_weighted_match_numpy_kabsch():
    rng = np.random.default_rng(7)
    p, q, _, _ = _random_problem(rng, 20, noise=0.3)
    w = rng.uniform(0.1, 3.0, size=20)
    for weights in (None, w):
        r, t = rigid_fit(torch.from_numpy(p), torch.from_numpy(q), None if weights is None else torch.from_numpy(w))
        r_ref, t_ref = kabsch_reference(p, q, weights)
        np.testing.assert_allclose(r.numpy(), r_ref, atol=1e-10)
        np.testing.assert_allclose(t.numpy(), t_ref, atol=1e-10)


def test_integer_weights_equal_repeating_points():
    rng = np.random.default_rng(8)
    p, q, _, _ = _random_problem(rng, 8, noise=0.5)
    counts = np.array([1, 3, 1, 2, 5, 1, 1, 4])
    r_w, t_w = rigid_fit(torch.from_numpy(p), torch.from_numpy(q), torch.from_numpy(counts.astype(float)))
    r_rep, t_rep = rigid_fit(torch.from_numpy(np.repeat(p, counts, 0)), torch.from_numpy(np.repeat(q, counts, 0)))
    torch.testing.assert_close(r_w, r_rep)
    torch.testing.assert_close(t_w, t_rep)


def test_rigid_fit_never_returns_a_reflection():
    rng = np.random.default_rng(9)
    q = rng.normal(size=(10, 3))
    p = q * np.array([1.0, 1.0, -1.0])  # mirror image: the best orthogonal map is a reflection
    r, t = rigid_fit(torch.from_numpy(p), torch.from_numpy(q))
    r_ref, t_ref = kabsch_reference(p, q)
    np.testing.assert_allclose(np.linalg.det(r.numpy()), 1.0, atol=1e-12)
    np.testing.assert_allclose(r.numpy(), r_ref, atol=1e-10)
    np.testing.assert_allclose(t.numpy(), t_ref, atol=1e-10)


def test_rigid_fit_planar_and_nearly_collinear_points():
    rng = np.random.default_rng(10)
    r_true = Rotation.random(random_state=11).as_matrix()
    planar = np.c_[rng.normal(size=(15, 2)), np.zeros(15)]
    r, t = rigid_fit(torch.from_numpy(planar @ r_true.T + 1.0), torch.from_numpy(planar))
    np.testing.assert_allclose(r.numpy(), r_true, atol=1e-10)
    # Nearly collinear: rotation about the line is almost free; the fit must still be optimal and finite.
    line = np.outer(np.linspace(-1, 1, 15), [1.0, 2.0, 0.5]) + 1e-7 * rng.normal(size=(15, 3))
    p = line @ r_true.T + 0.01 * rng.normal(size=(15, 3))
    q = torch.from_numpy(line).requires_grad_()
    r, t = rigid_fit(torch.from_numpy(p), q)
    best_cost = fit_cost(*kabsch_reference(p, line), p, line)
    assert fit_cost(r.detach().numpy(), t.detach().numpy(), p, line) <= best_cost + 1e-9
    np.testing.assert_allclose(r.detach().numpy() @ r.detach().numpy().T, np.eye(3), atol=1e-10)
    (r.sum() + t.sum()).backward()
    assert torch.isfinite(q.grad).all()


def test_rigid_fit_keeps_float32_and_is_accurate():
    rng = np.random.default_rng(12)
    p, q, r_true, _ = _random_problem(rng, 704, noise=0.0)
    r, t = rigid_fit(torch.from_numpy(p).float(), torch.from_numpy(q).float())
    assert r.dtype == torch.float32 and t.dtype == torch.float32
    np.testing.assert_allclose(r.numpy(), r_true, atol=1e-5)


def test_rigid_fit_gradcheck():
    rng = np.random.default_rng(13)
    p, q, _, _ = _random_problem(rng, 5, noise=0.2)
    p = torch.from_numpy(p).requires_grad_()
    q = torch.from_numpy(q).requires_grad_()
    w = torch.from_numpy(rng.uniform(0.5, 2.0, size=5)).requires_grad_()
    assert torch.autograd.gradcheck(lambda *args: rigid_fit(*args), (p, q, w))


@pytest.mark.parametrize('p_shape,q_shape,w_shape', [((5, 3), (6, 3), None), ((5, 2), (5, 2), None),
                                                     ((2, 5, 3), (2, 5, 3), (3, 5)), ((5, 3), (5, 3), (4, ))])
def test_rigid_fit_bad_shapes_raise(p_shape, q_shape, w_shape):
    w = None if w_shape is None else torch.ones(w_shape)
    with pytest.raises(ValueError, match='rigid_fit'):
        rigid_fit(torch.zeros(p_shape), torch.zeros(q_shape), w)
