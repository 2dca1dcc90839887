"""ResNet backbone: torchvision names and shapes, outputs, local pretrained loading, freezing."""
import pytest
import torch

from hoirecon.models.backbones.resnet import ResNet
from hoirecon.registry import BACKBONES

# torchvision.models.resnet architecture, written out independently of hoirecon:
# (block kind, blocks per stage); stage widths 64/128/256/512, bottleneck expansion 4.
TORCHVISION_ARCH = {18: ('basic', (2, 2, 2, 2)), 50: ('bottleneck', (3, 4, 6, 3))}


def _bn(prefix, channels):
    return [(f'{prefix}.weight', (channels, )), (f'{prefix}.bias', (channels, ))]


def torchvision_params(depth):
    """(name, shape) of every parameter of torchvision's resnet{depth}, without ``fc``."""
    kind, blocks = TORCHVISION_ARCH[depth]
    expansion = 1 if kind == 'basic' else 4
    params = [('conv1.weight', (64, 3, 7, 7))] + _bn('bn1', 64)
    inplanes = 64
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), blocks), start=1):
        for b in range(count):
            p = f'layer{stage}.{b}'
            if kind == 'basic':
                params += [(f'{p}.conv1.weight', (planes, inplanes, 3, 3))] + _bn(f'{p}.bn1', planes)
                params += [(f'{p}.conv2.weight', (planes, planes, 3, 3))] + _bn(f'{p}.bn2', planes)
            else:
                params += [(f'{p}.conv1.weight', (planes, inplanes, 1, 1))] + _bn(f'{p}.bn1', planes)
                params += [(f'{p}.conv2.weight', (planes, planes, 3, 3))] + _bn(f'{p}.bn2', planes)
                params += [(f'{p}.conv3.weight', (planes * 4, planes, 1, 1))] + _bn(f'{p}.bn3', planes * 4)
            stride = 2 if (b == 0 and stage > 1) else 1
            if b == 0 and (stride != 1 or inplanes != planes * expansion):
                params += [(f'{p}.downsample.0.weight', (planes * expansion, inplanes, 1, 1))]
                params += _bn(f'{p}.downsample.1', planes * expansion)
            inplanes = planes * expansion
    return params


@pytest.mark.parametrize('depth,expected_count', [(18, 11_176_512), (50, 23_508_032)])
def test_parameter_names_and_shapes_match_torchvision(depth, expected_count):
    # Counts: torchvision's totals (11,689,512 / 25,557,032) minus fc (512*1000+1000 / 2048*1000+1000).
    reference = torchvision_params(depth)
    assert sum(torch.Size(s).numel() for _, s in reference) == expected_count
    model = ResNet(depth=depth)
    assert [(n, tuple(p.shape)) for n, p in model.named_parameters()] == reference
    bn_names = [n[:-len('.weight')] for n, _ in reference if n.endswith('.weight') and len(dict(reference)[n]) == 1]
    expected_buffers = {f'{bn}.{b}' for bn in bn_names for b in ('running_mean', 'running_var', 'num_batches_tracked')}
    assert {n for n, _ in model.named_buffers()} == expected_buffers


@pytest.mark.parametrize('depth,channels', [(18, 512), (34, 512), (50, 2048)])
def test_output_shapes(depth, channels):
    model = ResNet(depth=depth).eval()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        feats = model.forward_features(x)
        pooled = model(x)
    assert feats.shape == (2, channels, 2, 3)
    assert pooled.shape == (2, channels) and model.out_channels == channels
    torch.testing.assert_close(pooled, feats.mean(dim=(2, 3)))


def test_out_channels_projection_is_a_1x1_conv_on_the_pooled_feature():
    model = BACKBONES.build(dict(type='ResNet', depth=18, out_channels=7)).eval()
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        out = model(x)
        pooled = model.forward_features(x).mean(dim=(2, 3))
    weight = model.out_proj.weight[:, :, 0, 0]
    assert out.shape == (3, 7) and model.out_channels == 7
    torch.testing.assert_close(out, pooled @ weight.T + model.out_proj.bias)


