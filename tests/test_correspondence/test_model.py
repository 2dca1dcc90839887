"""The correspondence network: losses, the geometry of its reprojection term, predict, and the PnP step."""
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from scipy.spatial.transform import Rotation

from hoirecon.models.correspondence import crop_grid, pose_from_correspondences, used_rows
from hoirecon.registry import DATASETS, MODELS

SIZE = 16


@pytest.fixture(scope='module')
def model_and_batch(behave_synthetic_root, tiny_annotation_dir, tiny_model_cfg):
    pipeline = [dict(type='LoadHOIImage'), dict(type='ObjectCrop', img_size=64, out_size=SIZE, padding=1.5),
                dict(type='PackObjectCorrespondenceInputs')]
    dataset = DATASETS.build(dict(type='ObjectCorrespondenceDataset', data_root=behave_synthetic_root, split='train',
                                  pipeline=pipeline))
    with DefaultScope.overwrite_default_scope('hoirecon'):
        model = MODELS.build(tiny_model_cfg)
    torch.manual_seed(0)
    model.init_weights()
    batch = pseudo_collate([dataset[i] for i in range(min(4, len(dataset)))])
    return model, batch


def test_losses_are_finite_and_reach_every_part(model_and_batch):
    model, batch = model_and_batch
    model.train()
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_x3d', 'loss_mask', 'loss_w2d', 'w2d_mean_residual'}
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    model.zero_grad()
    total.backward()
    for name in ('backbone.conv1.weight', 'head.predict.weight', 'label_film.weight'):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_normalised_targets_span_the_unit_box(model_and_batch):
    model, batch = model_and_batch
    labels = torch.cat([s.gt_instances.object_label for s in batch['data_samples']])
    x3d = torch.cat([s.gt_instances.coord_x3d for s in batch['data_samples']])
    full = torch.cat([s.gt_instances.coord_full for s in batch['data_samples']]) > 0
    normalised = model.normalise(x3d, labels)
    # within the bounding box, up to the depth sampling of edge pixels (test_targets.py)
    assert normalised[full].abs().max() <= 0.6
    assert normalised[full].abs().quantile(0.9) <= 0.51
    assert torch.allclose(model.denormalise(normalised, labels), x3d, atol=1e-6)


def test_true_coordinates_reproject_onto_their_cells_and_the_weights_learn_the_residual(model_and_batch):
    model, batch = model_and_batch
    samples = batch['data_samples']
    labels = torch.cat([s.gt_instances.object_label for s in samples])
    gt = torch.cat([s.gt_instances.coord_x3d for s in samples])
    targets = dict(x3d=model.normalise(gt, labels), full=torch.cat([s.gt_instances.coord_full for s in samples]),
                   visible=torch.cat([s.gt_instances.coord_visible for s in samples]),
                   centre=model.coord_centre[labels], extent=model.coord_extent[labels],
                   object_R=torch.cat([s.gt_instances.object_R for s in samples]),
                   object_t=torch.cat([s.gt_instances.object_t for s in samples]),
                   cam_K=model._meta(samples, 'cam_K', 'cpu'), crop_box=model._meta(samples, 'crop_box', 'cpu'))
    perfect = targets['x3d'].permute(0, 3, 1, 2).clone()
    log_w = torch.zeros(len(samples), 2, SIZE, SIZE, requires_grad=True)
    outputs = dict(x3d=perfect, log_w2d=log_w, mask=torch.zeros(len(samples), 1, SIZE, SIZE))
    losses = model.head.loss(outputs, targets)
    # the cell centre vs the pixel whose coordinates it took (nearest pixel, float16): under a pixel
    assert losses['w2d_mean_residual'] < 0.75
    assert losses['loss_x3d'] == pytest.approx(0.0, abs=1e-7)
    # shift the coordinates: the Laplace NLL is minimal at w = 1 / |r| per cell and axis
    outputs['x3d'] = perfect + 0.05
    optimiser = torch.optim.Adam([log_w], lr=0.1)
    for _ in range(300):
        optimiser.zero_grad()
        model.head.loss(outputs, targets)['loss_w2d'].backward()
        optimiser.step()
    metres = model.denormalise(outputs['x3d'].permute(0, 2, 3, 1).reshape(len(samples), -1, 3), labels)
    camera = metres @ targets['object_R'].transpose(1, 2) + targets['object_t'][:, None]
    pixels = camera[..., :2] / camera[..., 2:] * torch.stack([targets['cam_K'][:, 0, 0], targets['cam_K'][:, 1, 1]],
                                                             -1)[:, None] + targets['cam_K'][:, None, :2, 2]
    residual = (pixels - crop_grid(targets['crop_box'], SIZE)).abs().reshape(len(samples), SIZE, SIZE, 2)
    on = (targets['full'] > 0) & (residual.min(-1).values > 0.2)
    learnt = log_w.detach().exp().permute(0, 2, 3, 1)
    assert torch.allclose(learnt[on], 1 / residual[on], rtol=0.05)


