"""CameraShapeHead: layer layout, initialisation, output split."""
import math

import pytest
import torch

from hoirecon.models.heads import CameraShapeHead
from hoirecon.registry import HEADS


def test_built_from_registry_with_the_paper_layout():
    head = HEADS.build(dict(type='CameraShapeHead'))
    sizes = [(layer.in_features, layer.out_features) for layer in head.layers if isinstance(layer, torch.nn.Linear)]
    assert sizes == [(2048, 2048), (2048, 13)]
    assert isinstance(head.layers[1], torch.nn.ReLU)
    torch.testing.assert_close(head.init_cam, torch.tensor([[0., 0.75, 2.]]))
    # xavier-uniform with gain 0.02: |w| <= 0.02 * sqrt(6 / (fan_in + fan_out)), and it fills that range
    bound = 0.02 * math.sqrt(6 / (2048 + 13))
    weight = head.layers[2].weight
    assert weight.abs().max() <= bound and weight.abs().max() > 0.9 * bound


def test_outputs_are_betas_then_camera_plus_init():
    torch.manual_seed(0)
    head = CameraShapeHead(feature_dim=8, hidden_dim=16, num_betas=10, init_cam_translation=(0.1037, 0.5681, 2.6866))
    feature = torch.randn(3, 8)
    out = head(feature)
    assert out['betas'].shape == (3, 10) and out['crop_cam'].shape == (3, 3)
    first, last = head.layers[0], head.layers[2]
    raw = torch.relu(feature @ first.weight.T + first.bias) @ last.weight.T + last.bias  # independent forward
    torch.testing.assert_close(out['betas'], raw[:, :10])
    torch.testing.assert_close(out['crop_cam'], raw[:, 10:] + torch.tensor([0.1037, 0.5681, 2.6866]))


def test_gradients_and_bad_inputs():
    head = CameraShapeHead(feature_dim=8, hidden_dim=16)
    feature = torch.randn(2, 8, requires_grad=True)
    out = head(feature)
    (out['betas'].sum() + out['crop_cam'].sum()).backward()
    assert feature.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='feature must have shape'):
        head(torch.randn(2, 9))
    with pytest.raises(ValueError, match='init_cam_translation must have 3 numbers'):
        CameraShapeHead(feature_dim=8, hidden_dim=16, init_cam_translation=(0.0, 1.0))
