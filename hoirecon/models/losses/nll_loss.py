"""Negative log-likelihood of flow outputs."""
from typing import Optional

import torch

from hoirecon.registry import LOSSES
from .reduction import WeightedReductionLoss


@LOSSES.register_module()
class NLLLoss(WeightedReductionLoss):
    """``loss_weight * reduce(-log_prob, weight)``: negative log-likelihood (nats) of given data.

    ``pred`` is a log density, e.g. ``head.log_prob(...)['pose']`` of the
    (noised) ground truth; with the default ``'mean'`` this is StackFLOW's
    ``-log_prob.mean()``. Weights mask samples (e.g. frames without a valid
    relation label).

    Args:
        loss_weight: factor applied to the reduced loss (StackFLOW: 0.001 for theta and for gamma).
        reduction: ``'mean'`` or ``'sum_per_batch'``, see :func:`weighted_reduce`.
    """

    def forward(self,
                pred: torch.Tensor,
                target: Optional[torch.Tensor] = None,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Args: pred (B,) or (B, k) log densities; target must be None; weight aligned to pred. Returns: scalar."""
        name = type(self).__name__
        if target is not None:
            raise ValueError(f'{name}: takes no target; pass the log densities of the targets as pred.')
        return self.reduce(-pred, weight)
