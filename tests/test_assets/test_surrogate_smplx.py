"""The SMPL-X surrogate: layout, landmarks, exact regressor, smplx agreement, hand PCA, nearness to SMPL-H."""
import hashlib
import json
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from hoirecon.assets import ensure_surrogate_body
from hoirecon.assets import surrogate_body as surrogate_module
from hoirecon.assets.surrogate_body import (HAND_PCA_MOTIONS, build_shape_space, build_smplx_mesh,
                                            build_surrogate_struct, hand_pca_basis)
from hoirecon.models.body_models import SMPLH, SMPLX
from hoirecon.structures.body_skeletons import FINGER_NAMES, SMPLH_JOINT_NAMES, joint_names, smplx_vertex_ids

smplx = pytest.importorskip('smplx')

NUM_VERTS = 10475
#: smplx's SMPL-X skeleton: 22 body joints, jaw and eyes (on the head), then 2 x 15 finger joints.
SMPLX_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15]
for _wrist, _first in ((20, 25), (21, 40)):
    SMPLX_PARENTS += [p for f in range(5) for p in (_wrist, _first + 3 * f, _first + 3 * f + 1)]
#: The SMPL / SMPL-H generator's output (neutral, seed 0, 24 shape samples, one BLAS thread) as
#: :func:`_struct_fingerprint` sees it. Until 2026-12-07 this was an exact sha256 of every array, taken from the code
#: of commit 44973ca (before the SMPL-X surrogate was added); the current code matched it bit for bit on the AVX-512
#: CI machines. But the float bits depend on the BLAS kernels OpenBLAS picks for the CPU (a 2-core AVX2 EPYC gives
#: other last bits, as does OPENBLAS_CORETYPE=Prescott), so the integer arrays and other values are hashed exactly
#: and each float array is compared by four sums at rtol 1e-6 (filled in from the current code, checked equal under
#: both core types). A change here changes the SMPL / SMPL-H files: bump SURROGATE_VERSION.
SMPL_FAMILY_FINGERPRINTS = {
    'smpl': ('0344a94a5d0633dd6212d018afb467bd8338f78ff5e14f41e88c032e1afd625c', {
        'J': [-3.717861663, 15.54917773, 9.717590884, 4.090063538],
        'J_regressor': [24.0, 24.0, 1.022619048, -1.743612795],
        'posedirs': [0.0, 0.0, 0.0, 0.0],
        'shapedirs': [-46.06449372, 567.684981, 9.910376946, -2.041101438],
        'v_template': [-729.7130187, 4940.973672, 2971.977286, 1.343606255],
        'weights': [6890.0, 6890.0, 6473.888372, -31.33825201],
    }),
    'smplh': ('862dbec2b9ee97745a77904844997b5c053eddd90a3ccb5874095583710704c8', {
        'J': [1.716484181, 45.06882563, 29.1844727, -2.044542261],
        'J_regressor': [52.0, 52.0, 4.647619048, -0.1241243646],
        'hands_componentsl': [45.0, 45.0, 45.0, -10.59891932],
        'hands_componentsr': [45.0, 45.0, 45.0, -10.59891932],
        'hands_meanl': [0.0, 0.0, 0.0, 0.0],
        'hands_meanr': [0.0, 0.0, 0.0, 0.0],
        'posedirs': [0.0, 0.0, 0.0, 0.0],
        'shapedirs': [-46.06449372, 567.684981, 9.910376946, -2.041101438],
        'v_template': [-729.7130187, 4940.973672, 2971.977286, 1.343606255],
        'weights': [6890.0, 6890.0, 6368.20936, 105.217596],
    }),
}


