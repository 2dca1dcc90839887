"""Relation encoders: the latent of the object pose relative to the human (docs/relation_encoders.md).

``OffsetPCA`` is StackFLOW's offset-PCA "latent spatial relation space"; ``DirectRelativePose`` the ablation that
predicts a 6D rotation and a translation. Both follow :class:`BaseRelationEncoder`, so configs can swap them.
"""
from .anchors import NUM_BODY_PARTS, human_anchors_in_hoi_frame, relative_object_pose, sample_human_anchor_indices
from .base import BaseRelationEncoder
from .direct_pose import DirectRelativePose
from .fitting import fit_offset_pca
from .offset_pca import OffsetPCA
from .offset_space import fit_anchor_space_pca, isometric_basis, offset_gram_matrix, pairwise_offsets
from .pca_file import (OFFSET_PCA_FORMAT_VERSION, OffsetPCAFileError, load_offset_pca, offset_pca_metadata,
                       save_offset_pca, validate_offset_pca)

__all__ = [
    'NUM_BODY_PARTS', 'OFFSET_PCA_FORMAT_VERSION', 'BaseRelationEncoder', 'DirectRelativePose', 'OffsetPCA',
    'OffsetPCAFileError', 'fit_anchor_space_pca', 'fit_offset_pca', 'human_anchors_in_hoi_frame', 'isometric_basis',
    'load_offset_pca', 'offset_gram_matrix', 'offset_pca_metadata', 'pairwise_offsets', 'relative_object_pose',
    'sample_human_anchor_indices', 'save_offset_pca', 'validate_offset_pca'
]
