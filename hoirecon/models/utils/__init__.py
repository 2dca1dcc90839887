"""Pure-torch maths shared by the models (rotations, rigid fitting)."""
from .camera import (crop_cam_to_translation, perspective_project, to_crop_coords, to_crop_pixels,
                     translation_to_crop_cam)
from .rotation import (axis_angle_to_matrix, matrix_to_axis_angle, matrix_to_pytorch3d_rot6d, matrix_to_rot6d,
                       pytorch3d_rot6d_to_matrix, rigid_fit, rot6d_orthogonality_loss, rot6d_to_matrix)

__all__ = [
    'crop_cam_to_translation', 'perspective_project', 'to_crop_coords', 'to_crop_pixels', 'translation_to_crop_cam',
    'axis_angle_to_matrix', 'matrix_to_axis_angle', 'matrix_to_pytorch3d_rot6d', 'matrix_to_rot6d',
    'pytorch3d_rot6d_to_matrix', 'rigid_fit', 'rot6d_orthogonality_loss',
    'rot6d_to_matrix'
]
