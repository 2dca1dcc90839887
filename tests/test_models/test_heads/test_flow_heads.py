"""StackedFlowHead / IndependentFlowHead: interface, stacking, likelihood consistency, training."""
import pytest
import torch

from hoirecon.models.heads import IndependentFlowHead, StackedFlowHead
from hoirecon.registry import HEADS

C, NUM_OBJECTS, D, J = 24, 3, 6, 22
SMALL_FLOW = dict(num_layers=2, hidden_features=32, num_blocks_per_layer=1)
FLOW_HEADS = [StackedFlowHead, IndependentFlowHead]


def make_inputs(batch=5, seed=1, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    feature = torch.randn(batch, C, generator=gen, dtype=dtype)
    labels = torch.randint(0, NUM_OBJECTS, (batch, ), generator=gen)
    return feature, labels


def make_trained_looking_head(cls, dtype=torch.float64):
    """A head in eval mode whose flows are non-trivial: ActNorm initialised and every parameter perturbed.

    A freshly built flow has zero-initialised coupling outputs, so it would ignore its context.
    """
    torch.manual_seed(0)
    head = cls(C, NUM_OBJECTS, D, J, flow_cfg=SMALL_FLOW).to(dtype).train()
    feature, labels = make_inputs(32, seed=2, dtype=dtype)
    head.log_prob(feature, labels, torch.randn(32, J, 6, dtype=dtype), torch.randn(32, D, dtype=dtype))
    with torch.no_grad():
        for param in head.parameters():
            param.add_(0.1 * torch.randn_like(param))
    return head.eval()


@pytest.mark.parametrize('type_name', ['StackedFlowHead', 'IndependentFlowHead'])
def test_built_from_registry_with_defaults_of_the_paper(type_name):
    head = HEADS.build(dict(type=type_name, flow_cfg=dict(hidden_features=8)))
    assert head.has_likelihood
    assert head.pose_flow.features == 22 * 6 and head.pose_flow.context_features == 2048
    assert head.relation_flow.features == 32 and head.relation_context.object_embedding.num_embeddings == 20
    assert head.relation_context.uses_pose == (type_name == 'StackedFlowHead')
    assert len(head.pose_flow.layers) == 3 * 4  # num_layers=4 (ActNorm, LULinear, coupling each)


@pytest.mark.parametrize('cls', FLOW_HEADS)
@pytest.mark.parametrize('num_samples', [0, 1, 3])
def test_output_shapes(cls, num_samples):
    head = cls(C, NUM_OBJECTS, D, J, flow_cfg=SMALL_FLOW).eval()
    feature, labels = make_inputs(batch=4)
    with torch.no_grad():
        out = head(feature, labels, num_samples=num_samples)
    expected = dict(pose_6d=(4, J, 6), relation=(4, D))
    if num_samples:
        expected.update(pose_6d_samples=(4, num_samples, J, 6),
                        relation_samples=(4, num_samples, D),
                        log_prob=(4, num_samples))
    assert {key: tuple(value.shape) for key, value in out.items()} == expected
    assert all(torch.isfinite(value).all() for value in out.values())


def test_stacked_relation_depends_on_pose_independent_does_not():
    feature, labels = make_inputs(dtype=torch.float64)
    relation = torch.randn(5, D, dtype=torch.float64)
    pose_a, pose_b = torch.randn(2, 5, J, 6, dtype=torch.float64)
    changes = {}
    for cls in FLOW_HEADS:
        head = make_trained_looking_head(cls)
        with torch.no_grad():
            lp_a = head.log_prob(feature, labels, pose_a, relation)
            lp_b = head.log_prob(feature, labels, pose_b, relation)
        assert not torch.allclose(lp_a['pose'], lp_b['pose'])  # sanity: the poses differ
        changes[cls] = (lp_a['relation'] - lp_b['relation']).abs().max().item()
    assert changes[StackedFlowHead] > 1e-2
    assert changes[IndependentFlowHead] == 0.0


@pytest.mark.parametrize('cls', FLOW_HEADS)
def test_log_prob_of_samples_matches_the_sampled_log_prob(cls):
    head = make_trained_looking_head(cls)
    feature, labels = make_inputs(dtype=torch.float64)
    k = 3
    with torch.no_grad():
        out = head(feature, labels, num_samples=k)
        lp = head.log_prob(feature.repeat_interleave(k, 0), labels.repeat_interleave(k, 0),
                           out['pose_6d_samples'].reshape(5 * k, J, 6), out['relation_samples'].reshape(5 * k, D))
    torch.testing.assert_close(lp['pose'] + lp['relation'], out['log_prob'].reshape(-1), atol=1e-8, rtol=1e-10)
    assert out['log_prob'].std() > 0  # distinct hypotheses, distinct densities


@pytest.mark.parametrize('cls', FLOW_HEADS)
def test_mode_is_the_zero_latent_of_both_flows(cls):
    head = make_trained_looking_head(cls)
    feature, labels = make_inputs(dtype=torch.float64)
    with torch.no_grad():
        out = head(feature, labels, num_samples=2)
        out_no_samples = head(feature, labels)
        lp = head.log_prob(feature, labels, out['pose_6d'], out['relation'])
        pose_at_zero = head.pose_flow.sample(feature, z=torch.zeros(5, 1, J * 6, dtype=torch.float64))[0][:, 0]
    torch.testing.assert_close(out['pose_6d'].reshape(5, -1), pose_at_zero, atol=1e-8, rtol=1e-10)
    # the mode relation is flow 2 at z = 0 conditioned on the MODE pose: both latents vanish
    torch.testing.assert_close(lp['pose_z'], torch.zeros_like(lp['pose_z']), atol=1e-8, rtol=0)
    torch.testing.assert_close(lp['relation_z'], torch.zeros_like(lp['relation_z']), atol=1e-8, rtol=0)
    torch.testing.assert_close(out_no_samples['relation'], out['relation'], atol=1e-8, rtol=1e-10)
    assert (out['pose_6d_samples'] - out['pose_6d'].unsqueeze(1)).abs().max() > 1e-2


@pytest.mark.parametrize('cls', FLOW_HEADS)
def test_gradients_reach_the_feature_and_the_embeddings(cls):
    head = make_trained_looking_head(cls, torch.float32).train()
    feature, labels = make_inputs(batch=4)
    feature.requires_grad_(True)
    out = head(feature, labels, num_samples=2)
    lp = head.log_prob(feature, labels, torch.randn(4, J, 6), torch.randn(4, D))
    loss = (out['pose_6d'].sum() + out['relation'].sum() + out['log_prob'].sum() + out['relation_samples'].sum() -
            lp['pose'].sum() - lp['relation'].sum())
    loss.backward()
    assert torch.isfinite(feature.grad).all() and feature.grad.abs().sum() > 0
    embedding_grad = head.relation_context.object_embedding.weight.grad
    assert embedding_grad[labels].abs().sum() > 0
    if cls is StackedFlowHead:
        assert head.relation_context.pose_embedding.weight.grad.abs().sum() > 0


def test_adam_steps_lower_the_nll_of_both_flows():
    torch.manual_seed(0)
    head = StackedFlowHead(C, NUM_OBJECTS, D, J, flow_cfg=dict(hidden_features=64, dropout=0.0)).train()
    feature, labels = make_inputs(batch=16, seed=3)
    pose = 0.3 * torch.randn(16, J, 6) + torch.tensor([1., 0., 0., 1., 0., 0.])
    relation = feature[:, :D] + 0.5 * labels[:, None].float()
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)

    def nll():
        lp = head.log_prob(feature, labels, pose, relation)
        return -lp['pose'].mean(), -lp['relation'].mean()

    first = [value.item() for value in nll()]  # ActNorm initialises here
    for _ in range(25):
        optimizer.zero_grad()
        sum(nll()).backward()
        optimizer.step()
    last = [value.item() for value in nll()]
    assert last[0] < first[0] - 10.0, (first, last)  # 132-d pose: nats drop by far more than noise
    assert last[1] < first[1] - 1.0, (first, last)


