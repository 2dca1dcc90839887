"""Registered mmengine metrics of HOI reconstruction (thin wrappers around ``evaluation.functional``)."""
from .chore_field_metric import CHOREFieldMetric
from .hoi_chamfer import HOIChamferMetric, score_hoi_samples
from .hoi_meshes import HOIMeshBuilder, sample_to_dict
from .hoi_sequence_chamfer import HOISequenceChamferMetric
from .object_pose_metric import ObjectPoseMetric

__all__ = [
    'CHOREFieldMetric', 'HOIChamferMetric', 'HOIMeshBuilder', 'HOISequenceChamferMetric',
    'ObjectPoseMetric', 'sample_to_dict', 'score_hoi_samples'
]
