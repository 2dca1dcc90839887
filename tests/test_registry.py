"""One registry file; every category lists its classes; the CLI prints them."""
import subprocess
import sys
import os.path as osp

import pytest
from mmengine.registry import MODELS as MMENGINE_MODELS

from hoirecon import registry
from hoirecon.utils.registry_listing import list_components

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MMENGINE_ROOTS = ('RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'STRATEGIES', 'DATASETS', 'DATA_SAMPLERS',
                  'TRANSFORMS', 'MODELS', 'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
                  'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'METRICS', 'EVALUATOR', 'TASK_UTILS',
                  'VISUALIZERS', 'VISBACKENDS', 'LOG_PROCESSORS', 'INFERENCERS', 'FUNCTIONS')


@pytest.mark.parametrize('name', MMENGINE_ROOTS)
def test_every_mmengine_root_has_a_hoirecon_child(name):
    import mmengine.registry as mm
    child = getattr(registry, name)
    assert child.scope == 'hoirecon'
    assert child.parent is getattr(mm, name)
    assert getattr(mm, name).children['hoirecon'] is child


def test_models_resolve_mmengine_classes_through_the_child():
    # A hoirecon-scoped lookup falls back to mmengine's own classes.
    assert registry.OPTIMIZERS.get('AdamW') is not None
    assert registry.MODELS.parent is MMENGINE_MODELS


def test_body_models_are_listed():
    listing = list_components(['body_models'])
    assert {'SMPL', 'SMPLH', 'SMPLX'} <= set(listing['body_models'])
    assert listing['body_models']['SMPLH'].startswith('hoirecon.models.body_models')


def test_all_categories_listed():
    listing = list_components()
    assert list(listing) == list(registry.CATEGORIES)
    for key in ('body_models', 'backbones', 'relation_encoders', 'heads', 'losses', 'refiners', 'metrics'):
        assert key in listing


def test_unknown_category_names_the_choices():
    with pytest.raises(KeyError, match='body_models'):
        list_components(['bodymodels'])


def test_cli_prints_categories():
    out = subprocess.run([sys.executable, osp.join(REPO_ROOT, 'tools', 'misc', 'list_components.py'), 'body_models'],
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0] == 'body_models (3)'
    assert 'SMPLH' in out
    bad = subprocess.run([sys.executable, osp.join(REPO_ROOT, 'tools', 'misc', 'list_components.py'), 'nope'],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and 'choose from' in bad.stderr
