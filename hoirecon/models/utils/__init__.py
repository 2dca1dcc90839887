"""Pure-torch maths shared by the models (rotations, rigid fitting)."""
from .rotation import (axis_angle_to_matrix, matrix_to_axis_angle, matrix_to_rot6d, rigid_fit, rot6d_orthogonality_loss,
                       rot6d_to_matrix)

__all__ = [
    'axis_angle_to_matrix', 'matrix_to_axis_angle', 'matrix_to_rot6d', 'rigid_fit', 'rot6d_orthogonality_loss',
    'rot6d_to_matrix'
]
