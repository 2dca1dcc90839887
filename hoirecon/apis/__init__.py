"""High-level entry points used by the tools."""
from .prepare import prepare_experiment, prepare_synthetic_data
from .refinement import config_refiner, configure_refinement, refinement_table, sequence_refiner_config
from .relation_pca import fit_relation_pca, read_relative_poses

__all__ = [
    'config_refiner', 'configure_refinement', 'fit_relation_pca', 'prepare_experiment', 'prepare_synthetic_data',
    'read_relative_poses', 'refinement_table', 'sequence_refiner_config'
]
