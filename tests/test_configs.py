"""Every config parses, builds its model, and its parts agree with its choices (docs/configs.md)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from hoirecon.objects.catalogue import DATASET_OBJECTS
from hoirecon.registry import BODY_MODELS, HEADS, MODELS
from hoirecon.utils.config_choices import (check_config_choices, config_choice_mismatches, relation_pca_file_name)

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(REPO_ROOT, 'configs')
CONFIGS = sorted(glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True))
#: the configs a user runs (configs/ without _base_/), and the HOI configs of the tests
# (configs/correspondence/ holds the object correspondence network's configs, no HOI reconstructor: tested in
# tests/test_correspondence)
TOP_LEVEL = [c for c in CONFIGS if not {'_base_', 'correspondence'} & set(c.split(osp.sep)) and 'chore_' not in c]
TEST_CONFIGS = sorted(glob.glob(osp.join(REPO_ROOT, 'tests', 'data', 'configs', '*.py')))
HOI_CONFIGS = TOP_LEVEL + [c for c in TEST_CONFIGS if 'toy_' not in osp.basename(c)]
BODY_MODEL_CONFIGS = [c for c in HOI_CONFIGS if 'body_model' in Config.fromfile(c)]
#: the ResNet-50 + 2048-wide flows of the paper's configs is built once (stackflow_behave.py); the other configs with
#: 2048-wide features are shrunk through cfg-options, which leaves their types and structure as they are
FULL_SIZE = osp.join(CONFIG_DIR, 'stackflow_behave.py')
SURROGATE_SMPLH = dict(type='SMPLH', model_path='surrogate', gender='male')


def _rel(path):
    return osp.relpath(path, REPO_ROOT)


def _pipelines(cfg):
    return {name: cfg[name].dataset.pipeline for name in ('train_dataloader', 'val_dataloader', 'test_dataloader')}


def _crop_sizes(cfg):
    return {name: [t.img_size for t in pipeline if t.type == 'HOICrop'] for name, pipeline in _pipelines(cfg).items()}


def _metrics(cfg, name):
    """The metrics of an evaluator entry (one dict, or a list of them)."""
    evaluator = cfg[name]
    return list(evaluator) if isinstance(evaluator, (list, tuple)) else [evaluator]


def _body_models(cfg):
    """Every place of a config that names a body model (the refiner uses the model's)."""
    places = {'model': cfg.model.body_model}
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        places[name] = cfg[name].dataset.body_model
    for name in ('val_evaluator', 'test_evaluator'):
        for i, metric in enumerate(_metrics(cfg, name)):
            places[f'{name}[{i}]'] = metric.body_model
    assert 'body_model' not in cfg.get('refiner', {})
    return {k: v.to_dict() for k, v in places.items()}


def _leaf_with(tmp_path, name, replacements):
    """configs/<name> with some of its lines replaced, written to tmp_path (its bases found by absolute paths)."""
    text = open(osp.join(CONFIG_DIR, name)).read().replace("'./_base_/", f"'{CONFIG_DIR}/_base_/")
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return Config.fromfile(str(path))


@pytest.mark.parametrize('path', CONFIGS + TEST_CONFIGS, ids=_rel)
def test_config_parses(path):
    cfg = Config.fromfile(path)
    if '_base_' not in path.split(osp.sep):
        assert cfg.get('default_scope') == 'hoirecon', f'{_rel(path)} must inherit default_runtime.py'


@pytest.mark.parametrize('path', HOI_CONFIGS, ids=_rel)
def test_config_parts_agree_with_its_choices(path):
    cfg = Config.fromfile(path)
    assert config_choice_mismatches(cfg) == []
    assert set(map(tuple, _crop_sizes(cfg).values())) == {(cfg.img_size,)}
    assert all(v == cfg.body_model.to_dict() for v in _body_models(cfg).values())
    catalogue = DATASET_OBJECTS[_metrics(cfg, 'test_evaluator')[0].object_library.dataset]
    assert cfg.num_objects == len(catalogue) == cfg.model.head.num_objects
    encoder = cfg.model.relation_encoder
    if encoder.type == 'OffsetPCA':
        # the PCA file lies in the data root, or in the folder a config names as pca_dir
        assert encoder.pca_file == osp.join(cfg.get('pca_dir', cfg.data_root), relation_pca_file_name(
            encoder.smpl_anchor_num, encoder.object_anchor_num, encoder.pca_dim))


def test_choice_check_names_what_a_derived_config_forgot(tmp_path):
    # mmengine evaluates the base before the derived file: setting only img_size leaves the base's pipelines at 256
    path = tmp_path / 'only_img_size.py'
    path.write_text(f"_base_ = ['{CONFIG_DIR}/stackflow_behave.py']\nimg_size = 128\n")
    cfg = Config.fromfile(str(path))
    assert set(map(tuple, _crop_sizes(cfg).values())) == {(256,)}
    with pytest.raises(ValueError, match=r'train_dataloader\.dataset\.pipeline\[1\] \(HOICrop\)\.img_size: 256'):
        check_config_choices(cfg)
    problems = config_choice_mismatches(cfg)
    assert len(problems) == 3  # train, val and test pipeline

    path.write_text(f"_base_ = ['{CONFIG_DIR}/stackflow_behave.py']\n"
                    "body_model = dict(type='SMPLX', model_path='data/body_models', gender='neutral')\n"
                    'model = dict(relation_encoder=dict(pca_dim=16))\n')
    problems = config_choice_mismatches(Config.fromfile(str(path)))
    assert sum('body_model: ' in p for p in problems) == 6  # the model, 3 datasets, 2 metrics
    assert sum(p.startswith('model.relation_encoder.pca_file') for p in problems) == 1
    assert len(problems) == 7


def test_one_line_of_the_top_level_config_changes_the_crop_everywhere(tmp_path):
    cfg = _leaf_with(tmp_path, 'stackflow_behave.py', {'img_size = 256': 'img_size = 128'})
    assert _crop_sizes(cfg) == dict(train_dataloader=[128], val_dataloader=[128], test_dataloader=[128])
    check_config_choices(cfg)


def test_one_line_of_the_top_level_config_changes_the_body_model_everywhere(tmp_path):
    smplx = "body_model = dict(type='SMPLX', model_path='data/body_models', gender='neutral')"
    cfg = _leaf_with(tmp_path, 'stackflow_synthetic.py',
                     {"body_model = dict(type='SMPLH', model_path='surrogate', gender='male')": smplx})
    places = _body_models(cfg)
    assert len(places) == 6
    assert all(v == dict(type='SMPLX', model_path='data/body_models', gender='neutral') for v in places.values())


def test_one_line_of_the_top_level_config_renames_the_pca_file(tmp_path):
    cfg = _leaf_with(tmp_path, 'stackflow_synthetic.py', {
        'pca_dim = 32, 64, 32': 'pca_dim = 16, 64, 8'})
    encoder = cfg.model.relation_encoder
    assert (encoder.smpl_anchor_num, encoder.object_anchor_num, encoder.pca_dim) == (16, 64, 8)
    assert encoder.pca_file == 'data/behave_synthetic/relation_pca_n16_64_d8.npz'


def test_derived_configs_swap_crop_and_body_model():
    small = Config.fromfile(osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'swap_img_size.py'))
    assert _crop_sizes(small) == dict(train_dataloader=[128], val_dataloader=[128], test_dataloader=[128])
    base = Config.fromfile(FULL_SIZE)
    for key in ('model', 'val_evaluator', 'refiner', 'optim_wrapper'):
        assert small[key] == base[key]
    smplx = Config.fromfile(osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'swap_body_model.py'))
    assert set(v['type'] for v in _body_models(smplx).values()) == {'SMPLX'}


