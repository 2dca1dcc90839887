"""RotationMatrixMSELoss, Rot6DOrthogonalityLoss and NLLLoss against independent references."""
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hoirecon.models.losses import NLLLoss, Rot6DOrthogonalityLoss, RotationMatrixMSELoss
from hoirecon.registry import LOSSES


def gram_schmidt(x):
    """numpy 6D -> matrix: columns of x.reshape(3, 2), orthonormalised, completed by the cross product."""
    a = x.reshape(3, 2)
    b1 = a[:, 0] / np.linalg.norm(a[:, 0])
    b2 = a[:, 1] - b1.dot(a[:, 1]) * b1
    b2 /= np.linalg.norm(b2)
    return np.stack([b1, b2, np.cross(b1, b2)], axis=1)


@pytest.mark.parametrize('type_name', ['RotationMatrixMSELoss', 'Rot6DOrthogonalityLoss', 'NLLLoss'])
def test_registered(type_name):
    loss = LOSSES.build(dict(type=type_name, loss_weight=0.25))
    assert type(loss).__name__ == type_name and loss.loss_weight == 0.25


def test_rotation_matrix_mse_on_6d_predictions_with_joint_mask():
    rng = np.random.default_rng(0)
    pred_6d = rng.normal(size=(2, 3, 6))
    target = Rotation.random(6, random_state=1).as_matrix().reshape(2, 3, 3, 3)
    joint_weight = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    pred_matrix = np.stack([[gram_schmidt(x) for x in row] for row in pred_6d])
    squared = ((pred_matrix - target)**2).sum(axis=(-1, -2))  # per joint
    loss = RotationMatrixMSELoss(loss_weight=0.05, reduction='sum_per_batch')
    value = loss(torch.from_numpy(pred_6d), torch.from_numpy(target), torch.from_numpy(joint_weight))
    assert value.item() == pytest.approx(0.05 * (squared * joint_weight).sum() / 2, rel=1e-10)
    mean = RotationMatrixMSELoss()(torch.from_numpy(pred_6d), torch.from_numpy(target))
    assert mean.item() == pytest.approx(squared.sum() / (6 * 9), rel=1e-10)
    # matrices in, same value; a perfect 6D prediction gives zero
    as_matrix = RotationMatrixMSELoss()(torch.from_numpy(pred_matrix), torch.from_numpy(target))
    assert as_matrix.item() == pytest.approx(mean.item(), rel=1e-10)
    target_6d = torch.from_numpy(target[..., :, :2].reshape(2, 3, 6) * 3.0)  # scaled columns, same rotation
    assert RotationMatrixMSELoss()(target_6d, torch.from_numpy(target)).item() == pytest.approx(0.0, abs=1e-20)


def test_rotation_matrix_mse_errors():
    with pytest.raises(ValueError, match=r'rotations must have shape \(\.\.\., 6\)'):
        RotationMatrixMSELoss()(torch.ones(2, 4), torch.eye(3).expand(2, 3, 3))
    with pytest.raises(ValueError, match='a target is required'):
        RotationMatrixMSELoss()(torch.ones(2, 6))
    with pytest.raises(ValueError, match='same shape'):
        RotationMatrixMSELoss()(torch.ones(2, 6), torch.eye(3).expand(3, 3, 3))


def test_orthogonality_loss_hand_computed():
    # columns a1 = (2, 0, 0), a2 = (0, 1, 0): A^T A = diag(4, 1) -> ((4 - 1)^2 + 0 + 0 + 0) / 4
    x = torch.tensor([[2., 0., 0., 1., 0., 0.]])
    assert Rot6DOrthogonalityLoss(loss_weight=0.1)(x).item() == pytest.approx(0.1 * 9 / 4)
    rotations = torch.from_numpy(Rotation.random(5, random_state=0).as_matrix())
    assert Rot6DOrthogonalityLoss()(rotations[..., :, :2].reshape(5, 6)).item() == pytest.approx(0.0, abs=1e-24)
    assert Rot6DOrthogonalityLoss()(torch.zeros(0, 22, 6)).item() == 0.0
    with pytest.raises(ValueError, match='takes no target and no weight'):
        Rot6DOrthogonalityLoss()(x, weight=torch.ones(1))


def test_nll_is_weighted_negative_mean_log_prob():
    log_prob = torch.tensor([-1.0, -2.0, -3.0])
    assert NLLLoss()(log_prob).item() == pytest.approx(2.0)
    assert NLLLoss(loss_weight=0.001)(log_prob).item() == pytest.approx(0.002)
    assert NLLLoss()(log_prob, weight=torch.tensor([1.0, 1.0, 0.0])).item() == pytest.approx(1.5)
    per_hypothesis = torch.tensor([[-1.0, -3.0], [-10.0, -20.0]])
    assert NLLLoss()(per_hypothesis, weight=torch.tensor([1.0, 0.0])).item() == pytest.approx(2.0)
    assert NLLLoss(reduction='sum_per_batch')(per_hypothesis).item() == pytest.approx(17.0)


def test_nll_all_masked_and_errors():
    log_prob = torch.tensor([5.0, -7.0], requires_grad=True)
    loss = NLLLoss()(log_prob, weight=torch.zeros(2))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(log_prob.grad, torch.zeros(2))
    with pytest.raises(ValueError, match='takes no target'):
        NLLLoss()(log_prob, torch.zeros(2))
