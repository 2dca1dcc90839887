"""The surrogate body files: smplx compatibility, mesh validity, skinning, regressor exactness, shape space."""
import json
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch

from hoirecon.assets import build_surrogate_struct, ensure_surrogate_body
from hoirecon.assets import surrogate_body as surrogate_module
from hoirecon.assets.surrogate_body import build_shape_space

SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]


def _load(root, model_type, gender):
    with open(osp.join(root, model_type, f'{model_type.upper()}_{gender.upper()}.pkl'), 'rb') as f:
        return pickle.load(f)


@pytest.fixture(scope='module')
def smplh_male(surrogate_body_root):
    return _load(surrogate_body_root, 'smplh', 'male')


@pytest.fixture(scope='module')
def smpl_neutral(surrogate_body_root):
    return _load(surrogate_body_root, 'smpl', 'neutral')


def test_layout_and_smplx_loads_files_directly(surrogate_body_root):
    smplx = pytest.importorskip('smplx')
    for model_type in ('smpl', 'smplh'):
        for gender in ('NEUTRAL', 'MALE', 'FEMALE'):
            assert osp.isfile(osp.join(surrogate_body_root, model_type, f'{model_type.upper()}_{gender}.pkl'))
    assert osp.isfile(osp.join(surrogate_body_root, 'smplh', 'J_regressor_body25_smplh.txt'))
    assert osp.isfile(osp.join(surrogate_body_root, 'smpl', 'J_regressor_body25.txt'))

    betas = torch.randn(3, 10)
    smpl = smplx.SMPL(osp.join(surrogate_body_root, 'smpl'), gender='female', batch_size=3)
    out = smpl(betas=betas, body_pose=0.2 * torch.randn(3, 69), global_orient=torch.randn(3, 3))
    assert out.vertices.shape == (3, 6890, 3) and out.joints.shape == (3, 45, 3)
    smplh = smplx.SMPLH(osp.join(surrogate_body_root, 'smplh'),
                        gender='male',
                        use_pca=False,
                        flat_hand_mean=True,
                        batch_size=3)
    out = smplh(betas=betas, left_hand_pose=0.2 * torch.randn(3, 45), right_hand_pose=0.2 * torch.randn(3, 45))
    assert out.vertices.shape == (3, 6890, 3) and out.joints.shape == (3, 73, 3)
    assert torch.isfinite(out.vertices).all()


def test_struct_keys_and_shapes(smplh_male, smpl_neutral):
    for struct, num_joints in ((smpl_neutral, 24), (smplh_male, 52)):
        assert struct['v_template'].shape == (6890, 3)
        assert struct['shapedirs'].shape == (6890, 3, 10)
        assert struct['posedirs'].shape == (6890, 3, 9 * (num_joints - 1))
        assert not struct['posedirs'].any()
        assert struct['J_regressor'].shape == (num_joints, 6890)
        assert struct['weights'].shape == (6890, num_joints)
        assert struct['kintree_table'].shape == (2, num_joints)
        assert struct['surrogate_info']['model_type'] in ('smpl', 'smplh')
        assert len(struct['joint_names']) == num_joints
    assert smpl_neutral['kintree_table'][0].tolist() == SMPL_PARENTS
    assert smplh_male['kintree_table'][0, :22].tolist() == SMPL_PARENTS[:22]
    # SMPL-H fingers: knuckles hang on the wrists, then a chain of 3
    assert smplh_male['kintree_table'][0, 22:25].tolist() == [20, 22, 23]
    assert smplh_male['kintree_table'][0, 37:40].tolist() == [21, 37, 38]
    np.testing.assert_array_equal(smplh_male['hands_componentsl'], np.eye(45))
    assert not smplh_male['hands_meanr'].any()


