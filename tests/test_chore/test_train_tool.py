"""tools/train.py on a tiny copy of configs/baselines/chore_synthetic.py (tiny world, tiny model, 2 iterations)."""
import glob
import os.path as osp

from mmengine.config import Config

from hoirecon.testing.tools import load_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'configs', 'baselines', 'chore_synthetic.py')


def test_the_configs_parse_and_agree():
    cfg = Config.fromfile(CONFIG)
    assert cfg.model.type == 'CHOREReconstructor' and cfg.model.clamp == cfg.clamp
    assert cfg.test_dataloader.dataset.type == 'BEHAVEFrameDataset' and cfg.test_evaluator.body_model == cfg.body_model
    targets = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'CHOREQueryTargets'][0]
    assert targets.exact_below == cfg.clamp and targets.num_parts == cfg.model.num_parts
    crop = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'HOICrop'][0]
    assert crop.rot_prob == 0.0
    behave = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'baselines', 'chore_behave.py'))
    assert behave.train_dataloader.dataset.synthetic is None and behave.model.encoder.num_stages == 4
    assert [t for t in behave.train_dataloader.dataset.pipeline if t.type == 'HOICrop'][0].img_size == 512


def tiny_test_settings():
    """The test split of a tiny copy (tiny world, 32 px, a coarse grid and a few fitting steps)."""
    return """
test_pipeline = [
    dict(type='LoadHOIImage', with_masks=True),
    dict(type='HOICrop', img_size=img_size, rot_prob=0.0),
    dict(type='PackCHOREInputs', object_mask='visible', body_target='gendered', meta_keys=_base_.test_meta_keys),
]
test_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root, synthetic=None, pipeline=test_pipeline,
                                                  split='train', indices=4))
test_evaluator = dict(num_samples=500, object_library=object_library)
val_pipeline = [
    dict(type='LoadHOIImage', with_masks=True),
    dict(type='HOICrop', img_size=img_size, rot_prob=0.0),
    dict(type='CHOREQueryTargets', body_model=dict(type='SMPLH', model_path='surrogate', gender='male'),
         object_library=object_library, num_points=num_points, exact_below=0.1, fixed_depth=2.6, seed=0),
    dict(type='PackCHOREInputs', object_mask='visible'),
]
val_dataloader = dict(batch_size=2, num_workers=0, dataset=dict(data_root=data_root, synthetic=None,
                                                                pipeline=val_pipeline, split='train', indices=4))
"""


def test_train_two_iterations(behave_synthetic_root, chore_annotation_dir, tmp_path):
    root = behave_synthetic_root
    text = f"""_base_ = ['{CONFIG}']
data_root = '{root}'
img_size = 32
num_points = 64
num_stages = 1
hidden = (16, )
object_library = dict(dataset='behave', template_dir='{root}/objects')
train_pipeline = [
    dict(type='LoadHOIImage', with_masks=True),
    dict(type='HOICrop', img_size=img_size, augment=True, rot_prob=0.0),
    dict(type='CHOREQueryTargets', body_model=dict(type='SMPLH', model_path='surrogate', gender='male'),
         object_library=object_library, num_points=num_points, exact_below=0.1),
    dict(type='PackCHOREInputs'),
]
model = dict(encoder=dict(num_stages=num_stages), hidden=hidden, object_library=object_library,
             fitting=dict(grid_resolution=8, body_steps=2, scale_steps=2, object_steps=2, vertex_stride=64))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, synthetic=None, pipeline=train_pipeline,
                                     indices=4))
train_cfg = dict(max_epochs=1, val_interval=1)
{tiny_test_settings()}param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True, begin=0, end=1)]
default_hooks = dict(checkpoint=dict(interval=1), logger=dict(interval=1))
"""
    config = tmp_path / 'chore_tiny.py'
    config.write_text(text)
    work_dir = str(tmp_path / 'work')
    load_tool('train').main([str(config), '--work-dir', work_dir, '--threads', '1'])
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    logs = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert logs and 'loss_udf_human' in open(logs[0]).read()
    # the val loop scored the fields (CHOREFieldMetric)
    assert 'chore_fields/udf_human_l1_cm' in open(logs[0]).read()
    # tools/test.py fits and scores the reconstruction (CHOREReconstructor) like every other config
    metrics = load_tool('test').main([str(config), osp.join(work_dir, 'epoch_1.pth'), '--work-dir', work_dir,
                                     '--threads', '1'])
    assert metrics['hoi_chamfer/num_frames'] == 4 and metrics['hoi_chamfer/num_skipped'] == 0
    assert 0 < metrics['hoi_chamfer/human_hoi'] < 200 and 0 < metrics['hoi_chamfer/object_hoi'] < 500
    # CHORE's joint stage with its learnt pose prior (tools/misc/fit_pose_prior.py on the config's training poses)
    prior_file = str(tmp_path / 'prior.npz')
    prior = load_tool('misc/fit_pose_prior').main([str(config), '--out', prior_file, '--components', '2',
                                                   '--cfg-options', 'train_dataloader.dataset.indices=None'])
    assert osp.isfile(prior_file) and prior.dim == 63 and len(prior.weights) == 2
    joint = load_tool('test').main([str(config), osp.join(work_dir, 'epoch_1.pth'), '--work-dir', work_dir,
                                    '--threads', '1', '--cfg-options', 'model.fitting.joint_steps=2',
                                    'model.fitting.w_collision=10', f'model.fitting.pose_prior={prior_file}',
                                    'model.fitting.w_pose_prior=0.001'])
    assert joint['hoi_chamfer/num_frames'] == 4 and 0 < joint['hoi_chamfer/object_hoi'] < 500