def _struct_fingerprint(struct):
    """(sha256 of the integer arrays and the other values, their floats to 9 significant digits, {float array key:
    [sum, sum |x|, sum x^2, sum x w]}), the keys sorted, ``w`` fixed standard-normal weights (seed 0) of the array's
    size."""
    digest, floats = hashlib.sha256(), {}
    for key in sorted(struct):
        value = struct[key]
        digest.update(key.encode())
        if isinstance(value, np.ndarray) and value.dtype.kind == 'f':
            x = value.astype(np.float64).ravel()
            w = np.random.default_rng(0).standard_normal(x.size)
            digest.update(f'{value.dtype}{value.shape}'.encode())
            floats[key] = [float(x.sum()), float(np.abs(x).sum()), float((x * x).sum()), float(x @ w)]
        elif isinstance(value, np.ndarray):
            digest.update(f'{value.dtype}{value.shape}'.encode())
            digest.update(np.ascontiguousarray(value).tobytes())
        else:  # floats in the metadata (e.g. the PCA's std) to 9 significant digits
            digest.update(json.dumps(_round_floats(value), sort_keys=True).encode())
    return digest.hexdigest(), floats


def _round_floats(value):
    if isinstance(value, float):
        return float(f'{value:.9g}')
    if isinstance(value, dict):
        return {k: _round_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_round_floats(v) for v in value]
    return value


def rotations(batch, count, scale, rng):
    """(batch, count, 3, 3) float32 rotation matrices of random axis-angles (scipy, independent of the code)."""
    vecs = rng.standard_normal((batch * count, 3)) * scale
    return torch.tensor(Rotation.from_rotvec(vecs).as_matrix(), dtype=torch.float32).reshape(batch, count, 3, 3)


@pytest.fixture(scope='session')
def smplx_root(surrogate_body_root):
    """The surrogate cache folder with ``smplx/`` added (built once)."""
    root = ensure_surrogate_body(model_types=('smplx', ))
    assert root == surrogate_body_root
    return root


@pytest.fixture(scope='module')
def smplx_neutral(smplx_root):
    with np.load(osp.join(smplx_root, 'smplx', 'SMPLX_NEUTRAL.npz'), allow_pickle=True) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.fixture(scope='module')
def smplh_neutral(surrogate_body_root):
    with open(osp.join(surrogate_body_root, 'smplh', 'SMPLH_NEUTRAL.pkl'), 'rb') as f:
        return pickle.load(f)


@pytest.fixture(scope='module')
def neutral_space():
    return build_shape_space('neutral', seed=0, num_samples=24)


def test_counts_and_layout(smplx_root, smplx_neutral):
    for gender in ('NEUTRAL', 'MALE', 'FEMALE'):
        assert osp.isfile(osp.join(smplx_root, 'smplx', f'SMPLX_{gender}.npz'))
    data = smplx_neutral
    assert data['v_template'].shape == (NUM_VERTS, 3)
    assert data['shapedirs'].shape == (NUM_VERTS, 3, 20)
    assert not data['shapedirs'][:, :, 10:].any()  # expression directions are zeros
    assert data['posedirs'].shape == (NUM_VERTS, 3, 9 * 54) and not data['posedirs'].any()
    assert data['J_regressor'].shape == (55, NUM_VERTS) and data['weights'].shape == (NUM_VERTS, 55)
    assert data['kintree_table'][0].tolist() == SMPLX_PARENTS
    from smplx.joint_names import JOINT_NAMES
    assert list(data['joint_names']) == joint_names('smplx') == list(JOINT_NAMES[:55])
    np.testing.assert_allclose(data['weights'].sum(axis=1), 1.0, atol=1e-12)
    info = data['surrogate_info'].item()
    assert info['model_type'] == 'smplx' and 'not SMPL-X' in info['note']
    # closed, consistently wound: every directed edge once, its reverse once
    faces = data['f']
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    keys = edges[:, 0] * NUM_VERTS + edges[:, 1]
    assert len(np.unique(keys)) == len(keys)
    assert np.isin(edges[:, 1] * NUM_VERTS + edges[:, 0], keys).all()
    assert len(np.unique(faces)) == NUM_VERTS