def test_predict_returns_rows_in_the_refiner_format(model_and_batch):
    model, batch = model_and_batch
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(batch, False)
        samples = model(**data, mode='predict')
    for sample in samples:
        pred = sample.pred_instances
        assert pred.corr_x3d.shape == (1, SIZE * SIZE, 3) and pred.corr_x2d.shape == (1, SIZE * SIZE, 2)
        assert pred.corr_w2d.shape == (1, SIZE * SIZE, 2) and pred.object_R.shape == (1, 3, 3)
        expected = torch.as_tensor(crop_grid(np.asarray(sample.metainfo['crop_box']), SIZE))
        assert torch.allclose(pred.corr_x2d[0].double(), expected, atol=1e-3)
        off_mask = pred.mask_prob[0] < model.mask_threshold
        assert (pred.corr_w2d[0][off_mask] == 0).all()
        assert torch.equal(pred.corr_used, used_rows(pred.corr_w2d, model.pnp_cfg['min_weight']))
        assert bool(pred.pnp_ok[0]) == bool(torch.isfinite(pred.object_R).all())


def test_pnp_recovers_a_pose_from_correspondences_with_outliers():
    rng = np.random.default_rng(0)
    K = np.array([[250.0, 0, 256], [0, 250.0, 192], [0, 0, 1]])
    R, t = Rotation.random(random_state=1).as_matrix(), np.array([0.2, -0.1, 2.5])
    x3d = rng.uniform(-0.3, 0.3, size=(400, 3))
    camera = x3d @ R.T + t
    x2d = camera[:, :2] / camera[:, 2:] * 250.0 + [256, 192] + rng.normal(scale=0.3, size=(400, 2))
    x2d[:120] = rng.uniform(0, 400, size=(120, 2))  # 30 % outliers
    w2d = np.ones((400, 2))
    w2d[-50:] = 0.0  # padding rows are not used
    R_hat, t_hat, inliers, used = pose_from_correspondences(x3d, x2d, w2d, K, reprojection_error=2.0)
    assert used == 350 and 200 <= inliers <= 290
    assert np.degrees(Rotation.from_matrix(R_hat @ R.T).magnitude()) < 0.5
    assert np.linalg.norm(t_hat - t) < 0.02
    assert pose_from_correspondences(x3d[:3], x2d[:3], w2d[:3], K)[0] is None


def test_a_symmetric_twin_of_the_true_coordinates_costs_nothing_with_the_symmetries(model_and_batch, tiny_model_cfg):
    """With ``symmetries`` the model's buffer holds each object's symmetries; a prediction equal to a twin of the
    rendered coordinates then has no coordinate loss and reprojects as well as the truth (the w2d term uses the twin
    pose), while without symmetries the same prediction is penalised."""
    _, batch = model_and_batch
    with DefaultScope.overwrite_default_scope('hoirecon'):
        model = MODELS.build(dict(tiny_model_cfg, symmetries=dict()))
    samples = batch['data_samples']
    labels = torch.cat([s.gt_instances.object_label for s in samples])
    counts = [int((~torch.isclose(g, torch.eye(3)).all(-1).all(-1)).sum()) + 1 for g in model.coord_symmetries]
    assert model.coord_symmetries.shape[0] == model.num_objects and max(counts) > 1
    symmetric = [i for i, label in enumerate(labels.tolist()) if counts[label] > 1]
    if not symmetric:
        pytest.skip('no symmetric object among the first training images')
    targets = dict(x3d=model.normalise(torch.cat([s.gt_instances.coord_x3d for s in samples]), labels),
                   full=torch.cat([s.gt_instances.coord_full for s in samples]),
                   visible=torch.cat([s.gt_instances.coord_visible for s in samples]),
                   centre=model.coord_centre[labels], extent=model.coord_extent[labels],
                   object_R=torch.cat([s.gt_instances.object_R for s in samples]),
                   object_t=torch.cat([s.gt_instances.object_t for s in samples]),
                   cam_K=model._meta(samples, 'cam_K', 'cpu'), crop_box=model._meta(samples, 'crop_box', 'cpu'))
    twin = targets['x3d'].clone()
    for i in symmetric:  # the object's second symmetry, in normalised coordinates
        G, extent = model.coord_symmetries[labels[i], 1], targets['extent'][i]
        twin[i] = (targets['x3d'][i] * extent) @ G.T / extent
    outputs = dict(x3d=twin.permute(0, 3, 1, 2), log_w2d=torch.zeros(len(samples), 2, SIZE, SIZE),
                   mask=torch.zeros(len(samples), 1, SIZE, SIZE))
    aware = model.head.loss(outputs, dict(targets, symmetries=model.coord_symmetries[labels]))
    plain = model.head.loss(outputs, targets)
    assert aware['loss_x3d'] == pytest.approx(0.0, abs=1e-6)
    assert aware['w2d_mean_residual'] < 0.75  # as for the true coordinates (the test above)
    assert plain['loss_x3d'] > 0.01 and plain['w2d_mean_residual'] > 2.0
