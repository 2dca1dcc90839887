"""tools/train.py and tools/test.py on a tiny copy of configs/correspondence/cdpn_synthetic.py (tiny world, tiny
model, one epoch), the files test.py writes, and tools/analysis/evaluate_correspondences.py re-scoring them."""
import glob
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from hoirecon.apis import prepare_experiment
from hoirecon.datasets.transforms import LoadCorrespondences
from hoirecon.testing.tools import load_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'configs', 'correspondence', 'cdpn_synthetic.py')


def _tiny_config(tmp_path, root):
    text = f"""_base_ = ['{CONFIG}']
data_root = '{root}'
object_library = dict(dataset='behave', template_dir='{root}/objects')
train_pipeline = [dict(type='LoadHOIImage'), dict(type='ObjectCrop', img_size=64, out_size=16, augment=True),
                  dict(type='PackObjectCorrespondenceInputs')]
test_pipeline = [dict(type='LoadHOIImage'), dict(type='ObjectCrop', img_size=64, out_size=16),
                 dict(type='PackObjectCorrespondenceInputs')]
model = dict(head=dict(channels=(16, 16, 8), out_size=16), object_library=object_library)
train_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root, pipeline=train_pipeline,
                                                   min_visible_pixels=1))
val_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(object_library=object_library)
test_evaluator = dict(object_library=object_library, out_dir='{tmp_path}/predicted')
train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True, begin=0, end=1)]
default_hooks = dict(checkpoint=dict(interval=1))
"""
    path = tmp_path / 'cdpn_tiny.py'
    path.write_text(text)
    return str(path)


def test_the_config_needs_no_relation_pca():
    cfg = Config.fromfile(CONFIG)
    assert 'relation_encoder' not in cfg.model
    cfg.auto_prepare = True
    cfg.train_dataloader.dataset.synthetic = None  # nothing to generate: only the PCA step runs, and skips
    cfg.val_dataloader.dataset.synthetic = None
    cfg.test_dataloader.dataset.synthetic = None
    prepare_experiment(cfg)


@pytest.mark.parametrize('name, dataset_type, num_objects', [
    ('cdpn_behave', 'ObjectCorrespondenceDataset', 20),
    ('cdpn_intercap', 'InterCapCorrespondenceDataset', 10),
])
def test_the_paper_size_configs_build(name, dataset_type, num_objects):
    """The real-data configs (GPU-sized): an ImageNet ResNet-34 named by torchvision's file, 256 px crops to 64 x 64
    maps, their dataset's reader; built here with the procedural templates and no weights (no real data)."""
    import torch
    from mmengine.registry import DefaultScope

    from hoirecon.registry import DATASETS, MODELS
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'correspondence', f'{name}.py'))
    assert cfg.model.backbone.depth == 34
    assert cfg.model.backbone.init_cfg.checkpoint.endswith('/resnet34-b627a593.pth')
    assert cfg.train_dataloader.dataset.type == cfg.test_dataloader.dataset.type == dataset_type
    assert DATASETS.get(dataset_type) is not None
    assert cfg.test_evaluator.object_library == cfg.model.object_library == cfg.val_evaluator.object_library
    model_cfg = cfg.model.to_dict()
    model_cfg['backbone']['init_cfg'] = None
    model_cfg['object_library'] = dict(dataset=cfg.model.object_library.dataset)  # procedural templates
    with DefaultScope.overwrite_default_scope('hoirecon'):
        model = MODELS.build(model_cfg)
    assert model.num_objects == num_objects
    model.eval()
    with torch.no_grad():
        out = model._features(torch.zeros(1, 3, cfg.img_size, cfg.img_size), torch.tensor([0]))
    assert out['x3d'].shape == (1, 3, cfg.out_size, cfg.out_size) == (1, 3, 64, 64)


def test_train_then_test_writes_the_refiner_files(behave_synthetic_root, tiny_annotation_dir, tmp_path):
    config = _tiny_config(tmp_path, behave_synthetic_root)
    work_dir = str(tmp_path / 'work')
    load_tool('train').main([config, '--work-dir', work_dir, '--threads', '1'])
    checkpoint = osp.join(work_dir, 'epoch_1.pth')
    assert osp.isfile(checkpoint)
    metrics = load_tool('test').main([config, checkpoint, '--work-dir', work_dir, '--threads', '1'])
    assert {'object_pose/add_accuracy', 'object_pose/pnp_success', 'object_pose/points_within_px',
            'object_pose/chamfer_cm'} <= set(metrics)
    files = sorted(glob.glob(osp.join(tmp_path, 'predicted', 'epro_pnp', '*', '*', 'k*.obj_coor.pkl')))
    assert len(files) == int(metrics['object_pose/num_images'])
    loaded = LoadCorrespondences(num_points=256).transform(dict(corr_path=files[0]))
    assert loaded['corr_x3d'].shape == (256, 3) and np.isfinite(loaded['corr_x3d']).all()
    # the tool re-scores the written files with the same PnP and functions: the same numbers
    rescored = load_tool('analysis/evaluate_correspondences').main([config, '--corr-root',
                                                                   str(tmp_path / 'predicted')])
    for key in ('pnp_success', 'add_accuracy', 'points_within_px', 'rotation_deg'):
        expected = metrics[f'object_pose/{key}']
        assert rescored[key] == pytest.approx(expected, abs=1e-4, nan_ok=True), key


def test_the_generator_correspondences_give_accurate_poses(behave_synthetic_root, tiny_annotation_dir, tmp_path):
    summary = load_tool('analysis/evaluate_correspondences').main([_tiny_config(tmp_path, behave_synthetic_root)])
    # 1 px of noise is large at 128 x 96 (the default 512 x 384 world: docs/correspondence.md); the depth is the weak
    # part: ADD(-S) 4 of 8 images on the AMD EPYC VM, 3 of 8 on the Intel Xeon VM of 2026-12-07 (rotation median 3.7
    # deg, translation median 8.6 cm; the tiny world renders differently in the last bits on another CPU)
    assert summary['pnp_success'] > 0.7 and summary['add_accuracy'] >= 0.25
    assert summary['rotation_deg_median'] < 10 and summary['points_within_px'] > 0.8
