"""tools/model_converters/stackflow_to_hoirecon.py against an independent description of the official layout.

The official checkpoint is built here from names, shapes and formulas written down from the description of StackFLOW's
code (nflows' ConditionalGlow as ProHMR forked it: ActNorm, LU linear with a bias and strict triangles stored row by
row, additive coupling whose residual net sees the context in its input layer only), not from hoirecon's modules; its
log-densities and samples are computed with those formulas in numpy, float64, and the converted hoirecon head must
reproduce them.
"""
import math
import pickle

import numpy as np
import pytest
import torch

from hoirecon.apis.stackflow_checkpoint import (StackFLOWCheckpointError, hoirecon_to_stackflow_state,
                                                relation_encoder_state, stackflow_pca_to_arrays,
                                                stackflow_to_hoirecon_state)
from hoirecon.models.heads import StackedFlowHead
from hoirecon.models.utils.rotation import matrix_to_rot6d

FEATURES_POSE, CONTEXT, HIDDEN, LAYERS, BLOCKS, NUM_OBJECTS, RELATION = 12, 10, 16, 3, 2, 4, 6
BN_EPS = 1e-5


# ---- the official layout, from its description -------------------------------------------------------------------
def official_flow(rng, prefix, features, context, hidden=HIDDEN, layers=LAYERS, blocks=BLOCKS):
    """Random parameters of an official ConditionalGlow under ``prefix`` (numpy float64)."""
    state = {}
    tri = features * (features - 1) // 2
    for layer in range(layers):
        a, lu, cp = (f'{prefix}{3 * layer + i}.' for i in range(3))
        state[a + 'log_scale'] = rng.normal(0, 0.2, features)
        state[a + 'shift'] = rng.normal(0, 0.3, features)
        state[a + 'initialized'] = np.array(True)
        state[lu + 'lower_entries'] = rng.normal(0, 0.2, tri)
        state[lu + 'upper_entries'] = rng.normal(0, 0.2, tri)
        state[lu + 'unconstrained_upper_diag'] = rng.normal(0.5, 0.3, features)
        state[lu + 'bias'] = rng.normal(0, 0.1, features)
        mask = np.ones(features)
        mask[::2] = -1
        mask *= (-1)**layer
        identity, transform = np.flatnonzero(mask <= 0), np.flatnonzero(mask > 0)
        state[cp + 'identity_features'] = identity
        state[cp + 'transform_features'] = transform
        net = cp + 'transform_net.'
        state[net + 'initial_layer.weight'] = rng.normal(0, 0.3, (hidden, len(identity) + context))
        state[net + 'initial_layer.bias'] = rng.normal(0, 0.1, hidden)
        for b in range(blocks):
            for i in range(2):
                bn = f'{net}blocks.{b}.batch_norm_layers.{i}.'
                state[bn + 'weight'] = rng.uniform(0.5, 1.5, hidden)
                state[bn + 'bias'] = rng.normal(0, 0.1, hidden)
                state[bn + 'running_mean'] = rng.normal(0, 0.2, hidden)
                state[bn + 'running_var'] = rng.uniform(0.5, 2.0, hidden)
                state[bn + 'num_batches_tracked'] = np.array(100)
                lin = f'{net}blocks.{b}.linear_layers.{i}.'
                state[lin + 'weight'] = rng.normal(0, 0.2, (hidden, hidden))
                state[lin + 'bias'] = rng.normal(0, 0.1, hidden)
        state[net + 'final_layer.weight'] = rng.normal(0, 0.2, (len(transform), hidden))
        state[net + 'final_layer.bias'] = rng.normal(0, 0.1, len(transform))
        state[cp + 'dummy_buffer'] = np.zeros(1)
    return state


def softplus(x):
    return np.log1p(np.exp(x))


