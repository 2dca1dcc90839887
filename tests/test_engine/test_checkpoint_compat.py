"""Checkpoint loading is safe by default on hoirecon's paths: plain checkpoints load, pickled code never runs.

Outside hoirecon's scope mmengine's own local loader runs, unchanged.
"""
import contextlib
import os
import pickle

import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, load_checkpoint

import hoirecon  # noqa: F401  (installs the loader)
from hoirecon.engine import (UnsafeCheckpointError, allow_unsafe_checkpoints, checkpoint_compat,
                             hoirecon_checkpoint_loading)


class _PlantedPayload:
    """Unpickling this creates a marker file: stands in for arbitrary code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


@pytest.fixture(autouse=True, params=['hoirecon_checkpoint_loading', 'default_scope'])
def hoirecon_scope(request):
    """Run each test in one of hoirecon's two scopes: the explicit block, or a runner's default scope."""
    if request.param == 'hoirecon_checkpoint_loading':
        scope = hoirecon_checkpoint_loading()
    else:
        scope = DefaultScope.overwrite_default_scope('hoirecon')
    with scope:
        yield request.param


@contextlib.contextmanager
def another_toolbox():
    """A load outside hoirecon: another default scope and no hoirecon_checkpoint_loading block."""
    with DefaultScope.overwrite_default_scope('mmengine'):
        token = checkpoint_compat._explicit_scope.set(0)
        try:
            yield
        finally:
            checkpoint_compat._explicit_scope.reset(token)


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


def test_scope_is_detected():
    assert checkpoint_compat.in_hoirecon_scope()
    with another_toolbox():
        assert not checkpoint_compat.in_hoirecon_scope()
        with hoirecon_checkpoint_loading():
            assert checkpoint_compat.in_hoirecon_scope()
        with DefaultScope.overwrite_default_scope('hoirecon'):
            assert checkpoint_compat.in_hoirecon_scope()
        assert not checkpoint_compat.in_hoirecon_scope()


def test_other_toolboxes_keep_mmengines_loader(tmp_path, plain_checkpoint, monkeypatch):
    """Outside hoirecon's scope the load is mmengine's load_from_local: its calls, its errors, no opt-in."""
    assert checkpoint_compat.MMENGINE_LOCAL_LOADER is mmengine_checkpoint.load_from_local
    assert checkpoint_compat._original_local_loader() is mmengine_checkpoint.load_from_local  # no chain on re-import
    path, model = plain_checkpoint
    marker = tmp_path / 'payload_ran'
    evil = tmp_path / 'evil.pth'
    torch.save({'meta': _PlantedPayload(str(marker))}, evil)
    calls = []

    def spy(filename, map_location):
        calls.append(filename)
        return mmengine_checkpoint.load_from_local(filename, map_location)

    monkeypatch.setattr(checkpoint_compat, 'MMENGINE_LOCAL_LOADER', spy)
    with another_toolbox():
        target = torch.nn.Linear(3, 2)
        assert load_checkpoint(target, str(path), map_location='cpu')['meta']['epoch'] == 3
        assert torch.equal(target.weight, model.weight)
        monkeypatch.setenv(checkpoint_compat.UNSAFE_ENV, '1')  # hoirecon's opt-in is not mmengine's
        with pytest.raises(pickle.UnpicklingError) as info:  # torch's own weights-only refusal
            CheckpointLoader.load_checkpoint(str(evil), map_location='cpu')
        assert not isinstance(info.value, UnsafeCheckpointError)
    assert calls == [str(path), str(evil)] and not marker.exists()
    monkeypatch.delenv(checkpoint_compat.UNSAFE_ENV)
    with pytest.raises(UnsafeCheckpointError):  # back in hoirecon's scope: hoirecon's loader
        CheckpointLoader.load_checkpoint(str(evil), map_location='cpu')
    assert len(calls) == 2 and not marker.exists()
