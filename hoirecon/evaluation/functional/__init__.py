"""Pure evaluation functions (numpy or torch in, the same kind out), unit-tested without a runner."""
from .acceleration import acceleration_error, acceleration_magnitude, second_differences
from .alignment import WINDOW_MODES, window_index, windowed_similarity_procrustes, windowed_transforms
from .chamfer import BACKENDS, chamfer_distance, nearest_neighbor_distances
from .hoi_frames import ALIGNMENTS, MESH_ROLES, PARTS, HOIFrameErrors, evaluate_hoi_frames, mesh_sample_key
from .procrustes import (PointMoments, SimilarityTransform, merge_moments, point_moments, similarity_procrustes,
                         transform_from_moments)
from .sampling import sample_surface, stream_id, stream_uniforms
from .visibility import (DEFAULT_VISIBILITY_THRESHOLD, object_visibility_ratio, object_visibility_ratio_from_person)

__all__ = [
    'ALIGNMENTS', 'BACKENDS', 'DEFAULT_VISIBILITY_THRESHOLD', 'HOIFrameErrors', 'MESH_ROLES', 'PARTS', 'PointMoments',
    'SimilarityTransform', 'WINDOW_MODES', 'acceleration_error', 'acceleration_magnitude', 'chamfer_distance',
    'evaluate_hoi_frames', 'merge_moments',
    'mesh_sample_key', 'nearest_neighbor_distances', 'object_visibility_ratio', 'object_visibility_ratio_from_person',
    'point_moments', 'sample_surface', 'second_differences', 'similarity_procrustes', 'stream_id', 'stream_uniforms',
    'transform_from_moments', 'window_index', 'windowed_similarity_procrustes', 'windowed_transforms'
]
