"""SMPL / SMPL-H / SMPL-X wrappers: agreement with smplx, input handling, gradients, BODY_25, errors."""
import logging
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from scipy.spatial.transform import Rotation

from hoirecon.models.body_models import SMPL, SMPLH, SMPLX, BodyModelOutput
from hoirecon.models.body_models import body_model as body_model_module
from hoirecon.registry import BODY_MODELS
from hoirecon.structures.body25 import load_joint_regressor_txt

smplx = pytest.importorskip('smplx')


def random_rotations(*shape, scale=0.4, seed=0):
    """(*shape, 3, 3) float32 rotation matrices from scipy (independent of the code under test)."""
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((int(np.prod(shape)), 3)) * scale
    return torch.tensor(Rotation.from_rotvec(vecs).as_matrix(), dtype=torch.float32).reshape(*shape, 3, 3)


@pytest.fixture(scope='module')
def smplh_male(surrogate_body_root):
    return SMPLH(surrogate_body_root, gender='male')


@pytest.fixture(scope='module')
def smpl_neutral(surrogate_body_root):
    return SMPL(osp.join(surrogate_body_root, 'smpl'), gender='neutral')


def test_smplh_matches_smplx_layer(surrogate_body_root, smplh_male):
    batch = 3
    inputs = dict(betas=torch.randn(batch, 10),
                  global_orient=random_rotations(batch, seed=1),
                  body_pose=random_rotations(batch, 21, seed=2),
                  left_hand_pose=random_rotations(batch, 15, seed=3),
                  right_hand_pose=random_rotations(batch, 15, seed=4),
                  transl=torch.randn(batch, 3))
    ours = smplh_male(**inputs)
    ref = smplx.SMPLHLayer(osp.join(surrogate_body_root, 'smplh'), gender='male')(**inputs)
    assert isinstance(ours, BodyModelOutput)
    assert ours.vertices.shape == (batch, 6890, 3) and ours.joints.shape == (batch, 73, 3)
    torch.testing.assert_close(ours.vertices, ref.vertices, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.joints, ref.joints, atol=1e-5, rtol=0)
    assert ours.faces.dtype == torch.long and ours.faces.shape == (13688, 3)


def test_smpl_matches_smplx_layer(surrogate_body_root, smpl_neutral):
    inputs = dict(betas=torch.randn(2, 10),
                  global_orient=random_rotations(2, 1, seed=5),
                  body_pose=random_rotations(2, 23, seed=6),
                  transl=torch.randn(2, 3))
    ours = smpl_neutral(**inputs)
    ref = smplx.SMPLLayer(osp.join(surrogate_body_root, 'smpl'), gender='neutral')(**inputs)
    assert ours.joints.shape == (2, 45, 3)
    torch.testing.assert_close(ours.vertices, ref.vertices, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.joints, ref.joints, atol=1e-5, rtol=0)


def test_pose_blend_shapes_are_applied(tmp_path, surrogate_body_root):
    """A SMPL file with non-zero posedirs (like the real model) gives the same result as smplx."""
    with open(osp.join(surrogate_body_root, 'smpl', 'SMPL_MALE.pkl'), 'rb') as f:
        struct = pickle.load(f)
    struct['posedirs'] = np.random.default_rng(0).standard_normal((6890, 3, 207)).astype(np.float32) * 0.01
    path = str(tmp_path / 'SMPL_MALE.pkl')
    with open(path, 'wb') as f:
        pickle.dump(struct, f)
    inputs = dict(betas=torch.randn(2, 10),
                  global_orient=random_rotations(2, seed=7),
                  body_pose=random_rotations(2, 23, seed=8))
    ours = SMPL(path, gender='male')(**inputs)
    ref = smplx.SMPLLayer(path)(**inputs)
    torch.testing.assert_close(ours.vertices, ref.vertices, atol=1e-5, rtol=0)
    rest = SMPL(path, gender='male')(betas=inputs['betas'], global_orient=inputs['global_orient'])
    assert (ours.vertices - rest.vertices).abs().max() > 0.01


