"""Errors of the body-model wrappers: missing, wrong and corrupt files, bad options, missing smplx."""
import os.path as osp
import pickle
import sys

import pytest
import torch

from hoirecon.models.body_models import SMPL, SMPLH, SMPLX
from hoirecon.models.body_models.model_files import import_smplx


@pytest.mark.parametrize('cls, folder, names, site', [
    (SMPL, 'smpl', ['SMPL_NEUTRAL.pkl', 'SMPL_MALE.pkl', 'SMPL_FEMALE.pkl'], 'smpl.is.tue.mpg.de'),
    (SMPLH, 'smplh', ['SMPLH_NEUTRAL.pkl', 'SMPLH_MALE.pkl', 'SMPLH_FEMALE.pkl'], 'mano.is.tue.mpg.de'),
    (SMPLX, 'smplx', ['SMPLX_NEUTRAL.npz', 'SMPLX_MALE.npz', 'SMPLX_FEMALE.npz'], 'smpl-x.is.tue.mpg.de'),
])
def test_missing_files_explain_how_to_get_them(tmp_path, cls, folder, names, site):
    with pytest.raises(FileNotFoundError) as info:
        cls(str(tmp_path), gender='male')
    message = str(info.value)
    ext = names[0].rsplit('.', 1)[1]
    assert osp.join(str(tmp_path), folder, f'{folder.upper()}_MALE.{ext}') in message
    for name in names:
        assert name in message
    assert site in message
    assert 'clean_ch.py' in message
    assert 'docs/body_models.md' in message
    assert "model_path='surrogate'" in message and 'make_surrogate_body.py' in message
    assert f'SURROGATE {cls.__name__.replace("SMPL", "SMPL-").rstrip("-")}' in message
    if cls is SMPLH:
        assert 'merge_smplh_mano.py' in message
    # a folder that does not exist gets the same explanation (not smplx's "Unknown model type body")
    with pytest.raises(FileNotFoundError, match='Looked for'):
        cls(str(tmp_path / 'nowhere' / 'body_models'), gender='female')


def test_smplx_has_a_surrogate():
    body = SMPLX('surrogate')
    assert body.is_surrogate and body.num_vertices == 10475 and body.num_joints == 55


def test_corrupt_file_names_the_file(tmp_path):
    (tmp_path / 'smplh').mkdir()
    path = tmp_path / 'smplh' / 'SMPLH_MALE.pkl'
    path.write_bytes(b'\x80\x04not a pickle at all')
    with pytest.raises(ValueError, match=f'Could not read body model file {path}.*corrupt'):
        SMPLH(str(tmp_path), gender='male')
    npz = tmp_path / 'SMPLX_NEUTRAL.npz'
    npz.write_bytes(b'PK\x03\x04 broken zip')
    with pytest.raises(ValueError, match=str(npz)):
        SMPLX(str(npz))


def test_chumpy_pickle_explains_conversion(tmp_path):
    path = tmp_path / 'SMPL_MALE.pkl'
    path.write_bytes(b'cchumpy.ch\nCh\n)R.')  # protocol-0 pickle of a chumpy object
    with pytest.raises(ImportError, match='chumpy.*clean_ch.py'):
        SMPL(str(path), gender='male')


def test_wrong_model_file(tmp_path, surrogate_body_root):
    smpl_file = osp.join(surrogate_body_root, 'smpl', 'SMPL_MALE.pkl')
    with pytest.raises(ValueError, match='24 joints but SMPL-H needs 52: it looks like a SMPL file'):
        SMPLH(smpl_file)
    with open(tmp_path / 'SMPL_MALE.pkl', 'wb') as f:
        pickle.dump({'v_template': 1}, f)
    with pytest.raises(ValueError, match=r'not a SMPL model file: missing keys \[.f., .shapedirs.'):
        SMPL(str(tmp_path / 'SMPL_MALE.pkl'))
    with pytest.raises(ValueError, match='must end in .pkl or .npz'):
        SMPL(osp.join(surrogate_body_root, 'smpl', 'J_regressor_body25.txt'))


def test_bad_options(surrogate_body_root):
    with pytest.raises(ValueError, match='gender must be one of'):
        SMPLH(surrogate_body_root, gender='child')
    with pytest.raises(ValueError, match='use_pca=True is not supported'):
        SMPLH(surrogate_body_root, use_pca=True)
    with pytest.raises(ValueError, match='flat_hand_mean=False'):
        SMPLH(surrogate_body_root, flat_hand_mean=False)
    with pytest.raises(TypeError, match=r"unexpected arguments \['num_pca_comps'\]"):
        SMPLH(surrogate_body_root, num_pca_comps=6)
    with pytest.raises(ValueError, match='num_betas=16, but .* has 10 shape components'):
        SMPLH(surrogate_body_root, num_betas=16)
    body = SMPL(surrogate_body_root, batch_size=8, ext='pkl')  # harmless smplx options are accepted
    with pytest.raises(ValueError, match='SMPL has no finger joints'):
        body(left_hand_pose=torch.eye(3).expand(1, 15, 3, 3))


def test_missing_smplx_package(monkeypatch):
    monkeypatch.setitem(sys.modules, 'smplx', None)
    with pytest.raises(ImportError, match='pip install smplx'):
        import_smplx()