def _shrunk(cfg):
    """The model config with the surrogate body, a PCA taken from a (missing) checkpoint and, except for FULL_SIZE,
    32-wide features on a ResNet-18: the registries still resolve every type and argument of the config."""
    options = {'model.body_model': SURROGATE_SMPLH}
    if cfg.model.relation_encoder.type == 'OffsetPCA':
        options['model.relation_encoder.missing_file'] = 'checkpoint'
    if cfg.filename != FULL_SIZE and cfg.model.backbone.out_channels > 256:
        options.update({'model.backbone.depth': 18, 'model.backbone.out_channels': 32,
                        'model.shape_head.feature_dim': 32, 'model.shape_head.hidden_dim': 32,
                        'model.head.feature_dim': 32})
        if 'flow_cfg' in cfg.model.head:
            options['model.head.flow_cfg.hidden_features'] = 32
        else:
            options['model.head.hidden_dim'] = 32
    cfg.merge_from_dict(options)
    return cfg.model


@pytest.mark.parametrize('path', TOP_LEVEL, ids=_rel)
def test_config_builds_its_model(path, surrogate_body_root):
    cfg = Config.fromfile(path)
    model = MODELS.build(_shrunk(cfg))
    assert type(model) is MODELS.get(cfg.model.type)
    assert type(model.head) is HEADS.get(cfg.model.head.type)
    assert model.head.num_objects == cfg.num_objects
    assert model.body_model.is_surrogate
    if cfg.model.relation_encoder.type == 'OffsetPCA':
        assert model.relation_encoder.latent_dim == cfg.model.relation_encoder.pca_dim
    assert model.test_relation == cfg.model.get('test_relation', 'predicted')


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
