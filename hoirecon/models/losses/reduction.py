"""Weighted reduction of element-wise losses, shared by the registered losses."""
from typing import Optional

import torch
from torch import nn

#: ``'mean'``: weighted mean over all elements; ``'sum_per_batch'``: weighted sum divided by the batch size.
REDUCTIONS = ('mean', 'sum_per_batch')


def check_reduction(loss: str, reduction: str) -> None:
    """Raise a ``ValueError`` naming the allowed values if ``reduction`` is unknown."""
    if reduction not in REDUCTIONS:
        raise ValueError(f'{loss}: reduction must be one of {REDUCTIONS}, got {reduction!r}.')


def expand_weight(loss: str, weight: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Broadcast a weight over ``like``, aligning the weight's dims with the LEADING dims of ``like``.

    A (B, N) keypoint confidence applies to a (B, N, 2) error as ``weight[..., None]``;
    size-1 dims broadcast as usual. Per-coordinate weights therefore need the
    full rank, e.g. (1, 1, 2).

    Args:
        loss: loss name for error messages.
        weight: (d_0, ..., d_m) with ``m < like.dim()``, each ``d_i`` 1 or ``like.shape[i]``;
            bool masks are allowed.
        like: the element-wise loss.

    Returns:
        ``weight`` expanded to ``like.shape``, in ``like``'s dtype.
    """
    if weight.dim() > like.dim():
        raise ValueError(f'{loss}: weight has more dims ({tuple(weight.shape)}) than the prediction '
                         f'({tuple(like.shape)}).')
    aligned = weight.reshape(tuple(weight.shape) + (1, ) * (like.dim() - weight.dim()))
    if any(w not in (1, s) for w, s in zip(aligned.shape, like.shape)):
        raise ValueError(f'{loss}: weight of shape {tuple(weight.shape)} does not match the leading dims of the '
                         f'prediction {tuple(like.shape)}; give one weight per entry of the leading dims (e.g. '
                         '(B, N) keypoint weights for (B, N, 2) keypoints), or 1 to broadcast.')
    return aligned.to(like.dtype).expand(like.shape)


def weighted_reduce(loss: str,
                    elementwise: torch.Tensor,
                    weight: Optional[torch.Tensor] = None,
                    reduction: str = 'mean') -> torch.Tensor:
    """Reduce an element-wise loss with optional non-negative weights / masks.

    ``'mean'``: ``sum(w * l) / sum(w)`` over all elements (``w`` expanded to
    ``l``'s shape; the plain mean without weights). ``'sum_per_batch'``:
    ``sum(w * l) / B`` with ``B = l.shape[0]``. Zero-weight entries contribute
    nothing (their values must be finite), and a batch whose weights are all
    zero, or an empty batch, gives 0 with finite gradients.

    Args:
        loss: loss name for error messages.
        elementwise: (B, ...) element-wise loss values.
        weight: optional weight, see :func:`expand_weight`.
        reduction: one of :data:`REDUCTIONS`.

    Returns:
        Scalar tensor.
    """
    if elementwise.dim() == 0:
        raise ValueError(f'{loss}: the prediction needs a batch dim, got a scalar.')
    if weight is not None:
        weight = expand_weight(loss, weight, elementwise)
        elementwise = elementwise * weight
    total = elementwise.sum()
    if reduction == 'sum_per_batch':
        return total / max(elementwise.shape[0], 1)
    count = elementwise.new_tensor(float(elementwise.numel())) if weight is None else weight.sum()
    return total / torch.where(count > 0, count, torch.ones_like(count))


class WeightedReductionLoss(nn.Module):
    """Holds ``loss_weight`` and ``reduction`` for the element-wise losses and applies them.

    Subclasses compute the element-wise loss and return ``self.reduce(elementwise, weight)``.

    Args:
        loss_weight: factor applied to the reduced loss.
        reduction: ``'mean'`` or ``'sum_per_batch'``, see :func:`weighted_reduce`.
    """

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean'):
        super().__init__()
        check_reduction(type(self).__name__, reduction)
        self.loss_weight = loss_weight
        self.reduction = reduction

    def reduce(self, elementwise: torch.Tensor, weight: Optional[torch.Tensor]) -> torch.Tensor:
        """``loss_weight * weighted_reduce(elementwise, weight)``: a scalar."""
        return self.loss_weight * weighted_reduce(type(self).__name__, elementwise, weight, self.reduction)
