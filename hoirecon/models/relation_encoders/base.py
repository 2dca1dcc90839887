"""The interface shared by relation encoders, so that configs can swap them.

A relation encoder turns the object pose relative to the human (``R_rel``,
``t_rel`` in the HOI frame, see :mod:`hoirecon.models.utils.hoi_frame`) into a latent vector that a
head predicts, and back. Some encoders (offset PCA) need the human anchors:
the body vertices ``vertices[:, human_anchor_indices]`` in the HOI frame, which
the reconstructor computes with :mod:`hoirecon.models.utils.hoi_frame` (``human_anchors``).
"""
from abc import ABCMeta, abstractmethod
from typing import Optional, Tuple

import torch
from torch import nn


def check_batch(name: str, tensor: torch.Tensor, shape: Tuple[Optional[int], ...]) -> None:
    """Raise ``ValueError`` unless ``tensor`` has ``shape`` (``None`` matches any size)."""
    if tensor.dim() != len(shape) or any(s is not None and s != t for s, t in zip(shape, tensor.shape)):
        expected = ', '.join('*' if s is None else str(s) for s in shape)
        raise ValueError(f'{name} must have shape ({expected}), got {tuple(tensor.shape)}')


class BaseRelationEncoder(nn.Module, metaclass=ABCMeta):
    """Relation encoder interface (all methods batched, differentiable, on any device).

    Attributes:
        latent_dim: size D of the latent vector.
        human_anchor_indices: (A,) long body vertex ids of the human anchors (empty when unused).
        has_offsets: whether :meth:`offsets` / :meth:`gt_offsets` give offsets (the refiner's offsets term).
    """

    latent_dim: int
    human_anchor_indices: torch.Tensor
    has_offsets: bool = False

    @abstractmethod
    def encode(self, rel_R: torch.Tensor, rel_t: torch.Tensor, object_labels: torch.Tensor,
               human_anchors: Optional[torch.Tensor]) -> torch.Tensor:
        """Latent of relative object poses.

        Args:
            rel_R: (B, 3, 3) object rotation in the HOI frame.
            rel_t: (B, 3) object translation in the HOI frame, metres.
            object_labels: (B,) long object labels (objects may mix in a batch).
            human_anchors: (B, A, 3) human anchors in the HOI frame, metres.

        Returns:
            (B, D) latent.
        """

    @abstractmethod
    def decode(self, latent: torch.Tensor, object_labels: torch.Tensor,
               human_anchors: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Relative object poses of latents; arguments as :meth:`encode`.

        Returns:
            ``rel_R`` (B, 3, 3) and ``rel_t`` (B, 3), metres.
        """

    def offsets(self,
                latent: torch.Tensor,
                object_labels: torch.Tensor,
                human_anchors: Optional[torch.Tensor] = None) -> Optional[torch.Tensor]:
        """(B, A, K, 3) decoded human-to-object anchor offsets, or None for encoders without offsets."""
        return None

    def gt_offsets(self, rel_R: torch.Tensor, rel_t: torch.Tensor, object_labels: torch.Tensor,
                   human_anchors: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        """(B, A, K, 3) offsets of given relative poses, or None for encoders without offsets."""
        return None

    def mean_latent(self, object_labels: torch.Tensor) -> torch.Tensor:
        """(B, D) latent of each object's mean relation in the training data (the "mean relation" baseline).

        Raises:
            NotImplementedError: the encoder keeps no statistics of the training relations.
        """
        raise NotImplementedError(f'{type(self).__name__} keeps no training statistics, so it has no mean relation; '
                                  'use OffsetPCA (whose latent 0 decodes to the mean offsets).')
