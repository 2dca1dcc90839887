"""tools/make_surrogate_body.py writes loadable files and prints a summary."""
import os.path as osp

import pytest
import torch

from hoirecon.models.body_models import SMPL
from hoirecon.testing.tools import load_tool


def _load_tool():
    return load_tool('make_surrogate_body')


def test_tool_writes_requested_files(tmp_path, capsys):
    tool = _load_tool()
    tool.main(['--out', str(tmp_path), '--model-types', 'smpl', '--genders', 'female'])
    printed = capsys.readouterr().out
    assert 'SMPL_FEMALE.pkl' in printed and '6890' in printed and 'SURROGATE' in printed
    assert osp.isfile(tmp_path / 'smpl' / 'J_regressor_body25.txt')
    assert not osp.exists(tmp_path / 'smplh')
    body = SMPL(str(tmp_path), gender='female')
    assert body.is_surrogate
    assert body(betas=torch.zeros(1, 10)).vertices.shape == (1, 6890, 3)
    with pytest.raises(SystemExit):
        tool.parse_args(['--out', str(tmp_path), '--model-types', 'flame'])


def test_tool_writes_smplx(tmp_path, capsys):
    tool = _load_tool()
    tool.main(['--out', str(tmp_path), '--model-types', 'smplx', '--genders', 'neutral'])
    printed = capsys.readouterr().out
    assert 'SMPLX_NEUTRAL.npz' in printed and '10475' in printed
    assert osp.isfile(tmp_path / 'smplx' / 'SMPLX_NEUTRAL.npz') and not osp.exists(tmp_path / 'smplh')
