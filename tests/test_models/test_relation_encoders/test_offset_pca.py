"""OffsetPCA: exact against sklearn on the full offsets, exact rigid decode, gradients, file checks."""
import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from hoirecon.models.relation_encoders import (OffsetPCA, OffsetPCAFileError, fit_anchor_space_pca, load_offset_pca,
                                               pairwise_offsets, save_offset_pca)
from hoirecon.models.utils import rigid_fit
from hoirecon.registry import RELATION_ENCODERS


def build(problem, **overrides):
    kwargs = dict(smpl_anchor_num=problem['per_part'], object_anchor_num=8, pca_dim=problem['pca_dim'])
    kwargs.update(overrides)
    return OffsetPCA(problem['path'], **kwargs)


def held_out_batch(problem):
    """Held-out samples of objects 'a' and 'b' interleaved in one batch (float64 tensors)."""
    order = [('a', 50), ('b', 50), ('b', 51), ('a', 51), ('a', 52), ('b', 59)]
    labels = torch.tensor([problem['names'].index(name) for name, _ in order])

    def stack(key):
        return torch.as_tensor(np.stack([problem['data'][name][key][i] for name, i in order]))

    return order, labels, stack('rel_R'), stack('rel_t'), stack('human')


def test_mixed_batch_matches_sklearn_pca_of_the_full_offsets(small_problem):
    enc = build(small_problem)
    order, labels, rel_R, rel_t, human = held_out_batch(small_problem)
    gamma = enc.encode(rel_R, rel_t, labels, human)
    offsets = enc.offsets(gamma, labels)
    assert gamma.shape == (6, 5) and offsets.shape == (6, 12, 8, 3) and enc.latent_dim == 5
    gt = enc.gt_offsets(rel_R, rel_t, labels, human)
    for row, (name, index) in enumerate(order):
        data = small_problem['data'][name]
        x_train = pairwise_offsets(data['anchors'][:50, :12], data['anchors'][:50, 12:]).reshape(50, -1)
        reference = PCA(n_components=5, svd_solver='full').fit(x_train)
        x = pairwise_offsets(data['anchors'][index, :12], data['anchors'][index, 12:]).reshape(1, -1)
        np.testing.assert_allclose(gt[row].reshape(1, -1).numpy(), x, atol=1e-12)
        gamma_ref = reference.transform(x)[0]
        np.testing.assert_allclose(np.abs(gamma[row].numpy()), np.abs(gamma_ref), rtol=1e-6, atol=1e-9)
        x_hat = reference.inverse_transform(gamma_ref[None])[0]
        assert np.linalg.norm(offsets[row].reshape(-1).numpy() - x_hat) <= 1e-6 * np.linalg.norm(x_hat)


def test_decode_equals_brute_force_rigid_fit_over_all_704x64_pairs(tmp_path, make_anchor_samples, small_problem):
    """Full StackFLOW size: the K-point decode solves the same Kabsch problem as the A*K-pair one."""
    rng = np.random.default_rng(3)
    template = rng.normal(scale=0.2, size=(64, 3))
    _, _, _, anchors = make_anchor_samples(rng, template, 12, 704)
    fit = dict(fit_anchor_space_pca(anchors, 704, 8), num_samples=12)
    arrays = dict(load_offset_pca(small_problem['path']))  # reuse the metadata, replace the arrays
    arrays.update(object_names=np.array(['obj']),
                  human_anchor_indices=np.arange(704),
                  smpl_anchor_num=np.int64(32),
                  num_body_parts=np.int64(22),
                  object_anchor_num=np.int64(64),
                  pca_dim=np.int64(8),
                  object_anchor_indices=np.arange(64)[None],
                  object_anchor_points=template[None],
                  num_samples=np.array([12]))
    for key in ('mean_y', 'decode_basis', 'encode_basis', 'explained_variance', 'explained_variance_ratio',
                'num_components'):
        arrays[key] = np.asarray(fit[key])[None]
    enc = OffsetPCA(save_offset_pca(tmp_path / 'full.npz', arrays), pca_dim=8)

    labels = torch.zeros(2, dtype=torch.long)
    latent = torch.as_tensor(rng.normal(size=(2, 8)) * np.sqrt(fit['explained_variance']))
    human = torch.as_tensor(anchors[:2, :704] + rng.normal(scale=0.03, size=(2, 704, 3)))
    rel_R, rel_t = enc.decode(latent, labels, human)
    targets = human[:, :, None] + enc.offsets(latent, labels)  # P_ij = h_i + x_hat_ij, (2, 704, 64, 3)
    sources = torch.as_tensor(template).expand(2, 704, 64, 3)  # Q_ij = v_j
    brute_R, brute_t = rigid_fit(targets.reshape(2, -1, 3), sources.reshape(2, -1, 3))
    torch.testing.assert_close(rel_R, brute_R, rtol=0, atol=1e-10)
    torch.testing.assert_close(rel_t, brute_t, rtol=0, atol=1e-10)