def test_landmark_ids_sit_on_the_landmarks(smplx_neutral):
    data = smplx_neutral
    verts, weights = data['v_template'], data['weights']
    joints = data['J_regressor'] @ verts
    names = {name: i for i, name in enumerate(joint_names('smplx'))}
    ids = smplx_vertex_ids('smplx')
    assert max(ids.values()) == 9929
    head = np.nonzero(weights[:, names['head']] + weights[:, names['jaw']] > 0.99)[0]
    head = head[verts[head, 1] > joints[names['head'], 1]]
    assert ids['nose'] == head[np.argmax(verts[head, 2])]
    assert ids['lear'] == head[np.argmax(verts[head, 0])] and ids['rear'] == head[np.argmin(verts[head, 0])]
    for side, eye in (('l', 'left_eye_smplhf'), ('r', 'right_eye_smplhf')):
        ball = np.nonzero(weights[:, names[eye]] == 1.0)[0]
        assert 50 < len(ball) < 200 and ids[f'{side}eye'] == ball[np.argmax(verts[ball, 2])]
    for side, prefix, upper in (('left', 'l', 'L'), ('right', 'r', 'R')):
        for finger in FINGER_NAMES:  # the tip: farthest from the finger's distal joint among its vertices
            joint = names[f'{side}_{finger}3']
            own = np.nonzero(weights[:, joint] > 0.99)[0]
            tip = own[np.argmax(np.linalg.norm(verts[own] - joints[joint], axis=1))]
            assert ids[f'{prefix}{finger}'] == tip
        foot = np.nonzero(weights[:, names[f'{side}_foot']] + weights[:, names[f'{side}_ankle']] > 0.99)[0]
        foot = foot[verts[foot, 1] < joints[names[f'{side}_ankle'], 1]]
        # toe and heel: the foot's end poles (the cap rings reach a few mm further along z)
        assert verts[ids[f'{upper}BigToe'], 2] > verts[foot, 2].max() - 0.01
        assert verts[ids[f'{upper}Heel'], 2] < verts[foot, 2].min() + 0.01
        small = verts[ids[f'{upper}SmallToe']]
        assert abs(small[0]) > abs(verts[ids[f'{upper}BigToe'], 0]) and small[2] > joints[names[f'{side}_foot'], 2]
    for key in ('eye', 'ear', 'thumb', 'index', 'middle', 'ring', 'pinky'):  # left and right are mirror images
        np.testing.assert_allclose(verts[ids['l' + key]] * [-1, 1, 1], verts[ids['r' + key]], atol=1e-9)


def test_joint_regressor_is_exact_ring_centre_and_joints_are_smplh_joints(smplx_neutral, smplh_neutral):
    """For random betas every joint is the centre of the ring it averages; body and finger joints equal SMPL-H's."""
    rng = np.random.default_rng(2)
    regressor = smplx_neutral['J_regressor']
    np.testing.assert_allclose(regressor.sum(axis=1), 1.0, atol=1e-12)
    smplh_rows = [joint_names('smplx').index(name) for name in SMPLH_JOINT_NAMES]
    for _ in range(3):
        betas = rng.standard_normal(10) * 1.5
        verts = smplx_neutral['v_template'] + smplx_neutral['shapedirs'][:, :, :10] @ betas
        joints = regressor @ verts
        for row, joint in zip(regressor, joints):
            ring = verts[np.nonzero(row)[0]]
            gaps = np.linalg.norm((2 * joint - ring)[:, None] - ring[None], axis=-1).min(axis=1)
            assert gaps.max() < 1e-9 and 8 <= len(ring) <= 40
        smplh_joints = smplh_neutral['J_regressor'] @ (smplh_neutral['v_template'] + smplh_neutral['shapedirs'] @ betas)
        np.testing.assert_allclose(joints[smplh_rows], smplh_joints, rtol=0, atol=1e-9)


def test_same_mannequin_as_smplh(neutral_space):
    """Every SMPL-H vertex is a SMPL-X vertex with the same template, shape directions and skinning."""
    smplh = build_surrogate_struct('smplh', 'neutral', shape_space=neutral_space)
    smplx_struct = build_surrogate_struct('smplx', 'neutral', shape_space=neutral_space)
    ids = build_smplx_mesh(neutral_space).smplh_ids
    assert len(np.unique(ids)) == 6890
    np.testing.assert_allclose(smplx_struct['v_template'][ids], smplh['v_template'], rtol=0, atol=1e-12)
    np.testing.assert_allclose(smplx_struct['shapedirs'][ids, :, :10], smplh['shapedirs'], rtol=0, atol=1e-12)
    weights = smplx_struct['weights'][ids]
    folded = np.delete(weights, [22, 23, 24], axis=1)
    folded[:, 15] += weights[:, 22]  # the jaw hangs on the head: identical bodies while the jaw is at rest
    assert not weights[:, 23:25].any()
    np.testing.assert_allclose(folded, smplh['weights'], rtol=0, atol=1e-12)


