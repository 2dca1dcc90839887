"""Skeleton posing: FK equals the body model's joints, IK reaches, hands get the requested frame."""
import numpy as np
import pytest
import torch

from hoirecon.synthetic.poses import (ARM, JOINT, PoseBuilder, frame_rotation, swing_rotation, two_bone_ik)


def test_swing_and_frame_rotations():
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.normal(size=3), rng.normal(size=3)
        rot = swing_rotation(a, b)
        np.testing.assert_allclose(rot @ (a / np.linalg.norm(a)), b / np.linalg.norm(b), atol=1e-12)
        np.testing.assert_allclose(np.cross(a, b) @ rot.T, np.cross(a, b), atol=1e-12)  # axis is kept
    np.testing.assert_allclose(swing_rotation([1, 0, 0], [-1, 0, 0]) @ [1, 0, 0], [-1, 0, 0], atol=1e-12)
    rot = frame_rotation([1, 0, 0], [0, -1, 0], [0, 0, 1], [1, 0, 0])
    np.testing.assert_allclose(rot @ [1, 0, 0], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(rot @ [0, -1, 0], [1, 0, 0], atol=1e-12)


def test_two_bone_ik_reaches_and_keeps_lengths():
    root, target = np.zeros(3), np.array([0.3, -0.2, 0.25])
    middle, end = two_bone_ik(root, target, 0.3, 0.25, pole=np.array([0.0, -1.0, 0.0]))
    np.testing.assert_allclose(end, target, atol=1e-12)
    assert np.linalg.norm(middle - root) == pytest.approx(0.3)
    assert np.linalg.norm(end - middle) == pytest.approx(0.25)
    assert middle[1] < 0.5 * target[1]  # bends towards the pole
    middle, end = two_bone_ik(root, np.array([2.0, 0, 0]), 0.3, 0.25, pole=np.array([0, 1.0, 0]))
    assert np.linalg.norm(end) == pytest.approx(0.55, abs=1e-3)  # out of reach: stretched towards it


@pytest.fixture(scope='module')
def male(surrogate_body_root):
    from hoirecon.models.body_models import SMPLH
    model = SMPLH(model_path=surrogate_body_root, gender='male', dtype=torch.float64)
    betas = torch.from_numpy(np.random.default_rng(1).normal(size=(1, 10)))
    rest = model.forward_axis_angle(betas=betas)
    return model, betas, rest.joints[0, :52].numpy()


def test_builder_fk_matches_the_body_model(male):
    model, betas, rest_joints = male
    builder = PoseBuilder(rest_joints)
    builder.root_position = rest_joints[0] + np.array([0.1, -0.05, 0.3])
    builder.aim('spine1', 'spine2', np.array([0.0, 1.0, 0.3]))
    builder.solve_limb(ARM['left'], builder.solve()[1][JOINT['left_shoulder']] + [0.2, -0.3, 0.3], np.array([1, -1, 0]))
    builder.orient_hand('left', np.array([0.0, -0.3, 1.0]), np.array([-1.0, 0.0, 0.0]))
    builder.curl_fingers('right', 0.4)
    out = model.forward_axis_angle(betas, torch.from_numpy(builder.axis_angle().astype(np.float64))[None],
                                   torch.from_numpy(builder.translation().astype(np.float64))[None])
    np.testing.assert_allclose(out.joints[0, :52].numpy(), builder.solve()[1], atol=1e-5)


def test_orient_hand_gives_the_requested_fingers(male):
    _, _, rest_joints = male
    builder = PoseBuilder(rest_joints)
    wanted = np.array([0.0, -0.6, 0.8])
    builder.solve_limb(ARM['right'], builder.solve()[1][JOINT['right_shoulder']] + [-0.1, -0.35, 0.3],
                       np.array([-1, -1, 0]))
    builder.orient_hand('right', wanted, np.array([1.0, 0.0, 0.0]))
    joints = builder.solve()[1]
    fingers = joints[JOINT['right_middle1']] - joints[JOINT['right_wrist']]
    np.testing.assert_allclose(fingers / np.linalg.norm(fingers), wanted, atol=1e-6)