def test_round_trip_of_training_samples_and_float32(small_problem, tmp_path):
    """With pca_dim = rank of the training set, encode -> decode recovers every training pose."""
    arrays = dict(load_offset_pca(small_problem['path']))
    data = small_problem['data']['a']
    fit = fit_anchor_space_pca(data['anchors'][:6], 12, 5)  # 6 samples: rank 5 = pca_dim
    for key, value in fit.items():
        arrays[key] = arrays[key].copy()
        arrays[key][0] = value
    enc = build(dict(small_problem, path=save_offset_pca(tmp_path / 'rank.npz', arrays)))
    labels = torch.zeros(6, dtype=torch.long)
    rel_R, rel_t, human = (torch.as_tensor(data[key][:6]) for key in ('rel_R', 'rel_t', 'human'))
    dec_R, dec_t = enc.decode(enc.encode(rel_R, rel_t, labels, human), labels, human)
    torch.testing.assert_close(dec_R, rel_R, rtol=0, atol=1e-9)
    torch.testing.assert_close(dec_t, rel_t, rtol=0, atol=1e-9)
    dec_R32, dec_t32 = enc.decode(enc.encode(rel_R.float(), rel_t.float(), labels, human.float()), labels,
                                  human.float())
    assert dec_R32.dtype == torch.float32 and dec_t32.dtype == torch.float32
    torch.testing.assert_close(dec_R32, rel_R.float(), rtol=0, atol=1e-4)
    torch.testing.assert_close(dec_t32, rel_t.float(), rtol=0, atol=1e-4)


def test_gradients_flow_through_decode_and_offsets(small_problem):
    enc = build(small_problem)
    _, labels, rel_R, rel_t, human = held_out_batch(small_problem)
    latent = enc.encode(rel_R, rel_t, labels, human).detach().requires_grad_(True)
    human = human.clone().requires_grad_(True)
    dec_R, dec_t = enc.decode(latent, labels, human)
    weights = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    ((dec_R @ weights).sum() + dec_t.square().sum() + enc.offsets(latent, labels).abs().sum()).backward()
    assert torch.isfinite(latent.grad).all() and latent.grad.abs().sum() > 0
    assert torch.isfinite(human.grad).all() and human.grad.abs().sum() > 0

    def decoded_translation(z):
        return enc.decode(z, labels[:2], human[:2].detach())[1]

    assert torch.autograd.gradcheck(decoded_translation, (latent[:2].detach().clone().requires_grad_(True), ))


def test_buffers_are_persistent_and_the_registry_builds_it(small_problem):
    enc = RELATION_ENCODERS.build(
        dict(type='OffsetPCA', pca_file=small_problem['path'], smpl_anchor_num=4, object_anchor_num=8, pca_dim=5))
    assert isinstance(enc, OffsetPCA)
    state = enc.state_dict()
    assert {'human_anchor_indices', 'mean_y', 'decode_basis', 'encode_basis', 'object_anchor_points'} <= set(state)
    assert enc.human_anchor_indices.dtype == torch.long and enc.human_anchor_indices.shape == (12, )
    other = build(small_problem)
    other.mean_y.zero_()
    other.load_state_dict(state)
    torch.testing.assert_close(other.mean_y, enc.mean_y)


def test_file_is_pickle_free_and_mismatches_name_the_file(small_problem, tmp_path):
    with np.load(small_problem['path'], allow_pickle=False) as data:
        assert data['object_names'].dtype.kind == 'U' and data['encode_basis'].shape == (3, 5, 3 * 20)
    with pytest.raises(ValueError, match=r'small_pca\.npz was fitted with pca_dim=5.*pca_dim=32'):
        build(small_problem, pca_dim=32)
    with pytest.raises(ValueError, match='object_anchor_num=8'):
        build(small_problem, object_anchor_num=64)
    with pytest.raises(FileNotFoundError, match='fit_relation_pca.py'):
        OffsetPCA(tmp_path / 'missing.npz', pca_dim=5)
    arrays = dict(load_offset_pca(small_problem['path']))
    arrays['decode_basis'] = arrays['decode_basis'][:, :, :4]
    np.savez(tmp_path / 'bad_shape.npz', **arrays)
    with pytest.raises(OffsetPCAFileError, match=r'bad_shape\.npz: decode_basis has shape'):
        load_offset_pca(tmp_path / 'bad_shape.npz')
    arrays = dict(load_offset_pca(small_problem['path']), object_names=np.array(['a', 'b', None], dtype=object))
    np.savez(tmp_path / 'pickled.npz', **arrays)
    with pytest.raises(OffsetPCAFileError, match='pickled.npz'):
        load_offset_pca(tmp_path / 'pickled.npz')
    (tmp_path / 'garbage.npz').write_bytes(b'not a zip file')
    with pytest.raises(OffsetPCAFileError, match='garbage.npz'):
        load_offset_pca(tmp_path / 'garbage.npz')


