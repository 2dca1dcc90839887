"""CHORE-style pixel-aligned implicit fields (Xie et al. ECCV 2022): human / object unsigned distances, body parts,
object centre offsets and orientation at 3D query points, and the test-time fitting of a body and the object template
to them (docs/chore.md)."""
from .field_net import CHOREFieldNet, FieldDecoder, PixelAlignedEncoder, rot6d_to_matrix, sample_pixel_aligned
from .fitting import fit_body, fit_object, network_field_fn, votes_to_pose
from .geometry import (PART_NAMES_14, SMPL22_TO_PARTS14, MeshDistance, chunked_fields, crop_grid_coords, frustum_grid,
                       group_parts, point_triangle_closest, sample_frustum, sample_surface)
from .reconstructor import CHOREReconstructor, initial_body, kabsch

__all__ = [
    'CHOREFieldNet', 'CHOREReconstructor', 'FieldDecoder', 'MeshDistance', 'PART_NAMES_14', 'PixelAlignedEncoder',
    'SMPL22_TO_PARTS14', 'chunked_fields', 'crop_grid_coords', 'fit_body', 'fit_object', 'frustum_grid',
    'group_parts', 'initial_body', 'kabsch', 'network_field_fn', 'point_triangle_closest', 'rot6d_to_matrix',
    'sample_frustum', 'sample_pixel_aligned', 'sample_surface', 'votes_to_pose'
]
