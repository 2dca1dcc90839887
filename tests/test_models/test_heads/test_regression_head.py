"""RegressionHead: the deterministic ablation with the flow heads' interface."""
import pytest
import torch

from hoirecon.models.heads import RegressionHead
from hoirecon.models.utils import rot6d_orthogonality_loss
from hoirecon.registry import HEADS

C, NUM_OBJECTS, D, J = 24, 3, 6, 22


def make_inputs(batch=4):
    gen = torch.Generator().manual_seed(0)
    return torch.randn(batch, C, generator=gen), torch.randint(0, NUM_OBJECTS, (batch, ), generator=gen)


def test_built_from_registry_without_likelihood():
    head = HEADS.build(dict(type='RegressionHead', hidden_dim=16))
    assert not head.has_likelihood
    assert head.pose_mlp[0].in_features == 2048 and head.pose_mlp[2].out_features == 22 * 6
    assert head.relation_mlp[2].out_features == 32
    feature, labels = torch.randn(2, 2048), torch.tensor([0, 19])
    with pytest.raises(NotImplementedError, match='RegressionHead has no likelihood'):
        head.log_prob(feature, labels, torch.randn(2, 22, 6), torch.randn(2, 32))
    with pytest.raises(NotImplementedError, match='has_likelihood'):
        head.image_conditioned_log_prob(feature, labels)


@pytest.mark.parametrize('num_samples', [0, 1, 3])
def test_shapes_and_samples_are_the_repeated_prediction(num_samples):
    head = RegressionHead(C, NUM_OBJECTS, D, J, hidden_dim=32)
    feature, labels = make_inputs()
    out = head(feature, labels, num_samples=num_samples)
    assert out['pose_6d'].shape == (4, J, 6) and out['relation'].shape == (4, D)
    if num_samples == 0:
        assert set(out) == {'pose_6d', 'relation'}
        return
    assert out['pose_6d_samples'].shape == (4, num_samples, J, 6)
    assert out['relation_samples'].shape == (4, num_samples, D)
    for i in range(num_samples):
        assert torch.equal(out['pose_6d_samples'][:, i], out['pose_6d'])
        assert torch.equal(out['relation_samples'][:, i], out['relation'])
    assert torch.equal(out['log_prob'], torch.zeros(4, num_samples))


def test_initial_pose_is_close_to_identity_rotations():
    torch.manual_seed(0)
    head = RegressionHead(C, NUM_OBJECTS, D, J, hidden_dim=64)
    pose = head(*make_inputs())['pose_6d']
    identity_6d = torch.tensor([1., 0., 0., 1., 0., 0.])
    assert (pose - identity_6d).abs().max() < 0.1
    assert rot6d_orthogonality_loss(pose) < 1e-2


@pytest.mark.parametrize('stacked', [True, False])
def test_relation_depends_on_object_and_on_pose_only_when_stacked(stacked):
    torch.manual_seed(0)
    head = RegressionHead(C, NUM_OBJECTS, D, J, hidden_dim=32, condition_relation_on_pose=stacked)
    feature, _ = make_inputs(2)
    out_0 = head(feature, torch.tensor([0, 0]))
    out_1 = head(feature, torch.tensor([1, 1]))
    assert not torch.allclose(out_0['relation'], out_1['relation'])
    torch.testing.assert_close(out_0['pose_6d'], out_1['pose_6d'])  # the pose ignores the object
    with torch.no_grad():
        head.pose_mlp[2].bias.add_(1.0)  # a different pose, same feature and object
    shifted = head(feature, torch.tensor([0, 0]))['relation']
    assert torch.allclose(shifted, out_0['relation']) != stacked


def test_gradients_reach_the_feature():
    head = RegressionHead(C, NUM_OBJECTS, D, J, hidden_dim=32)
    feature, labels = make_inputs()
    feature.requires_grad_(True)
    out = head(feature, labels, num_samples=2)
    (out['pose_6d_samples'].sum() + out['relation'].sum()).backward()
    assert torch.isfinite(feature.grad).all() and feature.grad.abs().sum() > 0


def test_bad_inputs_raise_clear_errors():
    head = RegressionHead(C, NUM_OBJECTS, D, J, hidden_dim=8)
    feature, labels = make_inputs(3)
    with pytest.raises(ValueError, match='feature must have shape'):
        head(feature[:, :5], labels)
    with pytest.raises(ValueError, match='object_labels must lie in'):
        head(feature, torch.tensor([-1, 0, 0]))
    with pytest.raises(ValueError, match='num_samples'):
        head(feature, labels, num_samples=1.5)