def test_mesh_is_closed_and_consistently_wound(smplh_male):
    faces = smplh_male['f']
    assert faces.min() == 0 and faces.max() == 6889
    assert len(np.unique(faces)) == 6890  # no unused vertex
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    keys = directed[:, 0] * 6890 + directed[:, 1]
    reverse = directed[:, 1] * 6890 + directed[:, 0]
    assert len(np.unique(keys)) == len(keys), 'an edge is used twice in the same direction'
    assert np.isin(reverse, keys).all(), 'open boundary'
    v = smplh_male['v_template']
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    volume = np.einsum('fi,fi->', a, np.cross(b, c)) / 6
    assert 0.04 < volume < 0.12  # outward normals, human-sized (overlapping parts counted twice)


def test_skinning_weights(smplh_male, smpl_neutral):
    for struct in (smplh_male, smpl_neutral):
        weights = struct['weights']
        assert weights.min() >= 0
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)
        assert (np.count_nonzero(weights, axis=1) > 1).sum() > 500  # blends across joints
        labels = np.argmax(weights[:, :22], axis=1)
        counts = np.bincount(labels, minlength=22)
        assert counts.min() >= 50, counts
    # every finger joint of SMPL-H moves some vertices
    assert (smplh_male['weights'][:, 22:] > 0.5).sum(axis=0).min() > 5


def test_joint_regressor_is_exact_ring_centre(smplh_male):
    """For any betas each joint is the point-symmetry centre of the vertices its regressor row averages."""
    rng = np.random.default_rng(1)
    regressor = smplh_male['J_regressor']
    np.testing.assert_allclose(regressor.sum(axis=1), 1.0, atol=1e-12)
    for _ in range(3):
        betas = rng.standard_normal(10) * 1.5
        verts = smplh_male['v_template'] + smplh_male['shapedirs'] @ betas
        joints = regressor @ verts
        for row, joint in zip(regressor, joints):
            ring = verts[np.nonzero(row)[0]]
            mirrored = 2 * joint - ring
            gaps = np.linalg.norm(mirrored[:, None] - ring[None], axis=-1).min(axis=1)
            assert gaps.max() < 1e-9
            assert 8 <= len(ring) <= 40


def test_rest_joints_follow_axis_convention(smplh_male):
    joints = smplh_male['J_regressor'] @ smplh_male['v_template']
    np.testing.assert_allclose(joints[0], [0.0, -0.22, 0.02], atol=0.02)
    assert joints[1, 0] > 0 > joints[2, 0]  # left hip at +x
    assert joints[15, 1] > joints[12, 1] > joints[0, 1] > joints[4, 1] > joints[7, 1]  # head above ... ankle
    assert joints[10, 2] > joints[7, 2]  # toes (foot joint) in front of the ankle (+z facing)


def test_shape_space_beta0_taller_and_genders(surrogate_body_root):
    heights = {}
    for gender in ('male', 'female'):
        struct = _load(surrogate_body_root, 'smpl', gender)
        y = struct['v_template'][:, 1]
        dy = struct['shapedirs'][:, 1, 0]
        heights[gender] = np.ptp(y)
        assert np.ptp(y + 2 * dy) > np.ptp(y) + 0.1 > np.ptp(y - 2 * dy) + 0.2
        joints = struct['J_regressor'] @ struct['v_template']
        pelvis_ring = struct['v_template'][np.nonzero(struct['J_regressor'][0])[0]]
        heights[gender + '_shoulder_to_hip'] = (joints[16, 0] - joints[17, 0]) / np.ptp(pelvis_ring[:, 0])
    assert 1.70 < heights['male'] < 1.90 and 1.55 < heights['female'] < 1.72
    assert heights['female_shoulder_to_hip'] < heights['male_shoulder_to_hip']
    info = _load(surrogate_body_root, 'smpl', 'male')['surrogate_info']
    assert info['pca_std'] == sorted(info['pca_std'], reverse=True)