def _synthetic_smplx_file(folder, num_verts=10475, seed=0):
    """A random (not human) SMPL-X file with every key smplx needs, to compare the two implementations."""
    rng = np.random.default_rng(seed)
    parents = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15]
    for wrist in (20, 21):
        for finger in range(5):
            base = len(parents)
            parents += [wrist, base, base + 1]
    num_joints = len(parents)
    weights = np.zeros((num_verts, num_joints))
    rows = np.arange(num_verts)
    weights[rows, rng.integers(0, num_joints, num_verts)] = 0.7
    weights[rows, rng.integers(0, num_joints, num_verts)] += 0.3
    regressor = np.zeros((num_joints, num_verts))
    for j in range(num_joints):
        regressor[j, rng.choice(num_verts, 10, replace=False)] = 0.1
    bary = rng.random((51, 3))
    data = dict(v_template=rng.standard_normal((num_verts, 3)) * 0.3,
                f=rng.integers(0, num_verts, (20000, 3)),
                shapedirs=rng.standard_normal((num_verts, 3, 20)) * 0.01,
                posedirs=(rng.standard_normal((num_verts, 3, 9 * (num_joints - 1))) * 0.001).astype(np.float32),
                J_regressor=regressor,
                weights=weights,
                kintree_table=np.stack([parents, np.arange(num_joints)]),
                lmk_faces_idx=rng.integers(0, 20000, 51),
                lmk_bary_coords=bary / bary.sum(1, keepdims=True),
                hands_componentsl=np.eye(45),
                hands_componentsr=np.eye(45),
                hands_meanl=np.zeros(45),
                hands_meanr=np.zeros(45))
    (folder / 'smplx').mkdir()
    np.savez(folder / 'smplx' / 'SMPLX_NEUTRAL.npz', **data)
    return str(folder)


def test_smplx_matches_smplx_layer(tmp_path):
    root = _synthetic_smplx_file(tmp_path)
    batch = 2
    inputs = dict(betas=torch.randn(batch, 10),
                  global_orient=random_rotations(batch, seed=1),
                  body_pose=random_rotations(batch, 21, seed=2),
                  left_hand_pose=random_rotations(batch, 15, seed=3),
                  right_hand_pose=random_rotations(batch, 15, seed=4),
                  jaw_pose=random_rotations(batch, seed=5),
                  expression=torch.randn(batch, 10),
                  transl=torch.randn(batch, 3))
    body = SMPLX(root)
    assert not body.is_surrogate and body.model_type == 'smplx' and body.num_joints == 55
    ours = body(**inputs)
    ref = smplx.SMPLXLayer(osp.join(root, 'smplx'), gender='neutral', ext='npz')(**inputs)
    assert ours.joints.shape == (batch, 127, 3)
    torch.testing.assert_close(ours.vertices, ref.vertices, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.joints, ref.joints, atol=1e-5, rtol=0)


#: The rotations each model's forward takes, in skeleton joint order (written out independently of POSE_INPUTS).
SKELETON_ORDER = {
    'smpl': [('global_orient', 1), ('body_pose', 23)],
    'smplh': [('global_orient', 1), ('body_pose', 21), ('left_hand_pose', 15), ('right_hand_pose', 15)],
    'smplx': [('global_orient', 1), ('body_pose', 21), ('jaw_pose', 1), ('leye_pose', 1), ('reye_pose', 1),
              ('left_hand_pose', 15), ('right_hand_pose', 15)],
}


@pytest.mark.parametrize('model_type', ['smpl', 'smplh', 'smplx'])
def test_forward_skins_its_inputs_in_skeleton_order(model_type, surrogate_body_root, tmp_path):
    """The shared forward equals skinning the rotations concatenated by hand, bit for bit (also float64)."""
    if model_type == 'smplx':
        body = SMPLX(_synthetic_smplx_file(tmp_path))
    else:
        body = {'smpl': SMPL, 'smplh': SMPLH}[model_type](surrogate_body_root, gender='female')
    assert sum(count for _, count in SKELETON_ORDER[model_type]) == body.num_joints
    batch = 2
    for dtype in (torch.float32, torch.float64):
        generator = torch.Generator().manual_seed(0)
        inputs = {name: random_rotations(batch, count, seed=seed).to(dtype)
                  for seed, (name, count) in enumerate(SKELETON_ORDER[model_type])}
        inputs['global_orient'] = inputs['global_orient'][:, 0]
        inputs.update(betas=torch.randn(batch, 10, generator=generator, dtype=dtype),
                      transl=torch.randn(batch, 3, generator=generator, dtype=dtype))
        expression = None
        if model_type == 'smplx':
            expression = inputs['expression'] = torch.randn(batch, 10, generator=generator, dtype=dtype)
        ours = body(**inputs)
        rotations = torch.cat([inputs[name].reshape(batch, count, 3, 3)
                               for name, count in SKELETON_ORDER[model_type]], dim=1)
        ref = body._skin(inputs['betas'], rotations, inputs['transl'], expression)
        assert ours.vertices.dtype == dtype
        assert torch.equal(ours.vertices, ref.vertices) and torch.equal(ours.joints, ref.joints)
    if model_type == 'smplx':
        with pytest.raises(ValueError, match=r'SMPLX: expression must have shape \(B, <= 10\)'):
            body(expression=torch.zeros(1, 11))
    else:
        with pytest.raises(TypeError):
            body(jaw_pose=torch.eye(3)[None])