@pytest.mark.parametrize('flat_hand_mean', [True, False])
def test_smplx_package_matches_hoirecon(smplx_root, smplx_neutral, flat_hand_mean):
    batch, rng = 3, np.random.default_rng(3)
    axis_angles = {name: rng.standard_normal((batch, 3 * count)) * scale
                   for name, count, scale in (('global_orient', 1, 1.0), ('body_pose', 21, 0.3), ('jaw_pose', 1, 0.2),
                                              ('leye_pose', 1, 0.2), ('reye_pose', 1, 0.2))}
    pca = {side: rng.standard_normal((batch, 12)) for side in 'lr'}
    common = dict(betas=rng.standard_normal((batch, 10)), expression=rng.standard_normal((batch, 10)),
                  transl=rng.standard_normal((batch, 3)))
    ref_model = smplx.SMPLX(osp.join(smplx_root, 'smplx'), gender='neutral', ext='npz', use_pca=True,
                            num_pca_comps=12, flat_hand_mean=flat_hand_mean, batch_size=batch)
    as_tensor = {name: torch.tensor(value, dtype=torch.float32) for name, value in {**axis_angles, **common}.items()}
    ref = ref_model(left_hand_pose=torch.tensor(pca['l'], dtype=torch.float32),
                    right_hand_pose=torch.tensor(pca['r'], dtype=torch.float32), **as_tensor)

    def matrices(values):
        return torch.tensor(Rotation.from_rotvec(values.reshape(-1, 3)).as_matrix(),
                            dtype=torch.float32).reshape(batch, -1, 3, 3)

    hands = {}
    for side, name in (('l', 'left_hand_pose'), ('r', 'right_hand_pose')):
        full = pca[side] @ smplx_neutral[f'hands_components{side}'][:12]
        hands[name] = matrices(full if flat_hand_mean else full + smplx_neutral[f'hands_mean{side}'])
    poses = {name: matrices(value) for name, value in axis_angles.items()}
    poses.update({name: poses[name][:, 0] for name in ('global_orient', 'jaw_pose', 'leye_pose', 'reye_pose')})
    body = SMPLX(smplx_root, gender='neutral')
    assert body.is_surrogate
    ours = body(**poses, **hands, **{name: as_tensor[name] for name in common})
    assert ours.vertices.shape == (batch, NUM_VERTS, 3) and ours.joints.shape == (batch, 127, 3)
    torch.testing.assert_close(ours.vertices, ref.vertices, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.joints, ref.joints, atol=1e-5, rtol=0)
    # smplx's face contour landmarks also load (17 more joints)
    contour = smplx.SMPLX(osp.join(smplx_root, 'smplx'), gender='neutral', ext='npz', use_face_contour=True)
    assert contour(global_orient=torch.tensor([[0.0, 0.3, 0.0]])).joints.shape == (1, 144, 3)


