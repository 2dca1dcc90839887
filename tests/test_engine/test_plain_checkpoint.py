"""to_plain / from_plain: weights-only loadable, and an exact round trip."""
import enum
import io
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from hoirecon.engine import from_plain, to_plain


def _weights_only_round_trip(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _assert_same(a, b):
    """Equal values and equal types, recursively (numpy dtypes included)."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, HistoryBuffer):
        assert a.max_length == b.max_length
        for x, y in zip(a.data, b.data):
            _assert_same(x, y)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, (float, np.floating)) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def _mmengine_like_checkpoint():
    history = HistoryBuffer(max_length=5)
    for value in (0.5, 0.25, 1e-300, 3.0, float('nan'), 7.0):  # longer than max_length: the oldest is dropped
        history.update(value)
    return {
        'meta': {
            'epoch': 2,
            'dataset_meta': {
                'classes': ('backpack', 'chair'),
                'weights': np.arange(6, dtype='>f8').reshape(2, 3),  # big-endian on purpose
                'mask': np.array([True, False]),
                'ids': np.array([[1, 2]], dtype=np.uint16),
                'names': np.array(['box', 'stool'], dtype='<U5'),
                'mixed': np.array([1, 'a', None], dtype=object),
                'scale': np.float32(0.1),
                'count': np.int64(7),
                'flag': np.bool_(True),
                'dtype': np.dtype('float16'),
                'scalar_type': np.float32,
                'keyed_by_numpy': {
                    np.int64(3): 'three'
                },
            },
        },
        'message_hub': {
            'log_scalars': OrderedDict([('train/loss', history)]),
            'runtime_info': OrderedDict([('eta', np.float64(12.5)), ('iter', 8)]),
            'resumed_keys': OrderedDict([('train/loss', True)]),
        },
        'optimizer': {
            'state': {
                0: {
                    'step': torch.tensor(3.0)
                }
            },
            'param_groups': [{
                'lr': 1e-4,
                'params': [0]
            }]
        },
    }


def test_mmengine_like_checkpoint_loads_weights_only_and_round_trips_exactly():
    checkpoint = _mmengine_like_checkpoint()
    with pytest.raises(Exception):  # the raw form really is unsafe to load
        _weights_only_round_trip(checkpoint)
    restored = from_plain(_weights_only_round_trip(to_plain(checkpoint)))
    expected = _mmengine_like_checkpoint()
    expected['meta']['dataset_meta']['keyed_by_numpy'] = {3: 'three'}  # numpy keys become Python keys
    _assert_same(restored, expected)
    assert restored['meta']['dataset_meta']['weights'].dtype.str == '>f8'
    assert restored['message_hub']['log_scalars']['train/loss'].data[0].tolist()[0] == 0.25


def test_to_plain_does_not_modify_its_input_and_keeps_plain_containers():
    checkpoint = _mmengine_like_checkpoint()
    plain = to_plain(checkpoint)
    assert isinstance(checkpoint['meta']['dataset_meta']['scale'], np.float32)
    assert plain['optimizer'] is checkpoint['optimizer']  # nothing to convert: same object, no copy


def test_state_dict_metadata_survives():
    state_dict = torch.nn.Sequential(torch.nn.Linear(2, 2)).state_dict()
    assert to_plain(state_dict) is state_dict
    mixed = OrderedDict(state_dict)
    mixed._metadata = state_dict._metadata
    mixed['extra'] = np.float32(1.0)
    plain = to_plain(mixed)
    assert plain._metadata == state_dict._metadata
    assert from_plain(_weights_only_round_trip(plain))._metadata == state_dict._metadata


def test_from_plain_leaves_foreign_objects_alone():
    history = HistoryBuffer([1.0], [1])
    checkpoint = {'message_hub': {'log_scalars': {'train/loss': history}}}
    assert from_plain(checkpoint)['message_hub']['log_scalars']['train/loss'] is history


class _Colour(enum.Enum):
    RED = 1


@pytest.mark.parametrize('value', [object(), _Colour.RED, np.datetime64('2024-01-01')],
                         ids=['object', 'enum', 'datetime64'])
def test_unsupported_object_names_its_path(value):
    with pytest.raises(TypeError, match=r"checkpoint\['meta'\]\['bad'\]"):
        to_plain({'meta': {'bad': value}})
