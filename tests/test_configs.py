"""Every config parses, uses the hoirecon scope, and its parts build (or fail clearly)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from hoirecon.registry import BODY_MODELS

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True))
BODY_MODEL_CONFIGS = [c for c in CONFIGS if 'body_model' in Config.fromfile(c)]


def _rel(path):
    return osp.relpath(path, REPO_ROOT)


def test_configs_exist():
    assert any(c.endswith('default_runtime.py') for c in CONFIGS)
    assert len(BODY_MODEL_CONFIGS) >= 3


@pytest.mark.parametrize('path', CONFIGS, ids=_rel)
def test_config_parses(path):
    cfg = Config.fromfile(path)
    if '_base_' not in path.split(osp.sep):
        assert cfg.get('default_scope') == 'hoirecon', f'{_rel(path)} must inherit default_runtime.py'


@pytest.mark.parametrize('path', BODY_MODEL_CONFIGS, ids=_rel)
def test_config_body_model_builds_or_names_missing_files(path, surrogate_body_root, tmp_path):
    cfg = Config.fromfile(path).body_model.to_dict()
    if cfg['model_path'] == 'surrogate':
        model = BODY_MODELS.build(cfg)
        assert model.is_surrogate
        return
    cfg['model_path'] = str(tmp_path / 'no_body_models_here')
    with pytest.raises(FileNotFoundError) as info:
        BODY_MODELS.build(cfg)
    message = str(info.value)
    assert str(tmp_path / 'no_body_models_here') in message
    assert 'surrogate' in message