@pytest.mark.parametrize('cls', FLOW_HEADS)
def test_bad_inputs_raise_clear_errors(cls):
    head = cls(C, NUM_OBJECTS, D, J, flow_cfg=SMALL_FLOW).eval()
    feature, labels = make_inputs(batch=3)
    with pytest.raises(ValueError, match='feature must have shape'):
        head(torch.randn(3, C + 1), labels)
    with pytest.raises(ValueError, match=r'object_labels must lie in \[0, num_objects=3\)'):
        head(feature, torch.tensor([0, 1, 3]))
    with pytest.raises(ValueError, match='integer tensor'):
        head(feature, labels.float())
    with pytest.raises(ValueError, match='object_labels must have shape'):
        head(feature, labels[:2])
    with pytest.raises(ValueError, match='num_samples'):
        head(feature, labels, num_samples=-1)
    with pytest.raises(ValueError, match='pose_6d must have shape'):
        head.log_prob(feature, labels, torch.randn(3, J * 6), torch.randn(3, D))
    with pytest.raises(ValueError, match='relation must have shape'):
        head.log_prob(feature, labels, torch.randn(3, J, 6), torch.randn(3, D + 1))


@pytest.mark.parametrize('head_type', ['StackedFlowHead', 'IndependentFlowHead'])
def test_image_conditioned_log_prob_equals_log_prob(head_type):
    """Precomputed context projections (the refiner's fast path) give the same densities, latents, gradients."""
    torch.manual_seed(0)
    head = HEADS.build(dict(type=head_type, feature_dim=24, num_objects=5, relation_dim=6, num_pose_joints=4,
                            flow_cfg=dict(num_layers=2, hidden_features=16, num_blocks_per_layer=2, dropout=0.0)))
    head = head.double()
    head.train()
    head.log_prob(torch.randn(8, 24, dtype=torch.float64), torch.arange(8) % 5,
                  torch.randn(8, 4, 6, dtype=torch.float64), torch.randn(8, 6, dtype=torch.float64))  # ActNorm init
    head.eval()
    feature, labels = torch.randn(3, 24, dtype=torch.float64), torch.tensor([0, 3, 4])
    conditioned = head.image_conditioned_log_prob(feature, labels)
    for _ in range(2):  # several poses against the same image
        pose = torch.randn(3, 4, 6, dtype=torch.float64, requires_grad=True)
        relation = torch.randn(3, 6, dtype=torch.float64)
        fast, slow = conditioned(pose, relation), head.log_prob(feature, labels, pose, relation)
        for key in ('pose', 'relation', 'pose_z', 'relation_z'):
            torch.testing.assert_close(fast[key], slow[key], rtol=1e-10, atol=1e-10)
        total_fast = fast['relation'].sum() + fast['pose'].sum()
        total_slow = slow['relation'].sum() + slow['pose'].sum()
        grad_fast, grad_slow = torch.autograd.grad(total_fast, pose)[0], torch.autograd.grad(total_slow, pose)[0]
        torch.testing.assert_close(grad_fast, grad_slow, rtol=1e-9, atol=1e-10)
