"""Losses on rotations: MSE between rotation matrices, 6D orthogonality."""
from typing import Optional

import torch
from torch import nn

from hoirecon.models.utils import rot6d_orthogonality_loss, rot6d_to_matrix
from hoirecon.registry import LOSSES
from .reduction import WeightedReductionLoss
from .regression_losses import check_pred_target


def as_rotation_matrix(loss: str, rotation: torch.Tensor) -> torch.Tensor:
    """(..., 6) 6D vectors (Gram-Schmidt) or (..., 3, 3) matrices -> (..., 3, 3) matrices."""
    if rotation.shape[-1] == 6:
        return rot6d_to_matrix(rotation)
    if rotation.dim() >= 2 and rotation.shape[-2:] == (3, 3):
        return rotation
    raise ValueError(f'{loss}: rotations must have shape (..., 6) (6D) or (..., 3, 3) (matrices), got '
                     f'{tuple(rotation.shape)}.')


@LOSSES.register_module()
class RotationMatrixMSELoss(WeightedReductionLoss):
    """MSE between rotation matrices (StackFLOW's global-orient and body-pose losses).

    6D inputs are turned into matrices first (:func:`rot6d_to_matrix`), so the
    loss sees what the body model will see.

    Args:
        loss_weight: factor applied to the reduced loss.
        reduction: ``'mean'`` (over the 9 entries of every matrix) or
            ``'sum_per_batch'`` (StackFLOW), see :func:`weighted_reduce`.
    """

    def forward(self,
                pred: torch.Tensor,
                target: Optional[torch.Tensor] = None,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            pred: (B, ..., 6) or (B, ..., 3, 3) rotations.
            target: (B, ..., 6) or (B, ..., 3, 3) rotations, same leading dims.
            weight: aligned to the leading dims, e.g. (B,) per sample or (B, J) per joint.

        Returns:
            Scalar.
        """
        name = type(self).__name__
        if target is None:
            raise ValueError(f'{name}: a target is required.')
        pred_matrix = as_rotation_matrix(name, pred)
        target_matrix = check_pred_target(name, pred_matrix, as_rotation_matrix(name, target))
        return self.reduce((pred_matrix - target_matrix)**2, weight)


@LOSSES.register_module()
class Rot6DOrthogonalityLoss(nn.Module):
    """``loss_weight * mean((A^T A - I)^2)`` with ``A = pred.view(..., 3, 2)`` (raw 6D, before Gram-Schmidt).

    Wraps :func:`rot6d_orthogonality_loss`. It has no target and takes no
    weights (it is a regulariser on every prediction); an empty input gives 0.

    Args:
        loss_weight: factor applied to the loss (StackFLOW: 0.1 for the mode and 0.1 for the samples).
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self,
                pred: torch.Tensor,
                target: Optional[torch.Tensor] = None,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Args: pred (..., 6) raw 6D rotations; target and weight must be None. Returns: scalar."""
        if target is not None or weight is not None:
            raise ValueError('Rot6DOrthogonalityLoss: takes no target and no weight (it regularises every rotation); '
                             'select the rotations to regularise before calling it.')
        if pred.numel() == 0:
            return pred.sum()
        return self.loss_weight * rot6d_orthogonality_loss(pred)
