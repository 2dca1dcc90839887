"""The dataset's field targets against distances to the meshes computed directly, and the model: shapes, a tiny
batch it overfits, the dense grid query."""
import numpy as np
import pytest
import torch
import trimesh
from mmengine.dataset import pseudo_collate

from hoirecon.models.body_models import SMPLH
from hoirecon.models.chore import group_parts, rot6d_to_matrix
from hoirecon.objects import ObjectLibrary
from hoirecon.registry import MODELS


def posed_training_body(info):
    """The surrogate SMPL-H male and its (V, 3) vertices posed by an annotation record (betas_male, transl_male, the
    fit's rotations and finger poses), computed here independently of CHOREQueryTargets."""
    model = SMPLH('surrogate', gender='male')
    hands = torch.as_tensor(info['hand_pose'])[None]
    with torch.no_grad():
        body_v = model(betas=torch.as_tensor(info['betas_male'])[None],
                       global_orient=torch.as_tensor(info['global_orient'])[None],
                       body_pose=torch.as_tensor(info['body_pose'])[None],
                       transl=torch.as_tensor(info['transl_male'])[None],
                       left_hand_pose=hands[:, :15], right_hand_pose=hands[:, 15:]).vertices[0].double().numpy()
    return model, body_v


def test_dataset_targets_are_the_distances_to_the_posed_meshes(chore_dataset, behave_synthetic_root):
    assert len(chore_dataset) > 0
    item = chore_dataset[0]
    info = chore_dataset.get_data_info(0)
    sample = item['data_samples']
    gt = sample.gt_instances
    assert item['inputs'].shape == (5, 64, 64) and item['inputs'].dtype == torch.uint8
    assert set(np.unique(item['inputs'][3:].numpy())) <= {0, 255} and item['inputs'][3:].float().mean() > 0
    points = gt.query_points[0].double().numpy()
    assert points.shape == (256, 3)
    # the meshes posed here, independently of the transform: the body model's forward, the template by (R, t)
    model, body_v = posed_training_body(info)
    template = ObjectLibrary('behave', template_dir=f'{behave_synthetic_root}/objects')[info['object_name']]
    R, t = np.asarray(info['object_R'], np.float64), np.asarray(info['object_t'], np.float64)
    obj_v = template.vertices @ R.T + t
    for verts, faces, key in ((body_v, model.faces, 'udf_human'), (obj_v, template.faces, 'udf_object')):
        _, dist, _ = trimesh.proximity.closest_point(trimesh.Trimesh(verts, faces, process=False), points)
        # exact below the 10 cm clamp (exact_below=0.1, max_candidates=32, the configs' settings), >= 10 cm beyond
        np.testing.assert_allclose(np.minimum(gt[key][0].numpy(), 0.1), np.minimum(dist, 0.1), atol=2e-5)
        assert (gt[key][0].numpy() >= dist - 2e-5).all()
    np.testing.assert_allclose(gt.centre_offset[0].numpy() + points, np.broadcast_to(t, points.shape), atol=1e-5)
    np.testing.assert_allclose(rot6d_to_matrix(gt.object_rot6d[0].double()).numpy(), R, atol=1e-5)
    # half the surface samples are near the body, half near the object, 10 % uniform
    assert (gt.udf_human[0, :115] < 0.5).all() and (gt.udf_object[0, 115:230] < 0.5).all()
    assert gt.part_labels.min() >= 0 and gt.part_labels.max() < 14
    # nearest body vertex of the near-body points has the labelled part for most points (another check of labels)
    near = gt.udf_human[0].numpy() < 0.01
    nearest = np.linalg.norm(points[near, None] - body_v[None], axis=-1).argmin(1)
    assert (group_parts(model.part_labels, 14)[nearest] == gt.part_labels[0].numpy()[near]).mean() > 0.8
    assert {'focal', 'principal', 'box_center', 'box_size'} <= set(sample.metainfo)


@pytest.fixture(scope='module')
def tiny_batch(chore_dataset):
    return pseudo_collate([chore_dataset[i] for i in range(2)])


def test_model_overfits_a_tiny_batch(tiny_batch, tiny_chore_model_cfg):
    torch.manual_seed(0)
    model = MODELS.build(tiny_chore_model_cfg)
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = []
    for _ in range(40):
        data = model.data_preprocessor(tiny_batch, True)
        losses = model(**data, mode='loss')
        assert set(losses) == {'loss_udf_human', 'loss_udf_object', 'loss_parts', 'loss_offset', 'loss_rotation'}
        total = sum(losses.values())
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
        history.append({k: float(v.detach()) for k, v in losses.items()})
    first, last = history[0], history[-1]
    assert sum(last.values()) < 0.5 * sum(first.values())
    for key in ('loss_udf_human', 'loss_udf_object', 'loss_offset'):
        assert last[key] < first[key], key


