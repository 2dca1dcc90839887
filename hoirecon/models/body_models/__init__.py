"""SMPL-family body models: SMPL / SMPL-H / SMPL-X wrappers and a licence-free surrogate (docs/body_models.md)."""
from .body25 import (BODY25_JOINT_NAMES, BODY25_SOURCES, build_body25_regressor, load_joint_regressor_txt,
                     save_joint_regressor_txt)
from .body_model import SMPL, SMPLH, SMPLX, BodyModelOutput
from .model_files import resolve_model_file
from .surrogate import SURROGATE_VERSION, build_surrogate_struct, ensure_surrogate_body, write_surrogate_body

__all__ = [
    'SMPL', 'SMPLH', 'SMPLX', 'BodyModelOutput', 'BODY25_JOINT_NAMES', 'BODY25_SOURCES', 'build_body25_regressor',
    'load_joint_regressor_txt', 'save_joint_regressor_txt', 'resolve_model_file', 'SURROGATE_VERSION',
    'build_surrogate_struct', 'ensure_surrogate_body', 'write_surrogate_body'
]
