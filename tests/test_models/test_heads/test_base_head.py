"""BaseHOIHead: has_likelihood follows from whether log_prob is implemented; the default image-conditioned log_prob."""
import pytest
import torch

from hoirecon.models.heads import BaseHOIHead, IndependentFlowHead, RegressionHead, StackedFlowHead, TwoFlowHead
from hoirecon.registry import HEADS


class _NoLikelihood(BaseHOIHead):

    def forward(self, feature, object_labels, num_samples=0):
        return dict(pose_6d=feature.new_zeros(len(feature), 22, 6), relation=feature.new_zeros(len(feature), 3))


class _GaussianHead(_NoLikelihood):
    """log p = standard normal over the pose and the relation; the latents are the inputs themselves."""

    def log_prob(self, feature, object_labels, pose_6d, relation):
        normal = torch.distributions.Normal(0.0, 1.0)
        pose_z = pose_6d.flatten(1) - feature[:, :1]
        relation_z = relation - object_labels[:, None].to(relation)
        return dict(pose=normal.log_prob(pose_z).sum(1), relation=normal.log_prob(relation_z).sum(1), pose_z=pose_z,
                    relation_z=relation_z)


def test_has_likelihood_follows_from_implementing_log_prob():
    assert not _NoLikelihood.has_likelihood and not _NoLikelihood().has_likelihood
    assert _GaussianHead.has_likelihood and _GaussianHead().has_likelihood
    assert not RegressionHead.has_likelihood
    assert StackedFlowHead.has_likelihood and IndependentFlowHead.has_likelihood
    assert all(issubclass(cls, BaseHOIHead) for cls in (RegressionHead, StackedFlowHead, IndependentFlowHead))
    with pytest.raises(NotImplementedError, match='_NoLikelihood has no likelihood'):
        _NoLikelihood().log_prob(torch.zeros(2, 4), torch.zeros(2, dtype=torch.long), None, None)
    with pytest.raises(TypeError, match='abstract'):
        BaseHOIHead()  # forward is abstract


def test_default_image_conditioned_log_prob_is_log_prob_with_the_image_fixed():
    head = _GaussianHead()
    feature, labels = torch.randn(3, 4), torch.tensor([0, 1, 2])
    pose, relation = torch.randn(3, 22, 6), torch.randn(3, 3)
    conditioned = head.image_conditioned_log_prob(feature, labels)(pose, relation)
    direct = head.log_prob(feature, labels, pose, relation)
    assert set(conditioned) == {'pose', 'relation', 'pose_z', 'relation_z'}
    for key, value in direct.items():
        assert torch.equal(conditioned[key], value)
    expected = -0.5 * ((relation - labels[:, None]) ** 2).sum(1) - 3 * 0.5 * torch.log(torch.tensor(2 * torch.pi))
    torch.testing.assert_close(conditioned['relation'], expected)


@pytest.mark.parametrize('type_name,stacked', [('StackedFlowHead', True), ('IndependentFlowHead', False)])
def test_the_two_flow_heads_are_one_implementation_with_the_same_state_dict(type_name, stacked):
    """The registered names differ by the flag only: same constructor, same parameters as TwoFlowHead's."""
    cfg = dict(feature_dim=8, num_objects=3, relation_dim=4, num_pose_joints=22, flow_cfg=dict(hidden_features=8))
    head = HEADS.build(dict(type=type_name, **cfg))
    assert isinstance(head, TwoFlowHead) and head.condition_relation_on_pose is stacked
    assert head.relation_context.uses_pose is stacked
    keys = set(head.state_dict())
    assert ('relation_context.pose_embedding.weight' in keys) is stacked
    other = HEADS.build(dict(type='IndependentFlowHead' if stacked else 'StackedFlowHead', **cfg))
    assert keys ^ set(other.state_dict()) == {'relation_context.pose_embedding.weight',
                                              'relation_context.pose_embedding.bias'}