def test_predict_and_grid_query(tiny_batch, tiny_chore_model_cfg):
    model = MODELS.build(tiny_chore_model_cfg).eval()
    with torch.no_grad():
        data = model.data_preprocessor(tiny_batch, False)
        samples = model(**data, mode='predict')
    pred = samples[0].pred_instances
    assert pred.udf_human.shape == (1, 256) and pred.part_prob.shape == (1, 256, 14)
    assert pred.object_centre.shape == (1, 3) and pred.object_R.shape == (1, 3, 3)
    assert 0 <= float(pred.udf_object.min()) and float(pred.udf_object.max()) <= model.clamp + 1e-6
    R = pred.object_R[0].double()
    np.testing.assert_allclose((R.T @ R).numpy(), np.eye(3), atol=1e-5)
    grid = model.grid_query(data['inputs'][0], samples[0], resolution=6, depth_range=(2.0, 3.0), chunk=100)
    assert grid['points'].shape == (216, 3) and grid['udf_human'].shape == (216, )
    assert torch.allclose(grid['points'][:36, 2], torch.full((36, ), 2.0))


def test_network_fields_drive_the_object_fit(tiny_batch, tiny_chore_model_cfg):
    from hoirecon.models.chore.fitting import fit_object, network_field_fn
    model = MODELS.build(tiny_chore_model_cfg).eval()
    data = model.data_preprocessor(tiny_batch, False)
    field_fn = network_field_fn(model, data['inputs'], data['data_samples'])
    R0 = torch.eye(3).expand(2, 3, 3).contiguous()
    t0 = torch.tensor([[0.0, 0.0, 2.5], [0.1, 0.0, 2.6]])
    out = fit_object(field_fn, torch.randn(2, 20, 3) * 0.1, R0, t0, steps=3, lr=0.01)
    assert out['R'].shape == (2, 3, 3) and out['t'].shape == (2, 3) and len(out['loss']) == 3
    assert all(p.grad is None for p in model.parameters())  # the network is not trained by the fit


def test_visible_object_mask_input(chore_dataset, behave_synthetic_root):
    """object_mask='visible' packs the occlusion-aware mask warped by the same crop: inside the full silhouette."""
    from hoirecon.datasets.transforms import PackCHOREInputs
    from mmengine.dataset import Compose
    info = chore_dataset.get_data_info(0)
    steps = [t for t in chore_dataset.pipeline.transforms if not isinstance(t, PackCHOREInputs)]
    results = Compose(steps)(dict(info))
    full = PackCHOREInputs()(dict(results))['inputs'][4] > 0
    visible = PackCHOREInputs(object_mask='visible')(dict(results))['inputs'][4] > 0
    assert 0 < int(visible.sum()) <= int(full.sum())
    assert float((visible & ~full).sum()) <= 0.05 * float(visible.sum())  # JPEG edges
    with pytest.raises(ValueError, match='full'):
        PackCHOREInputs(object_mask='amodal')


def test_fixed_depth_scales_the_scene_about_the_camera(behave_synthetic_root, chore_annotation_dir):
    """CHOREQueryTargets(fixed_depth=d): the targets are those of the scene scaled by d / root depth (the root joint at
    depth d), checked against trimesh distances to the meshes scaled here; the scaled scene projects like the image."""
    from mmengine.registry import init_default_scope

    from hoirecon.registry import DATASETS
    init_default_scope('hoirecon')
    pipeline = [dict(type='LoadHOIImage', with_masks=True),
                dict(type='HOICrop', img_size=64, rot_prob=0.0),
                dict(type='CHOREQueryTargets', body_model=dict(type='SMPLH', model_path='surrogate', gender='male'),
                     object_library=dict(dataset='behave', template_dir=f'{behave_synthetic_root}/objects'),
                     num_points=256, seed=0, exact_below=0.1, fixed_depth=2.2),
                dict(type='PackCHOREInputs')]
    dataset = DATASETS.build(dict(type='CHOREFrameDataset', data_root=behave_synthetic_root, split='train',
                                  body_model=dict(type='SMPLH', model_path='surrogate', gender='male'),
                                  pipeline=pipeline))
    info = dataset.get_data_info(1)
    gt = dataset[1]['data_samples'].gt_instances
    scale = 2.2 / float(info['hoi_t'][2])
    assert abs(scale - 1.0) > 0.05  # the tiny world's person is not already at 2.2 m
    model, body_v = posed_training_body(info)
    template = ObjectLibrary('behave', template_dir=f'{behave_synthetic_root}/objects')[info['object_name']]
    R, t = np.asarray(info['object_R'], np.float64), np.asarray(info['object_t'], np.float64)
    points = gt.query_points[0].double().numpy()
    for verts, faces, key in ((scale * body_v, model.faces, 'udf_human'),
                              (scale * (template.vertices @ R.T + t), template.faces, 'udf_object')):
        _, dist, _ = trimesh.proximity.closest_point(trimesh.Trimesh(verts, faces, process=False), points)
        np.testing.assert_allclose(np.minimum(gt[key][0].numpy(), 0.1), np.minimum(dist, 0.1), atol=2e-5)
    np.testing.assert_allclose(gt.centre_offset[0].numpy() + points, np.broadcast_to(scale * t, points.shape),
                               atol=1e-5)