def test_pretrained_local_state_dict_loads_through_init_cfg(tmp_path):
    source = ResNet(depth=18)
    state = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in source.state_dict().items()}
    state['fc.weight'] = torch.randn(1000, 512)
    state['fc.bias'] = torch.randn(1000)
    ckpt = tmp_path / 'resnet18.pth'
    torch.save(state, ckpt)

    model = ResNet(depth=18, init_cfg=dict(type='Pretrained', checkpoint=str(ckpt)))
    before = model.state_dict()
    assert not torch.equal(before['layer3.1.conv2.weight'], state['layer3.1.conv2.weight'])
    model.init_weights()
    after = model.state_dict()
    assert set(after) == set(state) - {'fc.weight', 'fc.bias'}
    for key, value in after.items():
        assert torch.equal(value, state[key]), key


def test_default_init_is_kaiming_fan_out_and_unit_batchnorm():
    torch.manual_seed(0)
    model = ResNet(depth=18)
    model.init_weights()
    w = model.layer4[0].conv2.weight
    fan_out = w.shape[0] * w.shape[2] * w.shape[3]
    assert abs(w.std().item() - (2.0 / fan_out)**0.5) < 0.05 * (2.0 / fan_out)**0.5
    assert torch.all(model.layer2[1].bn2.weight == 1) and torch.all(model.layer2[1].bn2.bias == 0)


@pytest.mark.parametrize('frozen_stages', [0, 2])
def test_frozen_stages_get_no_gradient_and_stay_in_eval(frozen_stages):
    model = ResNet(depth=18, frozen_stages=frozen_stages)
    model.train()
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    frozen = ['conv1.', 'bn1.'] + [f'layer{i}.' for i in range(1, frozen_stages + 1)]
    for name, param in model.named_parameters():
        is_frozen = any(name.startswith(prefix) for prefix in frozen)
        assert param.requires_grad != is_frozen, name
        assert (param.grad is None) == is_frozen, name
    assert not model.bn1.training
    assert model.layer3[0].bn1.training
    assert model.layer2[0].bn1.training == (frozen_stages < 2)


def test_norm_eval_keeps_running_stats_fixed():
    model = ResNet(depth=18, norm_eval=True)
    model.train()
    mean = model.layer1[0].bn1.running_mean.clone()
    model(torch.randn(2, 3, 64, 64))
    assert torch.equal(model.layer1[0].bn1.running_mean, mean)
    assert model.training and not model.layer1[0].bn1.training


@pytest.mark.parametrize('kwargs,match', [(dict(depth=20), 'depth=20'), (dict(frozen_stages=5), 'frozen_stages')])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ResNet(**kwargs)


def test_bad_input_shape_raises():
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        ResNet(depth=18)(torch.randn(2, 1, 32, 32))


def test_channels_last_same_numbers_and_checkpoints():
    """channels_last changes the memory layout only: same features and gradients, state dicts interchangeable
    (float64, so that only the summation order differs)."""
    torch.manual_seed(0)
    plain = ResNet(depth=18, out_channels=16).double()
    plain.init_weights()
    fast = ResNet(depth=18, out_channels=16, channels_last=True).double()
    fast.load_state_dict(plain.state_dict())
    assert fast.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert fast.layer3[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    out_plain, out_fast = plain(x), fast(x)
    torch.testing.assert_close(out_fast, out_plain, rtol=1e-9, atol=1e-10)
    out_plain.square().sum().backward()
    out_fast.square().sum().backward()
    torch.testing.assert_close(fast.conv1.weight.grad, plain.conv1.weight.grad, rtol=1e-9, atol=1e-10)
    back = ResNet(depth=18, out_channels=16).double()
    back.load_state_dict(fast.state_dict())
    torch.testing.assert_close(back(x), out_plain, rtol=1e-9, atol=1e-10)
