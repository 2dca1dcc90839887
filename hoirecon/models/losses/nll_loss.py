"""Negative log-likelihood of flow outputs."""
from typing import Optional

import torch
from torch import nn

from hoirecon.registry import LOSSES
from .reduction import check_reduction, weighted_reduce


@LOSSES.register_module()
class NLLLoss(nn.Module):
    """``loss_weight * reduce(-log_prob, weight)``: negative log-likelihood (nats) of given data.

    ``pred`` is a log density, e.g. ``head.log_prob(...)['pose']`` of the
    (noised) ground truth; with the default ``'mean'`` this is StackFLOW's
    ``-log_prob.mean()``. Weights mask samples (e.g. frames without a valid
    relation label).

    Args:
        loss_weight: factor applied to the reduced loss (StackFLOW: 0.001 for theta and for gamma).
        reduction: ``'mean'`` or ``'sum_per_batch'``, see :func:`weighted_reduce`.
    """

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean'):
        super().__init__()
        check_reduction(type(self).__name__, reduction)
        self.loss_weight = loss_weight
        self.reduction = reduction

    def forward(self,
                pred: torch.Tensor,
                target: Optional[torch.Tensor] = None,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Args: pred (B,) or (B, k) log densities; target must be None; weight aligned to pred. Returns: scalar."""
        name = type(self).__name__
        if target is not None:
            raise ValueError(f'{name}: takes no target; pass the log densities of the targets as pred.')
        return self.loss_weight * weighted_reduce(name, -pred, weight, self.reduction)
