"""The interface of the pose/relation heads (``StackedFlowHead``, ``IndependentFlowHead``, ``RegressionHead``)."""
from abc import abstractmethod
from typing import Callable, Dict

import torch
from mmengine.model import BaseModule

#: ``(pose_6d (B, J, 6), relation (B, D)) -> dict`` with the keys of :meth:`BaseHOIHead.log_prob`.
LogProbFn = Callable[[torch.Tensor, torch.Tensor], Dict[str, torch.Tensor]]


class BaseHOIHead(BaseModule):
    """A head that predicts the body pose theta (J rotations in 6D) and the relation latent gamma (D numbers).

    Subclasses implement :meth:`forward`; a head with a density over (theta, gamma) also implements
    :meth:`log_prob`, and then :attr:`has_likelihood` is True. It is derived from the class, never set by hand:
    ``has_likelihood`` is True exactly when the subclass overrides :meth:`log_prob`. Callers check it before
    asking for a likelihood (the reconstructor's NLL terms, the refiner's posterior terms); the base
    :meth:`log_prob` raises ``NotImplementedError``.

    Attributes:
        feature_dim: C, width of the image feature.
        num_objects: number of object categories.
        relation_dim: D, width of the relation latent.
        num_pose_joints: J, rotations in the pose (22 = global orientation + 21 body joints).
        has_likelihood: whether :meth:`log_prob` is implemented (class attribute).
    """
    has_likelihood: bool = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.has_likelihood = cls.log_prob is not BaseHOIHead.log_prob

    @abstractmethod
    def forward(self, feature: torch.Tensor, object_labels: torch.Tensor,
                num_samples: int = 0) -> Dict[str, torch.Tensor]:
        """Point estimate and ``num_samples`` hypotheses.

        Args:
            feature: (B, C) image features.
            object_labels: (B,) int64 object categories.
            num_samples: k >= 0 hypotheses.

        Returns:
            dict with ``pose_6d`` (B, J, 6) and ``relation`` (B, D); if k > 0 also ``pose_6d_samples``
            (B, k, J, 6), ``relation_samples`` (B, k, D) and ``log_prob`` (B, k), nats (zeros without a likelihood).
        """

    def log_prob(self, feature: torch.Tensor, object_labels: torch.Tensor, pose_6d: torch.Tensor,
                 relation: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Log-likelihood of given poses and relations.

        Args:
            feature: (B, C) image features.
            object_labels: (B,) int64 object categories.
            pose_6d: (B, J, 6) poses in 6D.
            relation: (B, D) relation latents.

        Returns:
            dict with ``pose`` (B,) and ``relation`` (B,) log densities in nats and their latents ``pose_z``
            (B, J * 6) and ``relation_z`` (B, D).

        Raises:
            NotImplementedError: the head has no likelihood (:attr:`has_likelihood` is False).
        """
        raise NotImplementedError(f'{type(self).__name__} has no likelihood (has_likelihood is False): check '
                                  'head.has_likelihood before asking for log_prob.')

    def image_conditioned_log_prob(self, feature: torch.Tensor, object_labels: torch.Tensor) -> LogProbFn:
        """:meth:`log_prob` with the image and object fixed: a function of the pose and relation only.

        The default closes over :meth:`log_prob`; heads may precompute what depends on the image only (the flow
        heads do). ``feature`` is used as given (detach it to keep gradients off the network).

        Args:
            feature: (B, C) image features.
            object_labels: (B,) int64 object categories.

        Returns:
            a function ``(pose_6d (B, J, 6), relation (B, D)) -> dict`` with the keys of :meth:`log_prob`.

        Raises:
            NotImplementedError: the head has no likelihood.
        """
        if not self.has_likelihood:
            self.log_prob(feature, object_labels, None, None)  # raises the message of log_prob

        def log_prob(pose_6d: torch.Tensor, relation: torch.Tensor) -> Dict[str, torch.Tensor]:
            return self.log_prob(feature, object_labels, pose_6d, relation)

        return log_prob