def test_defaults_and_batch_size(smplh_male):
    rest = smplh_male()
    assert rest.vertices.shape == (1, 6890, 3)
    moved = smplh_male(transl=torch.ones(4, 3))
    assert moved.vertices.shape == (4, 6890, 3)
    torch.testing.assert_close(moved.vertices[2], rest.vertices[0] + 1)
    # missing inputs are identity / zero: the same as giving them explicitly
    explicit = smplh_male(betas=torch.zeros(1, 10),
                          global_orient=torch.eye(3)[None],
                          body_pose=torch.eye(3).expand(1, 21, 3, 3),
                          left_hand_pose=torch.eye(3).expand(1, 15, 3, 3))
    torch.testing.assert_close(explicit.vertices, rest.vertices)
    # fewer betas than num_betas use the leading components
    torch.testing.assert_close(
        smplh_male(betas=torch.ones(1, 3)).vertices,
        smplh_male(betas=torch.tensor([[1.0, 1, 1, 0, 0, 0, 0, 0, 0, 0]])).vertices)
    with pytest.raises(ValueError, match='batch size'):
        smplh_male(betas=torch.zeros(2, 10), transl=torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r'body_pose must hold \(B, 21, 3, 3\).*forward_axis_angle'):
        smplh_male(body_pose=torch.zeros(2, 63))
    with pytest.raises(ValueError, match='betas'):
        smplh_male(betas=torch.zeros(2, 11))