def lu_matrices(state, p, features):
    lower, upper = np.eye(features), np.diag(softplus(state[p + 'unconstrained_upper_diag']) + 1e-3)
    lower[np.tril_indices(features, -1)] = state[p + 'lower_entries']
    upper[np.triu_indices(features, 1)] = state[p + 'upper_entries']
    return lower, upper


def shift_net(state, net, x_identity, context, blocks=BLOCKS):
    def bn(h, p):
        return (h - state[p + 'running_mean']) / np.sqrt(state[p + 'running_var'] + BN_EPS) * state[p + 'weight'] + \
            state[p + 'bias']

    def linear(h, p):
        return h @ state[p + 'weight'].T + state[p + 'bias']

    h = linear(np.concatenate([x_identity, context], axis=1), net + 'initial_layer.')
    for b in range(blocks):
        t = linear(np.maximum(bn(h, f'{net}blocks.{b}.batch_norm_layers.0.'), 0), f'{net}blocks.{b}.linear_layers.0.')
        t = linear(np.maximum(bn(t, f'{net}blocks.{b}.batch_norm_layers.1.'), 0), f'{net}blocks.{b}.linear_layers.1.')
        h = h + t
    return linear(h, net + 'final_layer.')


def official_log_prob(state, prefix, x, context, layers=LAYERS):
    """log p(x | context) of the official flow (eval mode), nats."""
    features = x.shape[1]
    logdet = np.zeros(len(x))
    for layer in range(layers):
        a, lu, cp = (f'{prefix}{3 * layer + i}.' for i in range(3))
        x = x * np.exp(state[a + 'log_scale']) + state[a + 'shift']
        logdet += state[a + 'log_scale'].sum()
        lower, upper = lu_matrices(state, lu, features)
        x = x @ (lower @ upper).T + state[lu + 'bias']
        logdet += np.log(np.diag(upper)).sum()
        identity, transform = state[cp + 'identity_features'], state[cp + 'transform_features']
        x = x.copy()
        x[:, transform] += shift_net(state, cp + 'transform_net.', x[:, identity], context)
    return -0.5 * (x**2).sum(1) - 0.5 * features * math.log(2 * math.pi) + logdet


def official_sample(state, prefix, z, context, layers=LAYERS):
    """x = f^-1(z | context) of the official flow (eval mode)."""
    features = z.shape[1]
    x = z.copy()
    for layer in reversed(range(layers)):
        a, lu, cp = (f'{prefix}{3 * layer + i}.' for i in range(3))
        identity, transform = state[cp + 'identity_features'], state[cp + 'transform_features']
        x[:, transform] -= shift_net(state, cp + 'transform_net.', x[:, identity], context)
        lower, upper = lu_matrices(state, lu, features)
        x = np.linalg.solve(lower @ upper, (x - state[lu + 'bias']).T).T
        x = (x - state[a + 'shift']) * np.exp(-state[a + 'log_scale'])
    return x


def pytorch3d_decode(x):
    """pytorch3d's rotation_6d_to_matrix (Gram-Schmidt on the rows), numpy. x (..., 6) -> (..., 3, 3)."""
    a1, a2 = x[..., :3], x[..., 3:]
    b1 = a1 / np.linalg.norm(a1, axis=-1, keepdims=True)
    b2 = a2 - (b1 * a2).sum(-1, keepdims=True) * b1
    b2 = b2 / np.linalg.norm(b2, axis=-1, keepdims=True)
    return np.stack([b1, b2, np.cross(b1, b2)], axis=-2)


