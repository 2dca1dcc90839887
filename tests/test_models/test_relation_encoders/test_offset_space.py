"""The anchor-space PCA equals sklearn's PCA on StackFLOW's full flattened offsets."""
import numpy as np
import pytest
from sklearn.decomposition import PCA

from hoirecon.models.relation_encoders import (fit_anchor_space_pca, isometric_basis, offset_gram_matrix,
                                               pairwise_offsets)


def offset_matrix(num_human, num_object):
    """Explicit M with x = M y: x_ij = o_j - h_i, y = [h; o] point-major, x ordered (i, j, c)."""
    size = num_human + num_object
    m = np.zeros((num_human, num_object, 3, size, 3))
    for i in range(num_human):
        for j in range(num_object):
            m[i, j, :, num_human + j, :] += np.eye(3)
            m[i, j, :, i, :] -= np.eye(3)
    return m.reshape(num_human * num_object * 3, size * 3)


def test_gram_matrix_is_mtm_and_isometric_coordinates_preserve_offset_distances():
    num_human, num_object = 5, 3
    m = offset_matrix(num_human, num_object)
    np.testing.assert_allclose(np.kron(offset_gram_matrix(num_human, num_object), np.eye(3)), m.T @ m)
    eigvecs, sqrt_eig = isometric_basis(num_human, num_object)
    assert eigvecs.shape == (8, 7)
    np.testing.assert_allclose(eigvecs.T @ eigvecs, np.eye(7), atol=1e-12)
    gram = offset_gram_matrix(num_human, num_object)
    np.testing.assert_allclose(gram @ eigvecs, eigvecs * sqrt_eig**2, atol=1e-12)
    np.testing.assert_allclose(np.sort(sqrt_eig**2), np.linalg.eigvalsh(gram)[1:], atol=1e-12)  # only 0 left out
    y = np.random.default_rng(1).normal(size=(4, 8, 3))
    u = (y.transpose(0, 2, 1) @ (eigvecs * sqrt_eig)).reshape(4, -1)
    x = pairwise_offsets(y[:, :num_human], y[:, num_human:]).reshape(4, -1)
    np.testing.assert_allclose(x, y.reshape(4, -1) @ m.T)
    np.testing.assert_allclose(np.linalg.norm(u[1:] - u[0], axis=1), np.linalg.norm(x[1:] - x[0], axis=1))


def test_anchor_space_pca_equals_sklearn_pca_on_full_offsets(make_anchor_samples):
    rng = np.random.default_rng(0)
    num_human, pca_dim = 12, 6  # 3 parts x 4 anchors, 8 object anchors
    _, _, _, anchors = make_anchor_samples(rng, rng.normal(scale=0.2, size=(8, 3)), 60, num_human)
    x = pairwise_offsets(anchors[:, :num_human], anchors[:, num_human:]).reshape(60, -1)
    train, held_out = slice(0, 50), slice(50, 60)
    reference = PCA(n_components=pca_dim, svd_solver='full').fit(x[train])
    fit = fit_anchor_space_pca(anchors[train], num_human, pca_dim)

    assert int(fit['num_components']) == pca_dim
    np.testing.assert_allclose(fit['explained_variance'], reference.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(fit['explained_variance_ratio'], reference.explained_variance_ratio_, rtol=1e-9)
    y = anchors[held_out].reshape(10, -1)
    gamma = (y - fit['mean_y']) @ fit['encode_basis'].T
    gamma_ref = reference.transform(x[held_out])
    signs = np.sign((gamma * gamma_ref).sum(axis=0))
    np.testing.assert_allclose(gamma * signs, gamma_ref, rtol=1e-6, atol=1e-9 * np.abs(gamma_ref).max())

    decoded = (fit['mean_y'] + gamma @ fit['decode_basis'].T).reshape(10, -1, 3)
    x_hat = pairwise_offsets(decoded[:, :num_human], decoded[:, num_human:]).reshape(10, -1)
    x_hat_ref = reference.inverse_transform(gamma_ref)
    assert np.linalg.norm(x_hat - x_hat_ref) <= 1e-6 * np.linalg.norm(x_hat_ref)
    # the PCA mean of x is the offsets of mean_y; a common shift of all anchors does not change gamma
    mean = fit['mean_y'].reshape(-1, 3)
    np.testing.assert_allclose(pairwise_offsets(mean[:num_human], mean[num_human:]).reshape(-1),
                               reference.mean_,
                               atol=1e-12)
    shifted = (anchors[held_out] + np.array([1.0, -2.0, 0.5])).reshape(10, -1)
    np.testing.assert_allclose((shifted - fit['mean_y']) @ fit['encode_basis'].T, gamma, atol=1e-10)


@pytest.mark.parametrize('num_samples, expected', [(4, 3), (1, 0)])
def test_few_samples_give_fewer_components_padded_with_zeros(num_samples, expected, make_anchor_samples):
    rng = np.random.default_rng(2)
    _, _, _, anchors = make_anchor_samples(rng, rng.normal(scale=0.2, size=(8, 3)), num_samples, 12)
    fit = fit_anchor_space_pca(anchors, 12, pca_dim=5)
    assert int(fit['num_components']) == expected
    assert fit['decode_basis'].shape == (60, 5) and fit['encode_basis'].shape == (5, 60)
    assert not fit['decode_basis'][:, expected:].any() and not fit['encode_basis'][expected:].any()
    assert not fit['explained_variance'][expected:].any()
    # every training sample lies in the span: encode -> decode reproduces its offsets
    y = anchors.reshape(num_samples, -1)
    decoded = (fit['mean_y'] + (y - fit['mean_y']) @ fit['encode_basis'].T @ fit['decode_basis'].T)
    decoded = decoded.reshape(num_samples, -1, 3)
    np.testing.assert_allclose(pairwise_offsets(decoded[:, :12], decoded[:, 12:]),
                               pairwise_offsets(anchors[:, :12], anchors[:, 12:]),
                               atol=1e-10)


def test_bad_anchor_shapes_raise():
    with pytest.raises(ValueError, match='anchors must have shape'):
        fit_anchor_space_pca(np.zeros((5, 20)), 12, 4)
    with pytest.raises(ValueError, match='0 < A=20'):
        fit_anchor_space_pca(np.zeros((5, 20, 3)), 20, 4)
