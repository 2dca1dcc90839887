"""Refiners: test-time optimisation of a network's reconstruction against 2D evidence (registry ``REFINERS``)."""
from .pnp import PnPResult, solve_object_pnp
from .problem import RefinementProblem
from .reprojection import correspondence_reprojection_loss, keypoint_reprojection_loss
from .sequence_refiner import SequenceSmoothingRefiner, sequence_windows, window_owners
from .stackflow_refiner import (BEHAVE_LOSS_WEIGHTS, INTERCAP_LOSS_WEIGHTS, VARIABLES, RefinementResult,
                                StackFLOWRefiner)

__all__ = [
    'BEHAVE_LOSS_WEIGHTS', 'INTERCAP_LOSS_WEIGHTS', 'PnPResult', 'RefinementProblem', 'RefinementResult',
    'SequenceSmoothingRefiner', 'StackFLOWRefiner', 'VARIABLES', 'correspondence_reprojection_loss',
    'keypoint_reprojection_loss', 'sequence_windows', 'solve_object_pnp', 'window_owners'
]
