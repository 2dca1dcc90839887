"""High-level entry points used by the tools."""
from .prepare import prepare_experiment
from .relation_pca import fit_relation_pca, read_relative_poses

__all__ = ['fit_relation_pca', 'prepare_experiment', 'read_relative_poses']
