import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hoirecon.evaluation.functional import (PointMoments, merge_moments, point_moments, similarity_procrustes,
                                            window_index, windowed_similarity_procrustes)


def reference_umeyama(src: np.ndarray, dst: np.ndarray):
    """Per-pair numpy similarity fit (centre, SVD of the cross-covariance, sign fix)."""
    mu_src, mu_dst = src.mean(0), dst.mean(0)
    a, b = src - mu_src, dst - mu_dst
    u, _, vt = np.linalg.svd(a.T @ b)
    fix = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = vt.T @ fix @ u.T
    scale = np.trace(rotation @ a.T @ b) / (a**2).sum()
    translation = mu_dst - scale * rotation @ mu_src
    return scale, rotation, translation


def test_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(4, 50, 3))
    rotations = Rotation.random(4, random_state=1).as_matrix()
    scales, shifts = rng.uniform(0.5, 2, 4), rng.normal(size=(4, 3))
    dst = scales[:, None, None] * src @ rotations.transpose(0, 2, 1) + shifts[:, None]
    aligned, transform = similarity_procrustes(src, dst)
    np.testing.assert_allclose(aligned, dst, atol=1e-10)
    np.testing.assert_allclose(transform.scale.numpy(), scales, rtol=1e-10)
    np.testing.assert_allclose(transform.rotation.numpy(), rotations, atol=1e-10)
    np.testing.assert_allclose(transform.translation.numpy(), shifts, atol=1e-10)


def test_matches_the_per_pair_reference_on_noisy_points():
    rng = np.random.default_rng(2)
    src = rng.normal(size=(5, 30, 3))
    dst = src @ Rotation.random(random_state=3).as_matrix().T * 1.3 + rng.normal(scale=0.3, size=(5, 30, 3))
    aligned, transform = similarity_procrustes(torch.tensor(src), torch.tensor(dst))
    assert isinstance(aligned, torch.Tensor)
    for i in range(5):
        scale, rotation, translation = reference_umeyama(src[i], dst[i])
        assert transform.scale[i].item() == pytest.approx(scale, rel=1e-10)
        np.testing.assert_allclose(transform.rotation[i].numpy(), rotation, atol=1e-10)
        np.testing.assert_allclose(aligned[i].numpy(), scale * src[i] @ rotation.T + translation, atol=1e-10)


def test_reflection_is_fixed():
    rng = np.random.default_rng(4)
    src = rng.normal(size=(40, 3))
    mirrored = src * [-1, 1, 1]  # best orthogonal map is a reflection; a rotation must be returned
    _, transform = similarity_procrustes(src, mirrored)
    assert torch.linalg.det(transform.rotation[0]).item() == pytest.approx(1.0)
    scale, rotation, _ = reference_umeyama(src, mirrored)
    np.testing.assert_allclose(transform.rotation[0].numpy(), rotation, atol=1e-10)


def test_mask_ignores_padding_and_unbatched_shapes():
    rng = np.random.default_rng(5)
    src, dst = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    aligned, _ = similarity_procrustes(src, dst)
    assert aligned.shape == (20, 3)
    padded_src = np.concatenate([src, rng.normal(size=(7, 3)) * 100])[None]
    padded_dst = np.concatenate([dst, rng.normal(size=(7, 3)) * 100])[None]
    mask = np.arange(27)[None] < 20
    aligned_padded, _ = similarity_procrustes(padded_src, padded_dst, mask)
    np.testing.assert_allclose(aligned_padded[0, :20], aligned, atol=1e-12)


def test_merged_moments_equal_those_of_the_union():
    rng = np.random.default_rng(6)
    a_src, a_dst = rng.normal(size=(2, 30, 3)) + 3, rng.normal(size=(2, 30, 3))
    b_src, b_dst = rng.normal(size=(2, 12, 3)) - 1, rng.normal(size=(2, 12, 3)) * 2
    parts = [point_moments(a_src, a_dst), point_moments(b_src, b_dst)]
    stacked = PointMoments(*(torch.stack(pair, dim=1) for pair in zip(*parts)))
    merged = merge_moments(stacked)
    union = point_moments(np.concatenate([a_src, b_src], 1), np.concatenate([a_dst, b_dst], 1))
    for got, want in zip(merged, union):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    only_first = merge_moments(stacked, torch.tensor([[True, False], [True, False]]))
    for got, want in zip(only_first, parts[0]):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_degenerate_source_maps_to_the_target_mean():
    dst = np.random.default_rng(7).normal(size=(10, 3))
    aligned, transform = similarity_procrustes(np.ones((10, 3)), dst)
    assert transform.scale.item() == 0
    np.testing.assert_allclose(aligned, np.broadcast_to(dst.mean(0), (10, 3)), atol=1e-12)


def test_window_index_conventions():
    index, valid = window_index(5, 2, 'sliding')
    assert index.tolist() == [[0, 1], [1, 2], [2, 3], [3, 4], [4, 4]]
    assert valid.tolist() == [[True, True]] * 4 + [[True, False]]
    index, valid = window_index(5, 2, 'chunk')
    assert index.tolist() == [[0, 1], [0, 1], [2, 3], [2, 3], [4, 4]]
    assert valid[-1].tolist() == [True, False]
    with pytest.raises(ValueError, match='window mode'):
        window_index(5, 2, 'centred')


@pytest.mark.parametrize('mode', ['sliding', 'chunk'])
def test_windowed_alignment_fits_on_the_window_frames(mode):
    rng = np.random.default_rng(8)
    src, dst = rng.normal(size=(7, 15, 3)), rng.normal(size=(7, 15, 3))
    aligned, transforms = windowed_similarity_procrustes(src, dst, window=3, mode=mode)
    for frame in range(7):
        start = frame if mode == 'sliding' else frame // 3 * 3
        frames = range(start, min(start + 3, 7))
        scale, rotation, translation = reference_umeyama(np.concatenate(src[frames]), np.concatenate(dst[frames]))
        assert transforms.scale[frame].item() == pytest.approx(scale, rel=1e-10)
        np.testing.assert_allclose(aligned[frame], scale * src[frame] @ rotation.T + translation, atol=1e-10)
    per_frame, _ = windowed_similarity_procrustes(src, dst, window=1, mode=mode)
    np.testing.assert_allclose(per_frame, similarity_procrustes(src, dst)[0], atol=1e-12)
