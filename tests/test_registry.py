"""One registry file; every type a config names is registered; every category lists its classes."""
import glob
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config
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


#: where each part of a config is built, as (path in the config, registry name in hoirecon.registry); '*' is every
#: item of a list or every value of a dict. HOIReconstructor builds its parts from hoirecon's own registries.
CONFIG_PARTS = (
    ('model', 'MODELS'), ('model.data_preprocessor', 'MODELS'), ('model.backbone', 'BACKBONES'),
    ('model.shape_head', 'HEADS'), ('model.head', 'HEADS'), ('model.relation_encoder', 'RELATION_ENCODERS'),
    ('model.body_model', 'BODY_MODELS'), ('model.losses.*', 'LOSSES'), ('model.refiner', 'REFINERS'),
    ('refiner', 'REFINERS'),
    ('train_dataloader.dataset', 'DATASETS'), ('train_dataloader.sampler', 'DATA_SAMPLERS'),
    ('train_dataloader.dataset.pipeline.*', 'TRANSFORMS'), ('train_dataloader.dataset.body_model', 'BODY_MODELS'),
    ('val_dataloader.dataset', 'DATASETS'), ('val_dataloader.sampler', 'DATA_SAMPLERS'),
    ('val_dataloader.dataset.pipeline.*', 'TRANSFORMS'), ('val_dataloader.dataset.body_model', 'BODY_MODELS'),
    ('test_dataloader.dataset', 'DATASETS'), ('test_dataloader.sampler', 'DATA_SAMPLERS'),
    ('test_dataloader.dataset.pipeline.*', 'TRANSFORMS'), ('test_dataloader.dataset.body_model', 'BODY_MODELS'),
    ('val_evaluator', 'METRICS'), ('val_evaluator.body_model', 'BODY_MODELS'),
    ('test_evaluator', 'METRICS'), ('test_evaluator.body_model', 'BODY_MODELS'),
    ('optim_wrapper', 'OPTIM_WRAPPERS'), ('optim_wrapper.optimizer', 'OPTIMIZERS'),
    ('param_scheduler.*', 'PARAM_SCHEDULERS'), ('train_cfg', 'LOOPS'), ('val_cfg', 'LOOPS'), ('test_cfg', 'LOOPS'),
    ('default_hooks.*', 'HOOKS'), ('custom_hooks.*', 'HOOKS'), ('log_processor', 'LOG_PROCESSORS'),
)
CONFIGS = sorted(c for c in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in c.split(osp.sep))
CONFIGS += sorted(glob.glob(osp.join(REPO_ROOT, 'tests', 'data', 'configs', '*.py')))


def _parts(cfg, path):
    """The config dicts at a dotted path ('*' expands lists and dicts); missing keys and None give nothing."""
    nodes = [cfg]
    for key in path.split('.'):
        found = []
        for node in nodes:
            if key == '*':
                found += list(node.values()) if isinstance(node, dict) else list(node or [])
            elif isinstance(node, dict) and node.get(key) is not None:
                found.append(node[key])
        nodes = found
    return [node for node in nodes if isinstance(node, dict)]


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, REPO_ROOT))
def test_every_type_in_a_config_resolves_in_the_registry_that_builds_it(path):
    cfg = Config.fromfile(path).to_dict()
    checked = 0
    for where, name in CONFIG_PARTS:
        child = getattr(registry, name)
        for part in _parts(cfg, where):
            assert 'type' in part, f'{where} of {path} has no type'
            if not isinstance(part['type'], str):
                continue
            cls = child.get(part['type'])
            assert cls is not None, f"{where}: type={part['type']!r} is not registered in hoirecon's {name}"
            if child.parent is None:  # hoirecon's own roots hold hoirecon classes only
                assert cls.__module__.startswith('hoirecon.'), cls
            checked += 1
    # every config names a model, a schedule, a loop and the hooks; the HOI configs also their data and metric
    assert checked >= 12


def test_hoi_config_types_are_hoirecon_classes():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'stackflow_synthetic.py'))
    for where, name in (('model', 'MODELS'), ('train_dataloader.dataset', 'DATASETS'), ('val_evaluator', 'METRICS'),
                        ('optim_wrapper', 'OPTIM_WRAPPERS'), ('default_hooks.safe_checkpoint', 'HOOKS')):
        (part,) = _parts(cfg.to_dict(), where)
        assert getattr(registry, name).get(part['type']).__module__.startswith('hoirecon.'), where
    # a name hoirecon does not define falls back to mmengine's class through the child registry
    assert registry.MODELS.get('ImgDataPreprocessor') is MMENGINE_MODELS.get('ImgDataPreprocessor')
    assert registry.MODELS.get('NoSuchModel') is None


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