def test_hand_pca_basis(smplx_root, smplx_neutral):
    left, right = hand_pca_basis()
    for side, basis in (('l', left), ('r', right)):
        np.testing.assert_array_equal(smplx_neutral[f'hands_components{side}'], basis)
        assert not smplx_neutral[f'hands_mean{side}'].any()
        np.testing.assert_allclose(basis @ basis.T, np.eye(45), atol=1e-12)
    np.testing.assert_allclose(right.reshape(45, 15, 3), left.reshape(45, 15, 3) * [1, -1, -1], atol=0)
    # 12-component round trip: coefficients -> 45-D axis-angle -> coefficients
    coeffs = np.random.default_rng(4).standard_normal((5, 12))
    np.testing.assert_allclose((coeffs @ left[:12]) @ left[:12].T, coeffs, atol=1e-12)
    assert len(HAND_PCA_MOTIONS) == 12

    # the first components are finger motions: a fist curls the left fingertips towards the palm (-y),
    # the spread moves the index tip towards the thumb (+z) and the pinky tip away (-z)
    body = SMPLX(smplx_root, gender='neutral')
    ids = smplx_vertex_ids('smplx')

    def tips(component, amount):
        axis_angle = amount * left[HAND_PCA_MOTIONS.index(component)]
        pose = torch.tensor(Rotation.from_rotvec(axis_angle.reshape(15, 3)).as_matrix(), dtype=torch.float32)
        verts = body(left_hand_pose=pose[None]).vertices[0].numpy()
        return {finger: verts[ids['l' + finger]] for finger in FINGER_NAMES}

    rest, fist, spread = tips('fist', 0.0), tips('fist', 2.0), tips('spread', 1.0)
    for finger in ('index', 'middle', 'ring', 'pinky'):
        assert fist[finger][1] < rest[finger][1] - 0.04 and fist[finger][0] < rest[finger][0] - 0.04
        assert abs(fist['thumb'] - rest['thumb']).max() < 1e-6
    assert spread['index'][2] > rest['index'][2] + 0.02 and spread['pinky'][2] < rest['pinky'][2] - 0.02


def test_face_joints_and_landmarks(smplx_root, smplx_neutral):
    data = smplx_neutral
    body = SMPLX('surrogate')  # the same cache folder
    assert body.model_file == osp.join(smplx_root, 'smplx', 'SMPLX_NEUTRAL.npz')
    weights = data['weights']
    chin = weights[:, 22] > 0.5
    jaw = torch.tensor(Rotation.from_rotvec([0.3, 0.0, 0.0]).as_matrix(), dtype=torch.float32)[None]
    rest, opened = body().vertices[0], body(jaw_pose=jaw).vertices[0]
    moved = (opened - rest).norm(dim=1).numpy() > 1e-6
    assert 20 < chin.sum() and np.array_equal(moved, weights[:, 22] > 0)
    assert (opened - rest)[chin, 1].mean() < -0.003  # opening the mouth lowers the chin
    eye = torch.tensor(Rotation.from_rotvec([0.0, 0.4, 0.0]).as_matrix(), dtype=torch.float32)[None]
    moved = (body(leye_pose=eye).vertices[0] - rest).norm(dim=1).numpy() > 1e-6
    ball = weights[:, 23] > 0
    assert not moved[~ball].any() and moved[ball].mean() > 0.8  # all but the points on the turning axis

    # 51 landmarks on the head's front: brows above eyes above the nose base above the mouth, mirror-symmetric
    faces, bary = data['lmk_faces_idx'], data['lmk_bary_coords']
    assert faces.shape == (51, ) and bary.shape == (51, 3)
    np.testing.assert_allclose(bary.sum(axis=1), 1.0, atol=1e-12)
    assert (bary >= 0).all() and (weights[data['f'][faces].ravel()][:, [15, 22]].sum(axis=1) > 0.999).all()
    points = np.einsum('lk,lkc->lc', bary, data['v_template'][data['f'][faces]])
    brows, nose_base, eyes, mouth = points[:10], points[14:19], points[19:31], points[31:51]
    assert brows[:, 1].min() > eyes[:, 1].max() > eyes[:, 1].min() > nose_base[:, 1].max() > mouth[:, 1].max()
    np.testing.assert_allclose(points[:5] * [-1, 1, 1], points[9:4:-1], atol=2e-3)
    assert points[:, 2].min() > body.v_template[:, 2].max() - 0.09  # on the front of the face
    assert data['dynamic_lmk_faces_idx'].shape == (79, 17) and data['dynamic_lmk_bary_coords'].shape == (79, 17, 3)


