"""Checkpoint loading is safe by default: plain checkpoints load, pickled code never runs."""
import os

import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader, load_checkpoint

import hoirecon  # noqa: F401  (installs the loader)
from hoirecon.engine import UnsafeCheckpointError, allow_unsafe_checkpoints


class _PlantedPayload:
    """Unpickling this creates a marker file: stands in for arbitrary code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


@pytest.fixture
def plain_checkpoint(tmp_path):
    path = tmp_path / 'plain.pth'
    model = torch.nn.Linear(3, 2)
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 3, 'lr': [1e-4]}}, path)
    return path, model


def test_plain_checkpoint_loads_through_mmengine(plain_checkpoint):
    path, model = plain_checkpoint
    target = torch.nn.Linear(3, 2)
    ckpt = load_checkpoint(target, str(path), map_location='cpu')
    assert ckpt['meta']['epoch'] == 3
    for key, value in model.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)


def test_malicious_checkpoint_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / 'payload_ran'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': _PlantedPayload(str(marker))}, path)
    with pytest.raises(UnsafeCheckpointError) as info:
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert str(path) in str(info.value)
    assert 'HOIRECON_ALLOW_UNSAFE_CHECKPOINTS' in str(info.value)
    assert not marker.exists()


def test_explicit_opt_in_allows_full_unpickling(tmp_path):
    marker = tmp_path / 'payload_ran'
    path = tmp_path / 'trusted.pth'
    torch.save({'meta': _PlantedPayload(str(marker))}, path)
    with allow_unsafe_checkpoints():
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert marker.exists()
    os.remove(marker)
    with pytest.raises(UnsafeCheckpointError):  # the opt-in does not outlive its block
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()


def test_missing_checkpoint_names_the_file(tmp_path):
    missing = tmp_path / 'nope.pth'
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        CheckpointLoader.load_checkpoint(str(missing), map_location='cpu')
