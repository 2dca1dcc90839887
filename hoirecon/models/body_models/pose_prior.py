"""A Gaussian-mixture prior over body poses: SMPLify's form, which CHORE's fitting uses as its pose prior.

The pose is the body joints' axis-angle vector, ``D = 3 J`` (J = 23 for SMPL, 21 for SMPL-H / SMPL-X, no global
orientation, no hands). The mixture has ``K`` full-covariance components; the prior of a pose is the negative log of
its most likely weighted component (SMPLify's "max mixture"), minus the smallest value that term can take, so that
it is 0 at the best component's mean and grows as ``0.5 x`` the squared Mahalanobis distance away from it:

    prior(x) = min_k [ 0.5 (x - mu_k)^T S_k^-1 (x - mu_k) - log w_k + 0.5 log det S_k ] - min_k [ -log w_k + ... ]

Two sources of a mixture:

- ``GMMPosePrior.fit(poses)`` on the training split's poses (``tools/misc/fit_pose_prior.py CONFIG --out FILE``
  writes it as ``.npz``: ``weights`` (K,), ``means`` (K, D), ``covariances`` (K, D, D));
- SMPLify's ``gmm_08.pkl`` (``weights``, ``means``, ``covars`` over SMPL's 69 pose dimensions), read as it is; a body
  with fewer joints (SMPL-H / SMPL-X: the first 21 of SMPL's 23) takes the mixture's marginal over its first ``3 J``
  dimensions (the same means, the covariances' leading block), :meth:`GMMPosePrior.for_joints`.
"""
import os.path as osp
import pickle
from typing import Union

import numpy as np
import torch

from hoirecon.models.utils import matrix_to_axis_angle


class GMMPosePrior:
    """A max-mixture Gaussian prior over body poses (module docstring).

    Args:
        weights: (K,) mixture weights (normalised here).
        means: (K, D) component means, axis-angle radians.
        covariances: (K, D, D) full covariances.
    """

    def __init__(self, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray):
        weights, means = np.asarray(weights, np.float64), np.asarray(means, np.float64)
        covariances = np.asarray(covariances, np.float64)
        if means.ndim != 2 or covariances.shape != means.shape + means.shape[1:] or weights.shape != means.shape[:1]:
            raise ValueError(f'GMMPosePrior: weights (K,), means (K, D), covariances (K, D, D) expected, got '
                             f'{weights.shape}, {means.shape}, {covariances.shape}.')
        self.weights = weights / weights.sum()
        self.means = means
        self.covariances = covariances
        _, logdet = np.linalg.slogdet(covariances)
        const = -np.log(self.weights) + 0.5 * logdet
        self._precisions = torch.as_tensor(np.linalg.inv(covariances))
        self._means = torch.as_tensor(means)
        self._const = torch.as_tensor(const - const.min())
        self._cast = {}  # (dtype, device) -> (means, precisions, const) converted once, reused at every fit step

    @property
    def dim(self) -> int:
        """D, the pose dimension (3 x the joints)."""
        return self.means.shape[1]

    def for_joints(self, joints: int) -> 'GMMPosePrior':
        """The prior of the first ``joints`` joints: this one when it has them all, else the marginal (the means'
        first ``3 joints`` entries, the covariances' leading block), e.g. SMPLify's 23-joint mixture for SMPL-H."""
        dim = 3 * int(joints)
        if dim == self.dim:
            return self
        if dim > self.dim:
            raise ValueError(f'GMMPosePrior: the mixture covers {self.dim // 3} joints, the body has {joints}.')
        return GMMPosePrior(self.weights, self.means[:, :dim], self.covariances[:, :dim, :dim])

    def __call__(self, body_pose: torch.Tensor) -> torch.Tensor:
        """(B,) the prior of ``body_pose``: (B, J, 3, 3) rotation matrices or (B, 3 J) axis-angle vectors."""
        x = matrix_to_axis_angle(body_pose).flatten(1) if body_pose.dim() == 4 else body_pose
        if x.shape[1] != self.dim:
            raise ValueError(f'GMMPosePrior: poses of {x.shape[1] // 3} joints, the mixture has {self.dim // 3}; '
                             'use prior.for_joints(J).')
        key = (x.dtype, x.device)
        if key not in self._cast:
            self._cast[key] = tuple(v.to(x) for v in (self._means, self._precisions, self._const))
        means, precisions, const = self._cast[key]
        d = x[:, None, :] - means  # (B, K, D)
        maha = torch.einsum('bkd,kde,bke->bk', d, precisions, d)
        return (0.5 * maha + const).min(1).values

    # ---------------------------------------------------------------- sources
    @classmethod
    def fit(cls, poses: Union[np.ndarray, torch.Tensor], num_components: int = 8, seed: int = 0,
            reg_covar: float = 1e-4) -> 'GMMPosePrior':
        """Fit ``num_components`` full-covariance Gaussians (scikit-learn's EM, ``reg_covar`` added to the diagonals)
        to ``poses``: (N, J, 3, 3) rotation matrices or (N, 3 J) axis-angle vectors."""
        from sklearn.mixture import GaussianMixture
        poses = torch.as_tensor(poses, dtype=torch.float64)
        x = (matrix_to_axis_angle(poses).flatten(1) if poses.dim() == 4 else poses).numpy()
        if len(x) < 2 * num_components:
            raise ValueError(f'GMMPosePrior.fit: {len(x)} poses are too few for {num_components} components.')
        gmm = GaussianMixture(num_components, covariance_type='full', reg_covar=reg_covar, random_state=seed)
        gmm.fit(x)
        return cls(gmm.weights_, gmm.means_, gmm.covariances_)

    @classmethod
    def from_file(cls, path: str) -> 'GMMPosePrior':
        """Read ``.npz`` (``weights``, ``means``, ``covariances``: :meth:`save`) or SMPLify's ``.pkl`` (``weights``,
        ``means``, ``covars``)."""
        if not osp.isfile(path):
            raise FileNotFoundError(f'GMMPosePrior: {path} not found. Write one from the training poses with '
                                    '`python tools/misc/fit_pose_prior.py CONFIG --out FILE.npz`, or give SMPLify\'s '
                                    'gmm_08.pkl.')
        if path.endswith('.npz'):
            with np.load(path) as data:
                missing = {'weights', 'means', 'covariances'} - set(data.files)
                if missing:
                    raise ValueError(f'GMMPosePrior: {path} lacks {sorted(missing)} (written by '
                                     'tools/misc/fit_pose_prior.py?).')
                return cls(data['weights'], data['means'], data['covariances'])
        with open(path, 'rb') as f:
            data = pickle.load(f, encoding='latin1')
        try:
            return cls(data['weights'], data['means'], data['covars'])
        except (KeyError, TypeError) as error:
            raise ValueError(f"GMMPosePrior: {path} is not SMPLify's mixture (a dict with weights, means, covars): "
                             f'{error!r}.') from None

    def save(self, path: str) -> None:
        """Write the mixture as ``.npz`` (:meth:`from_file` reads it)."""
        np.savez(path, weights=self.weights, means=self.means, covariances=self.covariances)


__all__ = ['GMMPosePrior']