def test_float64_inputs(smplh_male):
    betas = torch.randn(2, 10, dtype=torch.float64)
    body_pose = random_rotations(2, 21, seed=3).double()
    out = smplh_male(betas=betas, body_pose=body_pose)
    assert out.vertices.dtype == torch.float64 and out.joints.dtype == torch.float64
    ref = smplh_male(betas=betas.float(), body_pose=body_pose.float())
    torch.testing.assert_close(out.vertices.float(), ref.vertices, atol=1e-5, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_inputs_on_another_device(smplh_male):
    betas, body_pose = torch.randn(2, 10), random_rotations(2, 21, seed=4)
    out = smplh_male(betas=betas.cuda(), body_pose=body_pose.cuda())
    assert out.vertices.is_cuda and out.joints.is_cuda and out.faces.is_cuda
    torch.testing.assert_close(out.vertices.cpu(),
                               smplh_male(betas=betas, body_pose=body_pose).vertices,
                               atol=1e-5,
                               rtol=0)


def test_gradients(smplh_male):
    inputs = dict(betas=torch.randn(2, 10),
                  global_orient=random_rotations(2, seed=1),
                  body_pose=random_rotations(2, 21, seed=2),
                  right_hand_pose=random_rotations(2, 15, seed=3),
                  transl=torch.randn(2, 3))
    for tensor in inputs.values():
        tensor.requires_grad_(True)
    out = smplh_male(**inputs)
    (out.vertices.square().sum() + out.joints.square().sum()).backward()
    for name, tensor in inputs.items():
        assert torch.isfinite(tensor.grad).all(), name
        assert tensor.grad.abs().sum() > 0, name


def test_forward_axis_angle_matches_rotation_matrices(smplh_male):
    rng = np.random.default_rng(2)
    pose = rng.standard_normal((2, 52, 3)) * 0.3
    rotations = torch.tensor(Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix(), dtype=torch.float32)
    rotations = rotations.reshape(2, 52, 3, 3)
    betas, transl = torch.randn(2, 10), torch.randn(2, 3)
    aa = smplh_male.forward_axis_angle(betas, torch.tensor(pose.reshape(2, 156), dtype=torch.float32), transl)
    rm = smplh_male(betas, rotations[:, 0], rotations[:, 1:22], transl, rotations[:, 22:37], rotations[:, 37:])
    torch.testing.assert_close(aa.vertices, rm.vertices, atol=1e-5, rtol=0)
    # a 66-D pose (22 body joints, StackFLOW) leaves the fingers at rest
    short = smplh_male.forward_axis_angle(betas, torch.tensor(pose[:, :22].reshape(2, 66), dtype=torch.float32))
    torch.testing.assert_close(short.vertices,
                               smplh_male(betas, rotations[:, 0], rotations[:, 1:22]).vertices,
                               atol=1e-5,
                               rtol=0)
    with pytest.raises(ValueError, match='3k'):
        smplh_male.forward_axis_angle(pose=torch.zeros(1, 157))


def test_rest_root_joint(smplh_male):
    betas = torch.randn(3, 10)
    root = smplh_male.rest_root_joint(betas)
    torch.testing.assert_close(root, smplh_male(betas=betas).joints[:, 0], atol=1e-6, rtol=0)
    # the root rotates about itself: posed root = J0 + transl for any global orientation
    transl = torch.randn(3, 3)
    posed = smplh_male(betas=betas, global_orient=random_rotations(3, scale=2.0), transl=transl)
    torch.testing.assert_close(posed.joints[:, 0], root + transl, atol=1e-5, rtol=0)


def test_beta0_makes_taller(smplh_male):
    betas = torch.zeros(2, 10)
    betas[:, 0] = torch.tensor([-2.0, 2.0])
    verts = smplh_male(betas=betas).vertices
    height = verts[..., 1].amax(1) - verts[..., 1].amin(1)
    assert height[1] > height[0] + 0.2


def test_body25_keypoints_are_meaningful(surrogate_body_root, smplh_male):
    kp = smplh_male.body25(smplh_male().vertices)[0]
    assert kp.shape == (25, 3)
    nose, neck, mid_hip = kp[0], kp[1], kp[8]
    head = smplh_male().joints[0, 15]
    assert nose[2] > head[2] + 0.05 and nose[1] > neck[1] > mid_hip[1]  # nose in front of the head, above
    for left, right in ((5, 2), (6, 3), (7, 4), (12, 9), (13, 10), (14, 11), (16, 15), (18, 17), (19, 22), (21, 24)):
        assert kp[left, 0] > 0 > kp[right, 0]  # left is +x
    assert abs(kp[18, 0]) > abs(kp[16, 0])  # ears further out than eyes
    assert kp[15, 1] > nose[1] and kp[15, 2] > head[2]  # eyes above the nose, at the front
    for toe, heel, ankle in ((19, 21, 14), (20, 21, 14), (22, 24, 11), (23, 24, 11)):
        assert kp[toe, 2] > kp[ankle, 2] > kp[heel, 2]  # toes in front, heels behind
        assert kp[toe, 1] < kp[ankle, 1]
    # the regressor file written next to the model is the one in use
    txt = load_joint_regressor_txt(osp.join(surrogate_body_root, 'smplh', 'J_regressor_body25_smplh.txt'))
    np.testing.assert_allclose(smplh_male.body25_regressor.numpy(), txt, atol=1e-7)
    np.testing.assert_allclose(txt.sum(axis=1), 1.0, atol=1e-9)


def test_attributes(smplh_male, smpl_neutral):
    assert smplh_male.is_surrogate and smplh_male.model_type == 'smplh' and smplh_male.gender == 'male'
    assert smplh_male.num_joints == 52 and smpl_neutral.num_joints == 24
    assert smplh_male.faces.dtype == np.int64 and smplh_male.faces.shape == (13688, 3)
    assert smplh_male.parents.dtype == np.int64 and smplh_male.parents[0] == -1
    assert smplh_male.parents[:22].tolist() == [
        -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19
    ]
    assert smplh_male.skinning_weights.shape == (6890, 52) and smplh_male.skinning_weights.dtype == np.float32
    labels = smplh_male.part_labels
    assert labels.dtype == np.int64 and labels.shape == (6890, )
    weights = smplh_male.skinning_weights
    body_only = weights[:, 22:].sum(axis=1) < 1e-6  # vertices not driven by any finger joint: plain argmax
    np.testing.assert_array_equal(labels[body_only], np.argmax(weights[body_only, :22], axis=1))
    finger_only = weights[:, 22:].sum(axis=1) > 1 - 1e-6  # fingers belong to their wrist (20 left, 21 right)
    assert finger_only.any()
    left_fingers = finger_only & (weights[:, 22:37].sum(axis=1) > 0.5)
    assert (labels[left_fingers] == 20).all() and (labels[finger_only & ~left_fingers] == 21).all()
    assert not (labels[finger_only] == 0).any()
    assert smplh_male.body25_regressor.shape == (25, 6890)
    assert smplh_male.state_dict() == {}  # model data never goes into checkpoints


def test_registry_and_surrogate_string(surrogate_body_root):
    body = BODY_MODELS.build(dict(type='SMPLH', model_path='surrogate', gender='female'))
    assert isinstance(body, SMPLH) and body.is_surrogate
    assert osp.dirname(osp.dirname(body.model_file)) == surrogate_body_root
    assert isinstance(BODY_MODELS.build(dict(type='SMPL')), SMPL)


def test_surrogate_warning_logged_once(surrogate_body_root, monkeypatch):
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    monkeypatch.setattr(body_model_module, '_surrogate_warned', False)
    try:
        SMPL(surrogate_body_root)
        SMPLH(surrogate_body_root)
    finally:
        logger.removeHandler(handler)
    warnings = [r for r in records if r.levelno == logging.WARNING and 'SURROGATE' in r.getMessage()]
    assert len(warnings) == 1
    assert 'not comparable to SMPL/SMPL-H/SMPL-X results' in warnings[0].getMessage()
