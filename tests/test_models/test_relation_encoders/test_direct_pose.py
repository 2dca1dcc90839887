"""DirectRelativePose: the 9-D baseline latent."""
import numpy as np
import pytest
import torch

from hoirecon.models.relation_encoders import DirectRelativePose
from hoirecon.registry import RELATION_ENCODERS


def test_round_trip_is_exact_and_the_latent_is_6d_plus_scaled_translation(make_random_rotations):
    enc = RELATION_ENCODERS.build(dict(type='DirectRelativePose', translation_scale=0.5))
    rel_R = torch.as_tensor(make_random_rotations(np.random.default_rng(0), 5))
    rel_t = torch.tensor([[0.2, -0.4, 1.0]], dtype=torch.float64).repeat(5, 1)
    labels = torch.arange(5)
    latent = enc.encode(rel_R, rel_t, labels, None)
    assert enc.latent_dim == 9 and latent.shape == (5, 9)
    torch.testing.assert_close(latent[:, :6].reshape(5, 3, 2), rel_R[:, :, :2])  # first two columns
    torch.testing.assert_close(latent[:, 6:], rel_t / 0.5)
    dec_R, dec_t = enc.decode(latent, labels, None)
    torch.testing.assert_close(dec_R, rel_R, rtol=0, atol=1e-12)
    torch.testing.assert_close(dec_t, rel_t, rtol=0, atol=1e-15)
    assert enc.human_anchor_indices.numel() == 0 and enc.human_anchor_indices.dtype == torch.long
    assert enc.offsets(latent, labels) is None and enc.gt_offsets(rel_R, rel_t, labels, None) is None


def test_decode_orthonormalises_raw_outputs_and_passes_gradients():
    enc = DirectRelativePose(translation_scale=2.0)
    latent = torch.tensor([[2.0, 0.1, 0.0, 3.0, 0.0, 0.2, 0.5, 0.0, -1.0]], requires_grad=True)
    dec_R, dec_t = enc.decode(latent, torch.zeros(1, dtype=torch.long))
    torch.testing.assert_close(dec_R[0] @ dec_R[0].T, torch.eye(3), atol=1e-6, rtol=0)
    assert torch.det(dec_R[0]) > 0
    torch.testing.assert_close(dec_t, torch.tensor([[1.0, 0.0, -2.0]]))
    (dec_R.sum() + dec_t.sum()).backward()
    assert torch.isfinite(latent.grad).all() and latent.grad[0, 6:].eq(2.0).all()


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='translation_scale must be > 0'):
        DirectRelativePose(translation_scale=0)
    enc = DirectRelativePose()
    with pytest.raises(ValueError, match=r'latent must have shape \(\*, 9\)'):
        enc.decode(torch.zeros(2, 6), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r'rel_t must have shape \(2, 3\)'):
        enc.encode(torch.eye(3).expand(2, 3, 3), torch.zeros(3, 3), torch.zeros(2, dtype=torch.long))