def test_recorded_generator_name_is_that_of_version_1():
    # The generator moved to hoirecon.assets.surrogate_body; version-1 files keep the name they were made with
    # (byte-identical files, valid caches). A new name goes with a SURROGATE_VERSION bump.
    assert surrogate_module.SURROGATE_VERSION == 1
    assert surrogate_module.GENERATOR_NAME == 'hoirecon.models.body_models.surrogate'


def test_deterministic_for_a_seed(surrogate_body_root):
    rebuilt = build_surrogate_struct('smpl', 'female', seed=0)
    again = build_surrogate_struct('smpl', 'female', seed=0)
    stored = _load(surrogate_body_root, 'smpl', 'female')
    for key in ('v_template', 'f', 'shapedirs', 'J_regressor', 'weights', 'kintree_table'):
        np.testing.assert_array_equal(rebuilt[key], again[key])
        # The cache may have been built with another number of BLAS threads (last-bit differences in the PCA);
        # any change of the generator without a SURROGATE_VERSION bump moves values by far more than 1e-10.
        np.testing.assert_allclose(rebuilt[key], stored[key], rtol=0, atol=1e-10)
    a = build_shape_space('neutral', seed=5, num_samples=24)
    b = build_shape_space('neutral', seed=6, num_samples=24)
    np.testing.assert_array_equal(a.faces, b.faces)  # topology does not depend on the draws
    assert np.abs(a.shapedirs - b.shapedirs).max() > 1e-3


def test_bad_arguments():
    with pytest.raises(ValueError, match='model_type must be one of'):
        build_surrogate_struct('flame', 'neutral')
    with pytest.raises(ValueError, match='gender'):
        build_shape_space('child')


def _fake_writer(calls):
    """Stand-in for the (slow) file writer: records the call and writes two small files."""

    def write(out_dir, *args, **kwargs):
        calls.append(out_dir)
        paths = []
        for name in ('smpl/SMPL_NEUTRAL.pkl', 'smplh/SMPLH_NEUTRAL.pkl'):
            path = osp.join(out_dir, name)
            os.makedirs(osp.dirname(path), exist_ok=True)
            with open(path, 'wb') as f:
                f.write(b'x')
            paths.append(path)
        return paths

    return write


def test_ensure_builds_once_atomically(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(surrogate_module, 'write_surrogate_body', _fake_writer(calls))
    root = str(tmp_path / 'body')
    assert ensure_surrogate_body(root) == root
    assert ensure_surrogate_body(root) == root
    assert len(calls) == 1  # second call reuses the complete folder
    with open(osp.join(root, 'surrogate_info.json')) as f:
        assert json.load(f)['version'] == surrogate_module.SURROGATE_VERSION
    assert sorted(os.listdir(tmp_path)) == ['body']  # no temporary folder left behind

    # a folder that is not a surrogate is never overwritten
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'SMPLH_MALE.pkl').write_bytes(b'real')
    with pytest.raises(FileExistsError, match='remove it or pass another root'):
        ensure_surrogate_body(str(foreign))
    assert (foreign / 'SMPLH_MALE.pkl').read_bytes() == b'real'


def test_ensure_tolerates_a_concurrent_build(tmp_path, monkeypatch):
    """When another process finishes first, its folder is kept and ours is discarded."""
    root = str(tmp_path / 'body')
    writer = _fake_writer([])

    def racing_writer(out_dir, *args, **kwargs):
        other = str(tmp_path / 'other')
        paths = writer(other)
        with open(osp.join(other, 'surrogate_info.json'), 'w') as f:
            json.dump({
                'version': surrogate_module.SURROGATE_VERSION,
                'files': [osp.relpath(p, other) for p in paths]
            }, f)
        os.replace(other, root)
        return writer(out_dir)

    monkeypatch.setattr(surrogate_module, 'write_surrogate_body', racing_writer)
    assert ensure_surrogate_body(root) == root
    assert sorted(os.listdir(tmp_path)) == ['body']
