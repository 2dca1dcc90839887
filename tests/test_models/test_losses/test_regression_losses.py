"""L1Loss / MSELoss and the shared weighted reduction, against hand-computed numbers."""
import numpy as np
import pytest
import torch

from hoirecon.models.losses import L1Loss, MSELoss
from hoirecon.registry import LOSSES


def test_registered():
    assert isinstance(LOSSES.build(dict(type='L1Loss', loss_weight=0.1)), L1Loss)
    loss = LOSSES.build(dict(type='MSELoss', loss_weight=0.005, reduction='sum_per_batch'))
    assert isinstance(loss, MSELoss) and loss.loss_weight == 0.005 and loss.reduction == 'sum_per_batch'


def test_l1_reductions_and_loss_weight():
    pred = torch.tensor([[1., -2.], [3., 5.]])
    target = torch.zeros(2, 2)
    assert L1Loss()(pred, target).item() == pytest.approx((1 + 2 + 3 + 5) / 4)
    assert L1Loss(reduction='sum_per_batch')(pred, target).item() == pytest.approx(11 / 2)
    assert L1Loss(loss_weight=0.5)(pred, target).item() == pytest.approx(0.5 * 11 / 4)


def test_mse_sum_per_batch_on_betas():
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(4, 10)), rng.normal(size=(4, 10))
    loss = MSELoss(loss_weight=0.005, reduction='sum_per_batch')(torch.from_numpy(pred), torch.from_numpy(target))
    assert loss.item() == pytest.approx(0.005 * ((pred - target)**2).sum() / 4, rel=1e-12)
    assert MSELoss()(torch.from_numpy(pred), torch.from_numpy(target)).item() == pytest.approx(
        ((pred - target)**2).mean(), rel=1e-12)


def test_keypoint_weights_ignore_padded_entries():
    """(B, N) weights on (B, N, 2) keypoints: padded keypoints with any finite junk contribute nothing."""
    rng = np.random.default_rng(1)
    pred, target = rng.normal(size=(2, 4, 2)), rng.normal(size=(2, 4, 2))
    weight = np.array([[1.0, 0.5, 0.0, 0.0], [2.0, 1.0, 1.0, 0.0]])
    junk_target = target.copy()
    junk_target[weight == 0] = 1e6
    error = np.abs(pred - target) * weight[..., None]
    l1 = L1Loss()
    mean = l1(torch.from_numpy(pred), torch.from_numpy(junk_target), torch.from_numpy(weight))
    assert mean.item() == pytest.approx(error.sum() / (2 * weight.sum()), rel=1e-12)
    per_batch = L1Loss(reduction='sum_per_batch')(torch.from_numpy(pred), torch.from_numpy(junk_target),
                                                  torch.from_numpy(weight))
    assert per_batch.item() == pytest.approx(error.sum() / 2, rel=1e-12)
    mask = torch.from_numpy(weight > 0)  # bool masks work as 0/1 weights
    expected = (np.abs(pred - target) * (weight > 0)[..., None]).sum() / (2 * (weight > 0).sum())
    assert l1(torch.from_numpy(pred), torch.from_numpy(junk_target), mask).item() == pytest.approx(expected, rel=1e-12)


def test_per_sample_weight_broadcasts_over_the_trailing_dims():
    pred, target = torch.ones(3, 4, 2), torch.zeros(3, 4, 2)
    pred[1] = 5.0
    weight = torch.tensor([1.0, 0.0, 1.0])
    assert MSELoss()(pred, target, weight).item() == pytest.approx(1.0)
    assert MSELoss(reduction='sum_per_batch')(pred, target, weight).item() == pytest.approx(16 / 3)


@pytest.mark.parametrize('cls', [L1Loss, MSELoss])
@pytest.mark.parametrize('reduction', ['mean', 'sum_per_batch'])
def test_all_masked_batch_gives_zero_with_finite_gradients(cls, reduction):
    pred = torch.randn(2, 16, 2, requires_grad=True)
    loss = cls(reduction=reduction)(pred, torch.randn(2, 16, 2), torch.zeros(2, 16))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(pred.grad, torch.zeros_like(pred))


def test_empty_batch_gives_zero():
    empty = torch.zeros(0, 3, requires_grad=True)
    assert L1Loss()(empty, torch.zeros(0, 3)).item() == 0.0
    assert MSELoss(reduction='sum_per_batch')(empty, torch.zeros(0, 3)).item() == 0.0


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match=r"reduction must be one of \('mean', 'sum_per_batch'\)"):
        L1Loss(reduction='sum')
    with pytest.raises(ValueError, match='a target is required'):
        L1Loss()(torch.ones(2, 3))
    with pytest.raises(ValueError, match='must have the same shape'):
        MSELoss()(torch.ones(2, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match='does not match the leading dims'):
        L1Loss()(torch.ones(2, 4, 2), torch.ones(2, 4, 2), torch.ones(2, 3))
    with pytest.raises(ValueError, match='more dims'):
        L1Loss()(torch.ones(2, 3), torch.ones(2, 3), torch.ones(2, 3, 1))
    with pytest.raises(ValueError, match='batch dim'):
        L1Loss()(torch.tensor(1.0), torch.tensor(0.0))
