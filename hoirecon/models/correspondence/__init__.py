"""Object correspondence network (CDPN / EPro-PnP family): dense 2D-3D object correspondences and their PnP pose."""
from .coordinates import crop_grid, library_coordinate_norms, object_coordinate_norm, project
from .correspondence_net import DEFAULT_PNP_CFG, ObjectCorrespondenceNet, pose_from_correspondences, used_rows
from .dense_head import DenseCorrespondenceHead

__all__ = [
    'DEFAULT_PNP_CFG', 'DenseCorrespondenceHead', 'ObjectCorrespondenceNet', 'crop_grid', 'library_coordinate_norms',
    'object_coordinate_norm', 'pose_from_correspondences', 'project', 'used_rows'
]
