"""The offset-PCA file: one ``.npz`` (no pickles) with every object's PCA in anchor space.

Arrays (n = objects of the dataset in label order, A = human anchors, K = object anchors per object,
P = A + K, d = pca_dim)::

    object_names              (n,)        str, object names in label order
    num_samples               (n,)        int64, training samples per object (0: no PCA for that object)
    num_components            (n,)        int64, fitted components (< d when an object had <= d samples)
    mean_y                    (n, 3P)     float64, mean anchors [h (A, 3); o (K, 3)] flattened, metres
    decode_basis              (n, 3P, d)  float64, B: anchors = mean_y + B gamma
    encode_basis              (n, d, 3P)  float64, W: gamma = W (y - mean_y)
    explained_variance        (n, d)      float64, m^2
    explained_variance_ratio  (n, d)      float64
    human_anchor_indices      (A,)        int64 body vertex ids, part by part
    object_anchor_indices     (n, K)      int64 template vertex ids (zeros for objects without samples)
    object_anchor_points      (n, K, 3)   float64 template anchors (centred template frame), metres
    format_version, pca_dim, smpl_anchor_num, object_anchor_num, num_body_parts, seed   0-d int64
    anchor_radius             0-d float64, metres
    body_model_type, gender, dataset                                                   0-d str
    surrogate                 0-d bool, True when fitted with the licence-free surrogate body
"""
import os
import os.path as osp
import zipfile
from typing import Dict, Union

import numpy as np

OFFSET_PCA_FORMAT_VERSION = 1
#: The scalar (0-d) entries and their numpy kinds ('i' int, 'f' float, 'U' str, 'b' bool).
METADATA_KINDS = {
    'format_version': 'i',
    'pca_dim': 'i',
    'smpl_anchor_num': 'i',
    'object_anchor_num': 'i',
    'num_body_parts': 'i',
    'seed': 'i',
    'anchor_radius': 'f',
    'body_model_type': 'U',
    'gender': 'U',
    'dataset': 'U',
    'surrogate': 'b',
}
_FIT_HINT = 'refit it with tools/fit_relation_pca.py (see docs/relation_encoders.md)'


class OffsetPCAFileError(ValueError):
    """An offset-PCA file exists but does not follow the format."""


def _expected_shapes(arrays: Dict[str, np.ndarray], where: str) -> Dict[str, tuple]:
    """Shapes of the array entries implied by the metadata and ``object_names``."""
    if 'object_names' not in arrays or arrays['object_names'].ndim != 1:
        raise OffsetPCAFileError(f'{where}: needs a 1-D object_names array; {_FIT_HINT}')
    n = len(arrays['object_names'])
    d = int(arrays['pca_dim'])
    num_human = int(arrays['num_body_parts']) * int(arrays['smpl_anchor_num'])
    num_object = int(arrays['object_anchor_num'])
    size = 3 * (num_human + num_object)
    return {
        'num_samples': (n, ),
        'num_components': (n, ),
        'mean_y': (n, size),
        'decode_basis': (n, size, d),
        'encode_basis': (n, d, size),
        'explained_variance': (n, d),
        'explained_variance_ratio': (n, d),
        'human_anchor_indices': (num_human, ),
        'object_anchor_indices': (n, num_object),
        'object_anchor_points': (n, num_object, 3),
    }


def validate_offset_pca(arrays: Dict[str, np.ndarray], where: str = 'offset PCA') -> None:
    """Check keys, kinds and shapes of offset-PCA arrays; raise :class:`OffsetPCAFileError` naming ``where``."""
    missing = sorted(set(METADATA_KINDS) - set(arrays))
    if missing:
        raise OffsetPCAFileError(f'{where}: missing entries {missing}; {_FIT_HINT}')
    for key, kind in METADATA_KINDS.items():
        value = np.asarray(arrays[key])
        if value.ndim != 0 or value.dtype.kind != kind:
            raise OffsetPCAFileError(f'{where}: {key} must be a 0-d array of kind {kind!r}, got shape {value.shape} '
                                     f'dtype {value.dtype}; {_FIT_HINT}')
    if int(arrays['format_version']) != OFFSET_PCA_FORMAT_VERSION:
        raise OffsetPCAFileError(f'{where}: format_version {int(arrays["format_version"])}, this hoirecon reads '
                                 f'version {OFFSET_PCA_FORMAT_VERSION}; {_FIT_HINT}')
    for key, shape in _expected_shapes(arrays, where).items():
        if key not in arrays:
            raise OffsetPCAFileError(f'{where}: missing array {key!r} of shape {shape}; {_FIT_HINT}')
        if np.asarray(arrays[key]).shape != shape:
            raise OffsetPCAFileError(f'{where}: {key} has shape {np.asarray(arrays[key]).shape}, expected {shape} '
                                     f'(from pca_dim, the anchor numbers and object_names); {_FIT_HINT}')
    if np.any(arrays['num_components'] > int(arrays['pca_dim'])) or np.any(arrays['num_samples'] < 0):
        raise OffsetPCAFileError(f'{where}: num_components must be <= pca_dim and num_samples >= 0')


def save_offset_pca(path: Union[str, os.PathLike], arrays: Dict[str, np.ndarray]) -> str:
    """Validate and write offset-PCA arrays to ``path`` (must end in ``.npz``); returns the path."""
    path = os.fspath(path)
    if not path.endswith('.npz'):
        raise ValueError(f'offset PCA file {path!r} must end in .npz')
    validate_offset_pca(arrays, path)
    if osp.dirname(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
    np.savez(path, **arrays)
    return path


def load_offset_pca(path: Union[str, os.PathLike]) -> Dict[str, np.ndarray]:
    """Read and validate an offset-PCA file (``allow_pickle=False``).

    Raises:
        FileNotFoundError: no file at ``path``.
        OffsetPCAFileError: the file is not a valid offset-PCA ``.npz``.
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'offset PCA file not found: {path}; create it with tools/fit_relation_pca.py '
                                '(see docs/relation_encoders.md)')
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise OffsetPCAFileError(f'{path}: not a readable pickle-free .npz ({type(err).__name__}: {err}); '
                                 f'{_FIT_HINT}') from err
    validate_offset_pca(arrays, path)
    return arrays


def offset_pca_metadata(arrays: Dict[str, np.ndarray]) -> Dict[str, Union[int, float, str, bool]]:
    """The 0-d entries of offset-PCA arrays as Python scalars."""
    return {key: np.asarray(arrays[key]).item() for key in METADATA_KINDS}
