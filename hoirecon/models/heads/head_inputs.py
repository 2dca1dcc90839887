"""Input checks and per-hypothesis expansion shared by the pose/relation heads."""
from typing import Optional

import torch


def check_head_inputs(head: str,
                      feature: torch.Tensor,
                      object_labels: torch.Tensor,
                      feature_dim: int,
                      num_objects: int,
                      num_samples: Optional[int] = None) -> None:
    """Raise a ``ValueError`` naming the argument if the head inputs are malformed.

    Args:
        head: class name used in the message.
        feature: expected (B, feature_dim) float image feature.
        object_labels: expected (B,) integer object categories in ``[0, num_objects)``.
        feature_dim: C.
        num_objects: number of object categories of the head's embedding.
        num_samples: if given, must be an int >= 0.
    """
    if feature.dim() != 2 or feature.shape[1] != feature_dim:
        raise ValueError(f'{head}: feature must have shape (B, feature_dim={feature_dim}), got '
                         f'{tuple(feature.shape)}; set feature_dim to the backbone output width.')
    if object_labels.shape != (feature.shape[0], ):
        raise ValueError(f'{head}: object_labels must have shape (B,) = ({feature.shape[0]},), got '
                         f'{tuple(object_labels.shape)}.')
    if object_labels.dtype.is_floating_point or object_labels.dtype.is_complex or object_labels.dtype == torch.bool:
        raise ValueError(f'{head}: object_labels must be an integer tensor (category indices), got '
                         f'{object_labels.dtype}.')
    if object_labels.numel() and (object_labels.min() < 0 or object_labels.max() >= num_objects):
        raise ValueError(f'{head}: object_labels must lie in [0, num_objects={num_objects}), got values in '
                         f'[{int(object_labels.min())}, {int(object_labels.max())}]; check the dataset\'s object '
                         'index map against num_objects.')
    if num_samples is not None and (not isinstance(num_samples, int) or num_samples < 0):
        raise ValueError(f'{head}: num_samples must be an int >= 0, got {num_samples!r}.')


def repeat_per_sample(tensor: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Repeat every batch entry ``num_samples`` times, consecutively: (B, ...) -> (B * k, ...).

    Entry ``b * k + i`` is a copy of entry ``b``, matching ``x.reshape(B * k, ...)``
    of a (B, k, ...) tensor of hypotheses.
    """
    return tensor.repeat_interleave(num_samples, dim=0)