def test_nearly_the_smplh_body_in_random_poses(smplx_root):
    """SMPL-H pose and betas copied into SMPL-X: every SMPL-H vertex is on SMPL-X, SMPL-X's extra ones are near.

    Measured (neutral, 4 poses): SMPL-H -> SMPL-X nearest vertex <= 2e-7 m (float32), SMPL-X -> SMPL-H mean
    4.6 mm (the extra centroids and eyeballs), both directions together 2.8 mm.
    """
    rng = np.random.default_rng(5)
    batch = 4
    inputs = dict(betas=torch.tensor(rng.standard_normal((batch, 10)), dtype=torch.float32),
                  global_orient=rotations(batch, 1, 1.0, rng)[:, 0], body_pose=rotations(batch, 21, 0.35, rng),
                  left_hand_pose=rotations(batch, 15, 0.3, rng), right_hand_pose=rotations(batch, 15, 0.3, rng),
                  transl=torch.tensor(rng.standard_normal((batch, 3)), dtype=torch.float32))
    smplh_verts = SMPLH(smplx_root, gender='neutral')(**inputs).vertices.numpy()
    smplx_verts = SMPLX(smplx_root, gender='neutral')(**inputs).vertices.numpy()
    for h, x in zip(smplh_verts, smplx_verts):
        h_to_x = cKDTree(x).query(h)[0]
        x_to_h = cKDTree(h).query(x)[0]
        both = np.concatenate([h_to_x, x_to_h]).mean()
        assert h_to_x.max() < 1e-5 and x_to_h.mean() < 0.008 and both < 0.005


def test_smpl_and_smplh_generation_unchanged(neutral_space):
    """The SMPL / SMPL-H generator output is what it was before SMPL-X existed (see SMPL_FAMILY_FINGERPRINTS)."""
    threadpoolctl = pytest.importorskip('threadpoolctl')
    with threadpoolctl.threadpool_limits(1):
        space = build_shape_space('neutral', seed=0, num_samples=24)
        for model_type, (digest, floats) in SMPL_FAMILY_FINGERPRINTS.items():
            got_digest, got_floats = _struct_fingerprint(build_surrogate_struct(model_type, 'neutral', 0,
                                                                                shape_space=space))
            assert got_digest == digest and sorted(got_floats) == sorted(floats), model_type
            for key, sums in floats.items():
                np.testing.assert_allclose(got_floats[key], sums, rtol=1e-6, atol=1e-9, err_msg=f'{model_type} {key}')


def _fake_writer(calls):
    """Stand-in for write_surrogate_body: records the model types and writes one small file per type and gender."""

    def write(out_dir, model_types=('smpl', 'smplh'), *args, **kwargs):
        calls.append(tuple(model_types))
        paths = []
        for model_type in model_types:
            path = osp.join(out_dir, model_type, f'{model_type.upper()}_NEUTRAL.x')
            os.makedirs(osp.dirname(path), exist_ok=True)
            with open(path, 'wb') as f:
                f.write(b'x')
            paths.append(path)
        return paths

    return write


def test_ensure_adds_smplx_to_an_existing_folder(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(surrogate_module, 'write_surrogate_body', _fake_writer(calls))
    root = str(tmp_path / 'body')
    assert ensure_surrogate_body(root) == root
    assert ensure_surrogate_body(root, model_types=('smplx', )) == root
    assert ensure_surrogate_body(root, model_types=('smpl', 'smplh', 'smplx')) == root
    assert calls == [('smpl', 'smplh'), ('smplx', )]
    with open(osp.join(root, 'surrogate_info.json')) as f:
        files = json.load(f)['files']
    assert sorted(files) == ['smpl/SMPL_NEUTRAL.x', 'smplh/SMPLH_NEUTRAL.x', 'smplx/SMPLX_NEUTRAL.x']
    assert sorted(os.listdir(root)) == ['.lock', 'smpl', 'smplh', 'smplx', 'surrogate_info.json']
    assert sorted(os.listdir(tmp_path)) == ['body']
    # a fresh folder asked for SMPL-X only gets SMPL-X, and SMPL / SMPL-H later
    other = str(tmp_path / 'other')
    ensure_surrogate_body(other, model_types=('smplx', ))
    ensure_surrogate_body(other)
    assert calls[2:] == [('smplx', ), ('smpl', 'smplh')]
    with pytest.raises(ValueError, match='model types must be in'):
        ensure_surrogate_body(other, model_types=('flame', ))