def test_bad_labels_and_shapes_raise(small_problem):
    enc = build(small_problem)
    _, labels, rel_R, rel_t, human = held_out_batch(small_problem)
    with pytest.raises(ValueError, match=r"\[2\] \(\['c'\]\) have no PCA"):
        enc.encode(rel_R, rel_t, torch.full_like(labels, 2), human)
    with pytest.raises(ValueError, match='out of range'):
        enc.decode(torch.zeros(6, 5, dtype=torch.float64), torch.full_like(labels, 7), human)
    with pytest.raises(ValueError, match='must be integers'):
        enc.offsets(torch.zeros(6, 5), labels.float())
    with pytest.raises(ValueError, match=r'human_anchors must have shape \(6, 12, 3\)'):
        enc.encode(rel_R, rel_t, labels, human[:, :10])
    with pytest.raises(ValueError, match=r'latent must have shape \(\*, 5\)'):
        enc.decode(torch.zeros(6, 4), labels, human)


def test_decoding_an_object_without_pca_gives_nan_for_that_sample_only(small_problem):
    enc = build(small_problem)
    _, labels, rel_R, rel_t, human = held_out_batch(small_problem)
    mixed = labels.clone()
    mixed[0] = 2  # 'c' has no training sample
    with pytest.warns(UserWarning, match="no PCA for \\['c'\\]"):
        dec_R, dec_t = enc.decode(enc.encode(rel_R, rel_t, labels, human), mixed, human)
    assert torch.isnan(dec_R[0]).all() and torch.isnan(dec_t[0]).all()
    assert torch.isfinite(dec_R[1:]).all() and torch.isfinite(dec_t[1:]).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_cuda_matches_cpu(small_problem):
    enc = build(small_problem)
    _, labels, rel_R, rel_t, human = held_out_batch(small_problem)
    latent = enc.encode(rel_R, rel_t, labels, human)
    cuda = build(small_problem).cuda()
    latent_cuda = cuda.encode(rel_R.cuda(), rel_t.cuda(), labels.cuda(), human.cuda())
    torch.testing.assert_close(latent_cuda.cpu(), latent)
    for got, expected in zip(cuda.decode(latent_cuda, labels.cuda(), human.cuda()), enc.decode(latent, labels, human)):
        torch.testing.assert_close(got.cpu(), expected)


def test_missing_file_can_take_the_pca_from_a_checkpoint(small_problem, tmp_path):
    """A shared checkpoint carries the whole PCA: with missing_file='checkpoint' the file is not needed."""
    enc = build(small_problem).double()
    missing = str(tmp_path / 'not_here.npz')
    kwargs = dict(pca_dim=enc.latent_dim, smpl_anchor_num=enc.metadata['smpl_anchor_num'],
                  object_anchor_num=enc.metadata['object_anchor_num'])
    with pytest.raises(FileNotFoundError, match='fit_relation_pca.py'):
        OffsetPCA(missing, **kwargs)
    restored = OffsetPCA(missing, missing_file='checkpoint', **kwargs)
    _, labels, rel_R, rel_t, human = held_out_batch(small_problem)
    with pytest.raises(RuntimeError, match='no checkpoint with the PCA was loaded'):
        restored.encode(rel_R, rel_t, labels, human)
    restored.load_state_dict(enc.state_dict())
    assert not restored.awaiting_checkpoint and restored.num_human_anchors == enc.num_human_anchors
    latent = enc.encode(rel_R, rel_t, labels, human)
    torch.testing.assert_close(restored.encode(rel_R, rel_t, labels, human), latent, rtol=0, atol=0)
    for got, expected in zip(restored.decode(latent, labels, human), enc.decode(latent, labels, human)):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match='missing_file'):
        OffsetPCA(missing, missing_file='ignore', **kwargs)


def test_eval_mode_encodes_per_object_with_the_same_numbers_and_gradients(small_problem):
    enc = build(small_problem)
    order, labels, rel_R, rel_t, human = held_out_batch(small_problem)  # objects a and b interleaved
    for rows in (torch.arange(6), torch.tensor([1, 2, 5])):  # two objects; one object only
        t_train = rel_t[rows].clone().requires_grad_(True)
        t_eval = rel_t[rows].clone().requires_grad_(True)
        gamma_train = enc.train().encode(rel_R[rows], t_train, labels[rows], human[rows])
        gamma_eval = enc.eval().encode(rel_R[rows], t_eval, labels[rows], human[rows])
        np.testing.assert_allclose(gamma_eval.detach().numpy(), gamma_train.detach().numpy(), atol=1e-12)
        weights = torch.randn(gamma_train.shape, dtype=gamma_train.dtype)
        (gamma_train * weights).sum().backward()
        (gamma_eval * weights).sum().backward()
        np.testing.assert_allclose(t_eval.grad.numpy(), t_train.grad.numpy(), atol=1e-12)