@pytest.fixture(scope='module')
def official():
    rng = np.random.default_rng(0)
    joints = FEATURES_POSE // 6
    stackflow = {}
    stackflow.update(official_flow(rng, 'smpl_flow.flow._transform._transforms.', FEATURES_POSE, CONTEXT))
    stackflow.update(official_flow(rng, 'offset_flow.flow._transform._transforms.', RELATION, CONTEXT))
    stackflow['smpl_pose_embedding.weight'] = rng.normal(0, 0.3, (CONTEXT, 6 * joints))
    stackflow['smpl_pose_embedding.bias'] = rng.normal(0, 0.1, CONTEXT)
    stackflow['object_embedding.weight'] = rng.normal(0, 0.5, (NUM_OBJECTS, CONTEXT))
    header = {'init_cam': np.array([0., 0.75, 2.]), 'layers.0.weight': rng.normal(size=(8, CONTEXT)),
              'layers.0.bias': rng.normal(size=8), 'layers.2.weight': rng.normal(size=(13, 8)),
              'layers.2.bias': rng.normal(size=13)}
    backbone = {'9.weight': rng.normal(size=(CONTEXT, 16, 1, 1)), '9.bias': rng.normal(size=CONTEXT)}
    numpy_state = dict(stackflow=stackflow, header=header, backbone=backbone)

    def tensors(d):
        return {k: torch.as_tensor(v) if v.dtype != np.float64 else torch.as_tensor(v, dtype=torch.float64)
                for k, v in d.items()}

    checkpoint = {'epoch': 199, 'optimizer': {}, **{part: tensors(d) for part, d in numpy_state.items()}}
    return numpy_state, checkpoint


def converted_head(checkpoint):
    state = stackflow_to_hoirecon_state(checkpoint)
    head = StackedFlowHead(feature_dim=CONTEXT, num_objects=NUM_OBJECTS, relation_dim=RELATION,
                           num_pose_joints=FEATURES_POSE // 6,
                           flow_cfg=dict(num_layers=LAYERS, hidden_features=HIDDEN, num_blocks_per_layer=BLOCKS,
                                         variant='stackflow'),
                           rot6d_convention='pytorch3d').double()
    head.load_state_dict({k[len('head.'):]: v for k, v in state.items() if k.startswith('head.')}, strict=True)
    return head.eval(), state


