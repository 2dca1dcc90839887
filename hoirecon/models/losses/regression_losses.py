"""L1 and MSE losses with weights/masks and a choice of reduction."""
from typing import Optional

import torch

from hoirecon.registry import LOSSES
from .reduction import WeightedReductionLoss


def check_pred_target(loss: str, pred: torch.Tensor, target: Optional[torch.Tensor]) -> torch.Tensor:
    """Return ``target`` after checking that it exists and has exactly ``pred``'s shape (no silent broadcasting)."""
    if target is None:
        raise ValueError(f'{loss}: a target is required.')
    if target.shape != pred.shape:
        raise ValueError(f'{loss}: pred {tuple(pred.shape)} and target {tuple(target.shape)} must have the same '
                         'shape.')
    return target


@LOSSES.register_module()
class L1Loss(WeightedReductionLoss):
    """``loss_weight * reduce(|pred - target|, weight)``.

    Args:
        loss_weight: factor applied to the reduced loss.
        reduction: ``'mean'`` (weighted mean over elements) or ``'sum_per_batch'``
            (weighted sum / batch size), see :func:`weighted_reduce`.
    """

    def forward(self,
                pred: torch.Tensor,
                target: Optional[torch.Tensor] = None,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Args: pred (B, ...), target same shape, weight aligned to the leading dims (e.g. (B, N) for (B, N, 2)).

        Returns: scalar.
        """
        name = type(self).__name__
        target = check_pred_target(name, pred, target)
        return self.reduce((pred - target).abs(), weight)


@LOSSES.register_module()
class MSELoss(WeightedReductionLoss):
    """``loss_weight * reduce((pred - target)^2, weight)`` (StackFLOW's betas: ``reduction='sum_per_batch'``).

    Args:
        loss_weight: factor applied to the reduced loss.
        reduction: ``'mean'`` or ``'sum_per_batch'``, see :func:`weighted_reduce`.
    """

    def forward(self,
                pred: torch.Tensor,
                target: Optional[torch.Tensor] = None,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Args: pred (B, ...), target same shape, weight aligned to the leading dims. Returns: scalar."""
        name = type(self).__name__
        target = check_pred_target(name, pred, target)
        return self.reduce((pred - target)**2, weight)
