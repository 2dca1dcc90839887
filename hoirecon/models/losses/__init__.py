"""Losses (registered in :data:`hoirecon.registry.LOSSES`); see docs/heads_and_losses.md for StackFLOW's table."""
from .hoi_loss_table import DEFAULT_BINDINGS, LOSS_TENSORS, LOSS_TERMS, HOILossTable, LossBinding
from .nll_loss import NLLLoss
from .reduction import REDUCTIONS, WeightedReductionLoss, expand_weight, weighted_reduce
from .regression_losses import L1Loss, MSELoss
from .rotation_losses import Rot6DOrthogonalityLoss, RotationMatrixMSELoss

__all__ = [
    'DEFAULT_BINDINGS', 'HOILossTable', 'L1Loss', 'LOSS_TENSORS', 'LOSS_TERMS', 'LossBinding', 'MSELoss', 'NLLLoss',
    'REDUCTIONS', 'Rot6DOrthogonalityLoss', 'RotationMatrixMSELoss', 'expand_weight', 'WeightedReductionLoss',
    'weighted_reduce'
]