def test_converted_flows_reproduce_official_log_prob_and_samples(official):
    numpy_state, checkpoint = official
    head, state = converted_head(checkpoint)
    rng = np.random.default_rng(1)
    batch, joints = 5, FEATURES_POSE // 6
    feature = rng.normal(size=(batch, CONTEXT))
    labels = rng.integers(0, NUM_OBJECTS, batch)
    # official pose numbers: pytorch3d 6D (first two rows) of random rotations, so both conventions describe them
    rotations = np.linalg.qr(rng.normal(size=(batch, joints, 3, 3)))[0]
    rotations *= np.sign(np.linalg.det(rotations))[..., None, None]
    theta = rotations[..., :2, :].reshape(batch, -1)
    relation = rng.normal(size=(batch, RELATION))
    sf = numpy_state['stackflow']
    pose_ref = official_log_prob(sf, 'smpl_flow.flow._transform._transforms.', theta, feature)
    context = feature + sf['object_embedding.weight'][labels] + theta @ sf['smpl_pose_embedding.weight'].T + \
        sf['smpl_pose_embedding.bias']
    relation_ref = official_log_prob(sf, 'offset_flow.flow._transform._transforms.', relation, context)

    t = torch.as_tensor
    pose_6d = matrix_to_rot6d(t(rotations))  # hoirecon's layout of the same rotations
    with torch.no_grad():
        ours = head.log_prob(t(feature), t(labels), pose_6d, t(relation))
        fixed = head.image_conditioned_log_prob(t(feature), t(labels))(pose_6d, t(relation))
    np.testing.assert_allclose(ours['pose'].numpy(), pose_ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours['relation'].numpy(), relation_ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(fixed['relation'].numpy(), relation_ref, rtol=0, atol=1e-6)

    # samples: the same latents through the official inverse, decoded the pytorch3d way
    z_pose, z_rel = rng.normal(size=(batch, FEATURES_POSE)), rng.normal(size=(batch, RELATION))
    theta_sample = official_sample(sf, 'smpl_flow.flow._transform._transforms.', z_pose, feature)
    context = feature + sf['object_embedding.weight'][labels] + theta_sample @ sf['smpl_pose_embedding.weight'].T + \
        sf['smpl_pose_embedding.bias']
    relation_sample = official_sample(sf, 'offset_flow.flow._transform._transforms.', z_rel, context)
    with torch.no_grad():
        flow_x, _ = head.pose_flow.sample(t(feature), z=t(z_pose)[:, None])
        np.testing.assert_allclose(flow_x[:, 0].numpy(), theta_sample, rtol=0, atol=1e-6)
        pose = head.flow_to_pose(flow_x[:, 0])
        rel_x, _ = head.relation_flow.sample(head.relation_context(t(feature), t(labels), flow_x[:, 0]),
                                             z=t(z_rel)[:, None])
    np.testing.assert_allclose(rel_x[:, 0].numpy(), relation_sample, rtol=0, atol=1e-6)
    expected_rotations = pytorch3d_decode(theta_sample.reshape(batch, joints, 6))
    np.testing.assert_allclose(matrix_to_rot6d(t(expected_rotations)).numpy(), pose.numpy(), rtol=0, atol=1e-9)
    # the mode (z = 0) of the head's forward is the official flow at z = 0, decoded the pytorch3d way
    with torch.no_grad():
        mode = head(t(feature), t(labels))
    theta0 = official_sample(sf, 'smpl_flow.flow._transform._transforms.', np.zeros((batch, FEATURES_POSE)), feature)
    np.testing.assert_allclose(mode['pose_6d'].numpy(),
                               matrix_to_rot6d(t(pytorch3d_decode(theta0.reshape(batch, joints, 6)))).numpy(),
                               rtol=0, atol=1e-6)
    # header and backbone: renamed, init_cam reshaped
    assert state['shape_head.init_cam'].shape == (1, 3)
    assert torch.equal(state['backbone.out_proj.weight'], checkpoint['backbone']['9.weight'])


def test_converter_names_unknown_and_missing_entries(official):
    _, checkpoint = official
    with pytest.raises(StackFLOWCheckpointError, match='header'):
        stackflow_to_hoirecon_state({k: v for k, v in checkpoint.items() if k != 'header'})
    bad = dict(checkpoint, stackflow={**checkpoint['stackflow'], 'contact_head.weight': torch.zeros(1)})
    with pytest.raises(StackFLOWCheckpointError, match='contact_head.weight'):
        stackflow_to_hoirecon_state(bad)
    key = 'smpl_flow.flow._transform._transforms.2.identity_features'
    swapped = dict(checkpoint, stackflow={**checkpoint['stackflow'], key: torch.arange(1, FEATURES_POSE, 2)})
    with pytest.raises(StackFLOWCheckpointError, match='split'):
        stackflow_to_hoirecon_state(swapped)
    block = 'smpl_flow.flow._transform._transforms.2.transform_net.blocks.0.context_layer.weight'
    with pytest.raises(StackFLOWCheckpointError, match='context inside its residual'):
        stackflow_to_hoirecon_state(dict(checkpoint, stackflow={**checkpoint['stackflow'], block: torch.zeros(1)}))


def test_paper_size_checkpoint_round_trips_and_matches_official_shapes():
    from hoirecon.models.backbones import ResNet
    from hoirecon.models.heads import CameraShapeHead
    torch.manual_seed(0)
    modules = dict(backbone=ResNet(depth=50, out_channels=2048, init_cfg=None),
                   shape_head=CameraShapeHead(2048, 2048, init_cam_translation=(0., 0.75, 2.)),
                   head=StackedFlowHead(feature_dim=2048, num_objects=20, relation_dim=32,
                                        rot6d_convention='pytorch3d'))
    state = {f'{name}.{k}': v for name, module in modules.items() for k, v in module.state_dict().items()}
    official = hoirecon_to_stackflow_state(state, epoch=3)
    # the official layout as described: positional backbone, 13-output header, nflows names
    assert official['backbone']['0.weight'].shape == (64, 3, 7, 7)
    assert official['backbone']['7.2.conv3.weight'].shape == (2048, 512, 1, 1)
    assert official['backbone']['9.weight'].shape == (2048, 2048, 1, 1)
    assert official['header']['layers.2.weight'].shape == (13, 2048) and official['header']['init_cam'].shape == (3, )
    sf = official['stackflow']
    assert sf['smpl_pose_embedding.weight'].shape == (2048, 132)
    assert sf['object_embedding.weight'].shape == (20, 2048)
    assert sf['smpl_flow.flow._transform._transforms.1.lower_entries'].shape == (132 * 131 // 2, )
    initial = 'offset_flow.flow._transform._transforms.11.transform_net.initial_layer.weight'
    assert sf[initial].shape == (1024, 16 + 2048)
    assert sf['smpl_flow.flow._transform._transforms.5.transform_net.blocks.1.batch_norm_layers.1.running_var'].shape \
        == (1024, )
    assert torch.equal(sf['smpl_flow.flow._transform._transforms.5.identity_features'], torch.arange(1, 132, 2))
    back = stackflow_to_hoirecon_state(official)
    assert set(back) == set(state)
    for key, value in state.items():
        assert torch.equal(back[key], value), key


def offsets_of(anchors, num_human):
    return (anchors[:, None, num_human:] - anchors[:, :num_human, None]).reshape(len(anchors), -1)


def test_pca_pickle_converts_exactly():
    from sklearn.decomposition import PCA
    rng = np.random.default_rng(3)
    num_human, num_object, dim = 22, 8, 5
    vertices = rng.normal(size=(40, 3))
    object_ids = rng.choice(40, num_object, replace=False)
    basis = rng.normal(size=(7, 3 * (num_human + num_object)))
    anchors = (rng.normal(size=(60, 7)) @ basis + rng.normal(size=basis.shape[1])).reshape(60, -1, 3)
    anchors += rng.normal(0, 0.01, anchors.shape)
    pca = PCA(n_components=dim).fit(offsets_of(anchors[:50], num_human))
    # float64 here, to check exactness; an official float32 pickle differs from range(M) by its rounding (~1e-7 m)
    pickle_dict = {'box': {'mean': pca.mean_, 'components': pca.components_,
                           'smpl_anchor_indices': np.arange(num_human).reshape(22, 1),
                           'object_anchor_indices': object_ids}}
    pickle_dict = pickle.loads(pickle.dumps(pickle_dict))
    arrays = stackflow_pca_to_arrays(pickle_dict, ['chair', 'box'], {'box': vertices}, dataset='behave',
                                     body_model_type='SMPLH', gender='male', anchor_radius=0.02)
    assert arrays['num_samples'].tolist() == [0, 1]
    mean = pickle_dict['box']['mean'].astype(np.float64)
    components = pickle_dict['box']['components'].astype(np.float64)
    held_out = anchors[50:].reshape(10, -1)
    gamma = (held_out - arrays['mean_y'][1]) @ arrays['encode_basis'][1].T
    np.testing.assert_allclose(gamma, (offsets_of(anchors[50:], num_human) - mean) @ components.T, atol=1e-9)
    decoded = (arrays['mean_y'][1] + gamma @ arrays['decode_basis'][1].T).reshape(10, -1, 3)
    np.testing.assert_allclose(offsets_of(decoded, num_human), mean + gamma @ components, atol=1e-9)
    np.testing.assert_allclose(arrays['object_anchor_points'][1], vertices[object_ids])
    buffers = relation_encoder_state(arrays)
    assert buffers['relation_encoder.mean_y'].dtype == torch.float64 and len(buffers) == 6
    with pytest.raises(StackFLOWCheckpointError, match='unknown'):
        stackflow_pca_to_arrays({'lamp': pickle_dict['box']}, ['chair', 'box'], {}, 'behave', 'SMPLH', 'male', 0.02)


def test_tool_writes_a_checkpoint_the_official_config_loads_strictly(tmp_path, surrogate_body_root):
    """End to end: official file + PCA pickle -> tool -> weights-only load into configs/stackflow_behave_official.py."""
    from mmengine.config import Config

    import hoirecon.models  # noqa: F401  (registers the modules)
    from hoirecon.objects import ObjectLibrary
    from hoirecon.registry import MODELS
    from tools.model_converters import stackflow_to_hoirecon as tool
    torch.manual_seed(0)
    cfg = Config.fromfile('configs/stackflow_behave_official.py')
    cfg.model.body_model = dict(type='SMPLH', model_path='surrogate', gender='male')
    cfg.model.relation_encoder.pca_file = str(tmp_path / 'absent.npz')
    model = MODELS.build(cfg.model)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith('relation_encoder.')}
    official_file, pca_file = tmp_path / 'official.pth', tmp_path / 'pca.pkl'
    torch.save(hoirecon_to_stackflow_state(state, epoch=199), official_file)
    rng = np.random.default_rng(0)
    library = ObjectLibrary('behave')
    name = library.names[3]
    ids = library[name].anchor_indices(64, 0.02, 7)
    with open(pca_file, 'wb') as f:
        pickle.dump({name: {'mean': rng.normal(size=704 * 64 * 3).astype(np.float32),
                            'components': np.linalg.qr(rng.normal(size=(704 * 64 * 3, 32)))[0].T.astype(np.float32),
                            'smpl_anchor_indices': np.arange(704).reshape(22, 32),
                            'object_anchor_indices': ids}}, f)
    out = tmp_path / 'converted.pth'
    tool.main([str(official_file), str(out), '--pca', str(pca_file), '--dataset', 'behave', '--template-dir',
               'procedural', '--pca-out', str(tmp_path / 'pca.npz')])
    saved = torch.load(out, map_location='cpu', weights_only=True)
    assert saved['meta']['epoch'] == 199 and saved['meta']['config'] == 'configs/stackflow_behave_official.py'
    fresh = MODELS.build(cfg.model)
    fresh.load_state_dict(saved['state_dict'], strict=True)
    for key, value in state.items():
        assert torch.equal(fresh.state_dict()[key], value), key
    label = library.names.index(name)
    assert fresh.relation_encoder.num_samples.tolist() == [int(i == label) for i in range(len(library.names))]
    # the written .npz is the same PCA, readable by the encoder
    cfg.model.relation_encoder.pca_file = str(tmp_path / 'pca.npz')
    from_file = MODELS.build(cfg.model)
    assert torch.equal(from_file.relation_encoder.encode_basis, fresh.relation_encoder.encode_basis)


@pytest.mark.parametrize('paper', ['stackflow_behave', 'stackflow_behave_extended', 'stackflow_intercap'])
def test_each_paper_config_has_an_official_twin(paper):
    """configs/<paper>_official.py is its paper config with only the official checkpoint's conventions changed (input
    normalisation, pytorch3d 6D layout, the converted PCA in a folder of its own, no backbone initialisation)."""
    from mmengine.config import Config
    base = Config.fromfile(f'configs/{paper}.py')
    official = Config.fromfile(f'configs/{paper}_official.py')
    assert official.model.head.rot6d_convention == 'pytorch3d'
    assert official.model.data_preprocessor.std == [0.229, 0.224, 0.225]
    assert official.model.relation_encoder.missing_file == 'checkpoint'
    assert official.pca_file != base.pca_file and official.pca_file.startswith(base.data_root)
    assert official.model.relation_encoder.pca_file == official.pca_file
    for key in ('init_cam', 'body_model', 'img_size', 'data_root'):
        assert official[key] == base[key], key
    assert official.model.head.num_objects == base.model.head.num_objects
    assert official.test_evaluator == base.test_evaluator
