"""Shared helpers: random relative poses, small anchor problems and offset-PCA files built from them."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hoirecon.models.relation_encoders import OFFSET_PCA_FORMAT_VERSION, fit_anchor_space_pca, save_offset_pca


def random_rotations(rng: np.random.Generator, num: int, max_angle: float = np.pi) -> np.ndarray:
    """(num, 3, 3) rotations with angles up to ``max_angle`` about random axes."""
    axes = rng.normal(size=(num, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    return Rotation.from_rotvec(axes * rng.uniform(0, max_angle, size=(num, 1))).as_matrix()


def anchor_samples(rng: np.random.Generator, template: np.ndarray, num: int, num_human: int):
    """Random HOI samples: human anchors (N, A, 3) jittered around a fixed body, the template posed near the body.

    Returns:
        ``human (N, A, 3)``, ``rel_R (N, 3, 3)``, ``rel_t (N, 3)``, ``anchors (N, A + K, 3)`` float64.
    """
    body = np.random.default_rng(123).normal(scale=0.3, size=(num_human, 3))
    human = body + rng.normal(scale=0.05, size=(num, num_human, 3))
    rel_R = random_rotations(rng, num, max_angle=1.0)
    rel_t = np.array([0.3, -0.1, 0.4]) + rng.normal(scale=0.2, size=(num, 3))
    objects = template @ rel_R.transpose(0, 2, 1) + rel_t[:, None]
    return human, rel_R, rel_t, np.concatenate([human, objects], axis=1)


def pca_arrays(fits: dict, templates: dict, object_names: tuple, num_parts: int, per_part: int, pca_dim: int):
    """Offset-PCA file arrays from per-object :func:`fit_anchor_space_pca` results (objects missing: no PCA)."""
    num_human, num_object = num_parts * per_part, len(next(iter(templates.values())))
    size, n = 3 * (num_human + num_object), len(object_names)
    arrays = {
        'object_names': np.array(object_names),
        'num_samples': np.zeros(n, np.int64),
        'num_components': np.zeros(n, np.int64),
        'mean_y': np.zeros((n, size)),
        'decode_basis': np.zeros((n, size, pca_dim)),
        'encode_basis': np.zeros((n, pca_dim, size)),
        'explained_variance': np.zeros((n, pca_dim)),
        'explained_variance_ratio': np.zeros((n, pca_dim)),
        'human_anchor_indices': np.arange(num_human, dtype=np.int64),
        'object_anchor_indices': np.zeros((n, num_object), np.int64),
        'object_anchor_points': np.zeros((n, num_object, 3)),
        'format_version': np.int64(OFFSET_PCA_FORMAT_VERSION),
        'pca_dim': np.int64(pca_dim),
        'smpl_anchor_num': np.int64(per_part),
        'object_anchor_num': np.int64(num_object),
        'num_body_parts': np.int64(num_parts),
        'seed': np.int64(7),
        'anchor_radius': np.float64(0.02),
        'body_model_type': np.array('smplh'),
        'gender': np.array('male'),
        'dataset': np.array('toy'),
        'surrogate': np.array(True),
    }
    for label, name in enumerate(object_names):
        if name in fits:
            arrays['num_samples'][label] = fits[name]['num_samples']
            arrays['object_anchor_points'][label] = templates[name]
            arrays['object_anchor_indices'][label] = np.arange(num_object)
            for key in ('mean_y', 'decode_basis', 'encode_basis', 'explained_variance', 'explained_variance_ratio',
                        'num_components'):
                arrays[key][label] = fits[name][key]
    return arrays


@pytest.fixture
def small_problem(tmp_path):
    """3 parts x 4 human anchors, 8 object anchors, objects 'a' and 'b' fitted on 50 samples each, 'c' unfitted.

    Returns a dict with the file path, the training / held-out samples per object and the templates.
    """
    rng = np.random.default_rng(0)
    names, num_parts, per_part, pca_dim = ('a', 'b', 'c'), 3, 4, 5
    templates = {name: rng.normal(scale=0.2, size=(8, 3)) for name in names}
    data, fits = {}, {}
    for name in names[:2]:
        human, rel_R, rel_t, anchors = anchor_samples(rng, templates[name], 60, num_parts * per_part)
        data[name] = dict(human=human, rel_R=rel_R, rel_t=rel_t, anchors=anchors)
        fits[name] = dict(fit_anchor_space_pca(anchors[:50], num_parts * per_part, pca_dim), num_samples=50)
    path = save_offset_pca(tmp_path / 'small_pca.npz', pca_arrays(fits, templates, names, num_parts, per_part, pca_dim))
    return dict(path=path,
                data=data,
                templates=templates,
                names=names,
                num_parts=num_parts,
                per_part=per_part,
                pca_dim=pca_dim)


@pytest.fixture
def make_anchor_samples():
    """:func:`anchor_samples`, for the tests."""
    return anchor_samples


@pytest.fixture
def make_random_rotations():
    """:func:`random_rotations`, for the tests."""
    return random_rotations


@pytest.fixture(scope='module')
def surrogate_smplh(surrogate_body_root):
    """The licence-free surrogate SMPL-H (male)."""
    from hoirecon.models.body_models import SMPLH
    return SMPLH(surrogate_body_root, gender='male')
