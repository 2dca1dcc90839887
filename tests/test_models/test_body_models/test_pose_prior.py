"""GMMPosePrior (SMPLify's max-mixture pose prior, CHORE's pose prior) against scipy's Gaussian densities, its fit,
its files, its marginal for fewer joints, and its pull in the CHORE body fit."""
import pickle

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from hoirecon.models.body_models import GMMPosePrior
from hoirecon.models.utils import axis_angle_to_matrix


def random_mixture(dim, k=3, seed=0):
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.2, 1.0, k)
    means = rng.normal(0, 0.5, (k, dim))
    covariances = []
    for _ in range(k):
        a = rng.normal(0, 0.3, (dim, dim))
        covariances.append(a @ a.T + 0.05 * np.eye(dim))
    return weights / weights.sum(), means, np.stack(covariances)


def reference_prior(x, weights, means, covariances):
    """SMPLify's max-mixture negative log-likelihood from scipy's densities, minus its smallest constant."""
    dim = means.shape[1]
    nll = np.stack([-np.log(w) - multivariate_normal(m, c).logpdf(x) - 0.5 * dim * np.log(2 * np.pi)
                    for w, m, c in zip(weights, means, covariances)], -1)
    const = [-np.log(w) + 0.5 * np.linalg.slogdet(c)[1] for w, c in zip(weights, covariances)]
    return nll.min(-1) - min(const)


def test_the_prior_matches_scipy_and_takes_matrices_or_axis_angles():
    weights, means, covariances = random_mixture(6)
    prior = GMMPosePrior(weights, means, covariances)
    x = np.random.default_rng(1).normal(0, 0.6, (5, 6))
    np.testing.assert_allclose(prior(torch.tensor(x)).numpy(), reference_prior(x, weights, means, covariances),
                               rtol=1e-9, atol=1e-9)
    matrices = axis_angle_to_matrix(torch.tensor(x).view(5, 2, 3))
    np.testing.assert_allclose(prior(matrices).numpy(), prior(torch.tensor(x)).numpy(), atol=1e-6)
    # 0 at the mean of the component with the smallest constant
    best = int(np.argmin([-np.log(w) + 0.5 * np.linalg.slogdet(c)[1] for w, c in zip(weights, covariances)]))
    assert float(prior(torch.tensor(means[best:best + 1]))[0]) == pytest.approx(0.0, abs=1e-9)


def test_the_marginal_for_fewer_joints_is_the_leading_block():
    weights, means, covariances = random_mixture(9)
    prior = GMMPosePrior(weights, means, covariances).for_joints(2)
    x = np.random.default_rng(2).normal(0, 0.6, (4, 6))
    np.testing.assert_allclose(prior(torch.tensor(x)).numpy(),
                               reference_prior(x, weights, means[:, :6], covariances[:, :6, :6]), rtol=1e-9)
    with pytest.raises(ValueError, match='covers 3 joints'):
        GMMPosePrior(weights, means, covariances).for_joints(4)
    with pytest.raises(ValueError, match='for_joints'):
        GMMPosePrior(weights, means, covariances)(torch.zeros(1, 6, dtype=torch.float64))


def test_the_fit_recovers_a_known_mixture():
    weights, means, covariances = random_mixture(6, k=2, seed=3)
    means = means * 4  # well apart
    rng = np.random.default_rng(4)
    labels = rng.choice(2, size=4000, p=weights)
    samples = np.stack([rng.multivariate_normal(means[k], covariances[k]) for k in labels])
    fitted = GMMPosePrior.fit(samples, num_components=2, seed=0)
    order = np.argsort(np.linalg.norm(fitted.means[:, None] - means[None], axis=-1), axis=0)[0]
    np.testing.assert_allclose(fitted.means[order], means, atol=0.05)
    np.testing.assert_allclose(fitted.weights[order], weights, atol=0.03)
    with pytest.raises(ValueError, match='too few'):
        GMMPosePrior.fit(samples[:3], num_components=2)


def test_files_round_trip_and_smplify_pickles(tmp_path):
    weights, means, covariances = random_mixture(6)
    prior = GMMPosePrior(weights, means, covariances)
    prior.save(str(tmp_path / 'prior.npz'))
    again = GMMPosePrior.from_file(str(tmp_path / 'prior.npz'))
    x = torch.randn(3, 6, dtype=torch.float64)
    torch.testing.assert_close(again(x), prior(x))
    with open(tmp_path / 'gmm_08.pkl', 'wb') as f:  # SMPLify's keys
        pickle.dump(dict(weights=weights, means=means, covars=covariances), f)
    torch.testing.assert_close(GMMPosePrior.from_file(str(tmp_path / 'gmm_08.pkl'))(x), prior(x))
    with pytest.raises(FileNotFoundError, match='fit_pose_prior.py'):
        GMMPosePrior.from_file(str(tmp_path / 'missing.npz'))
    np.savez(tmp_path / 'other.npz', weights=weights)
    with pytest.raises(ValueError, match='lacks'):
        GMMPosePrior.from_file(str(tmp_path / 'other.npz'))


def test_the_gradient_is_finite_at_the_rest_pose_and_the_fit_moves_towards_the_prior():
    """From the rest pose (identity rotations: axis-angle 0, where a careless log map has no gradient) the prior's
    gradient is finite; in fit_body with fields that say nothing the prior alone pulls a pose towards the mixture."""
    from hoirecon.models.body_models import SMPLH
    from hoirecon.models.chore import group_parts
    from hoirecon.models.chore.fitting import fit_body
    weights, means, covariances = random_mixture(63, k=2, seed=5)
    prior = GMMPosePrior(weights, 0.3 * means, 0.1 * covariances)
    rest = torch.eye(3, dtype=torch.float64).expand(1, 21, 3, 3).clone().requires_grad_(True)
    (grad, ) = torch.autograd.grad(prior(rest).sum(), rest)
    assert bool(torch.isfinite(grad).all()) and float(grad.abs().sum()) > 0

    model = SMPLH('surrogate', gender='male', dtype=torch.float64)
    parts = torch.as_tensor(group_parts(model.part_labels, 14))

    def blank(points):
        return dict(udf=torch.full(points.shape[:2] + (2, ), 0.05, dtype=points.dtype) + 0 * points[..., :2],
                    parts=torch.zeros(points.shape[:2] + (14, ), dtype=points.dtype) + 0 * points[..., :1])

    start = dict(betas=torch.zeros(1, 10, dtype=torch.float64), global_orient=torch.eye(3, dtype=torch.float64)[None],
                 body_pose=torch.eye(3, dtype=torch.float64).expand(1, 21, 3, 3).clone(),
                 transl=torch.tensor([[0.0, 0.0, 2.5]], dtype=torch.float64))
    common = dict(steps=60, lr=0.01, w_pose=0.0, vertex_subset=torch.arange(0, model.num_vertices, 50),
                  pose_prior=prior)
    still = fit_body(blank, model, *start.values(), parts, w_pose_prior=0.0, **common)
    pulled = fit_body(blank, model, *start.values(), parts, w_pose_prior=1.0, **common)
    before, after = float(prior(still['body_pose'])[0]), float(prior(pulled['body_pose'])[0])
    print(f'prior {before:.1f} (no term) -> {after:.1f}')
    assert after < 0.5 * before
