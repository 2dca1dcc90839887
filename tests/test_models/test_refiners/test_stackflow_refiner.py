"""StackFLOWRefiner, its reprojection terms and the RANSAC PnP initialiser."""
import copy
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from hoirecon.models.refiners import (RefinementProblem, StackFLOWRefiner, correspondence_reprojection_loss,
                                      keypoint_reprojection_loss, solve_object_pnp)
from hoirecon.models.refiners.pnp import PnPCheck, check_pnp, mask_grid, points_on_mask
from hoirecon.models.relation_encoders import DirectRelativePose
from hoirecon.models.utils import axis_angle_to_matrix, matrix_to_rot6d
from hoirecon.objects import ObjectLibrary
from hoirecon.registry import BODY_MODELS, MODELS, REFINERS
from hoirecon.testing.hoi_batch import make_hoi_batch
from hoirecon.testing.tiny_model import TINY_FEATURE_DIM, tiny_reconstructor_cfg

FEATURE = TINY_FEATURE_DIM
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
LOSSES = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'stackflow.py')).model.losses.to_dict()
#: data terms only: with exact observations the true reconstruction is a minimum
DATA_TERMS = dict(person_keypoints=1.0, object_correspondences=1.0, pose_posterior=0.0, relation_posterior=0.0)


def _project_np(points, focal, principal):
    return points[..., :2] / points[..., 2:] * focal[:, None] + principal[:, None]


# ---------------------------------------------------------------------------------------------- reprojection terms
def test_keypoint_loss_matches_numpy():
    rng = np.random.default_rng(0)
    joints = rng.normal(0, 0.3, (3, 25, 3)) + [0, 0, 3]
    kpts = np.concatenate([rng.uniform(0, 500, (3, 25, 2)), rng.uniform(0, 1, (3, 25, 1))], axis=2)
    kpts[1, :, 2] = 0  # image without keypoints
    focal, principal = rng.uniform(400, 600, (3, 2)), rng.uniform(200, 300, (3, 2))
    expected = (np.abs(_project_np(joints, focal, principal) - kpts[..., :2]) * kpts[..., 2:] * 4.0).mean(axis=(1, 2))
    got = keypoint_reprojection_loss(*(torch.tensor(a) for a in (joints, kpts, focal, principal)), pixel_scale=4.0)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)
    assert got[1] == 0


def test_correspondence_loss_matches_numpy_and_ignores_padding():
    rng = np.random.default_rng(1)
    R = axis_angle_to_matrix(torch.tensor(rng.normal(0, 1, (2, 3)))).numpy()
    t = np.array([[0.1, 0.0, 2.5], [-0.2, 0.1, 3.0]])
    x3d = rng.normal(0, 0.2, (2, 50, 3))
    x2d = rng.uniform(0, 500, (2, 50, 2))
    w2d = rng.uniform(0.1, 1, (2, 50, 2))
    w2d[0, 30:] = 0  # padding rows
    focal, principal = np.full((2, 2), 500.0), np.full((2, 2), 250.0)
    expected = []
    for i, n in ((0, 30), (1, 50)):
        pixels = _project_np((x3d[i, :n] @ R[i].T + t[i])[None], focal[i:i + 1], principal[i:i + 1])[0]
        expected.append((np.abs(pixels - x2d[i, :n]) * w2d[i, :n]).sum() / (2 * n))
    got = correspondence_reprojection_loss(*(torch.tensor(a) for a in (R, t, x3d, x2d, w2d, focal, principal)))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)
    none = correspondence_reprojection_loss(*(torch.tensor(a) for a in (R, t, x3d, x2d, 0 * w2d, focal, principal)))
    assert torch.equal(none, torch.zeros(2, dtype=none.dtype))


# ---------------------------------------------------------------------------------------------- PnP
def _correspondences(rng, R, t, K, num=300, noise=0.5, outliers=0.2):
    x3d = rng.uniform(-0.2, 0.2, (num, 3))
    cam = x3d @ R.T + t
    x2d = cam[:, :2] / cam[:, 2:] * K[[0, 1], [0, 1]] + K[:2, 2] + rng.normal(0, noise, (num, 2))
    bad = rng.choice(num, int(outliers * num), replace=False)
    x2d[bad] += rng.uniform(-80, 80, (len(bad), 2))
    return x3d, x2d, np.ones((num, 2))


def _outlier_problem():
    """A posed object's 300 correspondences with 20 % outliers, and the RANSAC PnP of them (3 px)."""
    rng = np.random.default_rng(2)
    K = np.array([[600., 0, 320], [0, 620., 240], [0, 0, 1]])
    R = cv2.Rodrigues(np.array([0.3, -1.2, 0.5]))[0]
    t = np.array([0.2, -0.1, 2.8])
    x3d, x2d, w2d = _correspondences(rng, R, t, K)
    return K, R, t, x3d, x2d, w2d, solve_object_pnp(x3d, x2d, w2d, K, reprojection_error=3.0)


def test_pnp_recovers_the_pose_despite_outliers():
    K, R, t, x3d, x2d, w2d, result = _outlier_problem()
    assert result is not None and len(result.inliers) >= 200
    angle = np.degrees(np.arccos(np.clip((np.trace(result.R.T @ R) - 1) / 2, -1, 1)))
    assert angle < 1.0 and np.linalg.norm(result.t - t) < 0.02
    again = solve_object_pnp(x3d, x2d, w2d, K, reprojection_error=3.0)
    np.testing.assert_array_equal(again.R, result.R)  # deterministic for a seed


def test_pnp_gives_up_without_enough_points():
    rng = np.random.default_rng(3)
    K = np.array([[600., 0, 320], [0, 600., 240], [0, 0, 1]])
    x3d, x2d, w2d = _correspondences(rng, np.eye(3), np.array([0, 0, 3.0]), K, num=5, outliers=0)
    assert solve_object_pnp(x3d, x2d, w2d, K) is None
    x3d, x2d, w2d = _correspondences(rng, np.eye(3), np.array([0, 0, 3.0]), K, num=50, outliers=0)
    assert solve_object_pnp(x3d, x2d, np.zeros_like(w2d), K) is None  # all rows are padding
    with pytest.raises(ValueError, match='same number of rows'):
        solve_object_pnp(x3d, x2d[:10], w2d, K)


def _pose_mask(x3d, R, t, K, shape=(480, 640)):
    """A mask drawn by hand: a filled disc of radius 6 px around every projected point."""
    cam = x3d @ R.T + t
    pixels = cam[:, :2] / cam[:, 2:] * K[[0, 1], [0, 1]] + K[:2, 2]
    mask = np.zeros(shape, np.uint8)
    for x, y in pixels:
        cv2.circle(mask, (int(round(x)), int(round(y))), 6, 255, -1)
    return mask


def test_mask_grid_reads_back_the_pixels_of_the_mask():
    mask = np.zeros((300, 400), np.uint8)
    mask[50:150, 100:180] = 1
    mask[120:150, 100:130] = 0  # a notch
    box, grid = mask_grid(mask, size=32)
    np.testing.assert_array_equal(box, [100, 50, 180, 150])
    rng = np.random.default_rng(0)
    pixels = rng.uniform([60, 20], [220, 180], (4000, 2))
    truth = mask[np.clip(pixels[:, 1].astype(int), 0, 299), np.clip(pixels[:, 0].astype(int), 0, 399)] > 0
    agree = points_on_mask(pixels, box, grid) == truth
    assert agree.mean() > 0.98  # the grid is 32 x 32 cells of 2.5 x 3.1 px: only edge cells may differ
    assert not points_on_mask(np.array([[10., 10.], [399., 299.]]), box, grid).any()
    assert not mask_grid(np.zeros((5, 5)))[1].any()


def test_pnp_check_accepts_a_good_pose_and_names_each_failure():
    K, R, t, x3d, x2d, w2d, result = _outlier_problem()
    mask = _pose_mask(x3d, R, t, K)
    box, grid = mask_grid(mask)
    ok, reason = check_pnp(result, x3d, x2d, K, PnPCheck(), box, grid)
    assert ok and reason.startswith('pnp:') and 'on the mask' in reason
    assert not check_pnp(None, x3d, x2d, K)[0]
    assert 'inliers <' in check_pnp(result, x3d, x2d, K, PnPCheck(min_inliers=10_000))[1]
    assert 'inlier ratio' in check_pnp(result, x3d, x2d, K, PnPCheck(min_inlier_ratio=0.95))[1]
    assert 'mean inlier error' in check_pnp(result, x3d, x2d, K, PnPCheck(max_mean_error=0.1))[1]
    # the same correspondences but the object mask elsewhere in the image (the real-frame fault): rejected
    moved = np.roll(mask, 200, axis=1)
    ok, reason = check_pnp(result, x3d, x2d, K, PnPCheck(), *mask_grid(moved))
    assert not ok and 'on the object mask' in reason


def test_a_pnp_from_a_handful_of_rows_among_thousands_is_rejected():
    """11 consistent rows among 3000 random ones: RANSAC finds them, the ratio check refuses the pose."""
    rng = np.random.default_rng(5)
    K = np.array([[976., 0, 1018], [0, 976., 780], [0, 0, 1]])
    R, t = np.eye(3), np.array([0.1, 0.2, 2.5])
    x3d, x2d, w2d = _correspondences(rng, R, t, K, num=3000, noise=0.3, outliers=0.0)
    x2d[11:] = rng.uniform([0, 0], [2048, 1536], (2989, 2))  # all but 11 rows are noise
    result = solve_object_pnp(x3d, x2d, w2d, K, reprojection_error=8.0, iterations=500)
    ok, reason = check_pnp(result, x3d, x2d, K)
    assert not ok, reason


# ---------------------------------------------------------------------------------------------- refiner
@pytest.fixture(scope='module')
def library():
    return ObjectLibrary('behave')


@pytest.fixture(scope='module')
def body(surrogate_body_root):
    return BODY_MODELS.build(dict(type='SMPLH', model_path='surrogate', gender='male'))


def _model(refiner=None, head_type='StackedFlowHead'):
    torch.manual_seed(0)
    return MODELS.build(tiny_reconstructor_cfg(LOSSES, head_type, refiner=refiner)).eval()


@pytest.fixture(scope='module')
def model(body):
    return _model()


@pytest.fixture(scope='module')
def problem(body, library):
    """A batch of 3 with exact observations and a start perturbed from the truth."""
    _, samples = make_hoi_batch(body, library, batch_size=3, num_correspondences=128, seed=4)
    gt = {k: torch.cat([s.gt_instances[k] for s in samples]) for k in
          ('betas', 'global_orient', 'body_pose', 'hoi_t', 'object_R', 'object_t')}
    gen = torch.Generator().manual_seed(1)
    init = dict(gt)
    init['hoi_t'] = gt['hoi_t'] + torch.tensor([0.03, -0.02, 0.05])
    init['object_R'] = axis_angle_to_matrix(0.15 * torch.randn(3, 3, generator=gen)) @ gt['object_R']
    init['object_t'] = gt['object_t'] + torch.tensor([0.08, 0.05, -0.1])
    observations = {k: torch.cat([s.observations[k] for s in samples]) for k in s_keys(samples)}
    camera = dict(focal=torch.tensor([[500., 500.]] * 3), principal=torch.tensor([[256., 192.]] * 3))
    labels = torch.cat([s.gt_instances.object_label for s in samples])
    feature = torch.randn(3, FEATURE, generator=gen)
    return dict(gt=gt, init=init, observations=observations, camera=camera, labels=labels, feature=feature)


def s_keys(samples):
    return sorted(samples[0].observations.keys())


def _run(refiner, model, problem, index=None, observations=None, **kwargs):
    pick = slice(None) if index is None else slice(index, index + 1)
    obs = observations if observations is not None else problem['observations']
    return refiner(model.refinement_problem(problem['feature'][pick], problem['labels'][pick]),
                   init={k: v[pick] for k, v in problem['init'].items()},
                   observations={k: v[pick] for k, v in obs.items()},
                   camera={k: v[pick] for k, v in problem['camera'].items()}, **kwargs)


def test_data_terms_pull_the_start_back_to_the_truth(model, problem):
    refiner = StackFLOWRefiner(num_stages=2, steps_per_stage=100, lr=1e-2, loss_weights=DATA_TERMS,
                               optimize=('hoi_t', 'rel_R', 'rel_t'))
    result = _run(refiner, model, problem)
    start = (problem['init']['object_t'] - problem['gt']['object_t']).norm(dim=1)
    end = (result.params['object_t'] - problem['gt']['object_t']).norm(dim=1)
    assert bool((end < 0.2 * start).all()), (start, end)
    assert (result.params['hoi_t'] - problem['gt']['hoi_t']).norm(dim=1).max() < 0.02
    assert result.history[-1] < 0.1 * result.history[0]
    # camera-space composition: object = hoi_R rel_R, hoi_R rel_t + hoi_t
    p = result.params
    torch.testing.assert_close(p['object_R'], p['global_orient'] @ p['rel_R'])
    torch.testing.assert_close(p['object_t'], (p['global_orient'] @ p['rel_t'][..., None])[..., 0] + p['hoi_t'])
    assert p['human_vertices'].shape == (3, 6890, 3) and p['body_pose'].shape == (3, 21, 3, 3)


def test_images_are_refined_independently_and_missing_inputs_switch_terms_off_per_image(problem):
    # float64: Adam normalises each gradient, so float32 rounding differences between a batch of 3 and a batch of 1
    # would be amplified on parameters the terms hardly constrain (e.g. wrist twists)
    model = _model().double()
    problem = {key: ({k: v.double() for k, v in value.items()} if isinstance(value, dict) else
                     value if key == 'labels' else value.double()) for key, value in problem.items()}
    refiner = StackFLOWRefiner(num_stages=2, steps_per_stage=15)
    observations = dict(problem['observations'])
    observations['person_kpts'] = observations['person_kpts'].clone()
    observations['person_kpts'][1] = 0  # image 1: no OpenPose detection
    observations['corr_w2d'] = observations['corr_w2d'].clone()
    observations['corr_w2d'][2] = 0  # image 2: no correspondences
    batched = _run(refiner, model, problem, observations=observations)
    alone_1 = _run(StackFLOWRefiner(num_stages=2, steps_per_stage=15, loss_weights=dict(person_keypoints=0.0)),
                   model, problem, index=1)
    alone_2 = _run(StackFLOWRefiner(num_stages=2, steps_per_stage=15, loss_weights=dict(object_correspondences=0.0)),
                   model, problem, index=2)
    alone_0 = _run(refiner, model, problem, index=0)
    for i, alone in ((0, alone_0), (1, alone_1), (2, alone_2)):
        for key in ('object_t', 'hoi_t', 'betas', 'body_pose'):
            torch.testing.assert_close(batched.params[key][i:i + 1], alone.params[key], atol=1e-8, rtol=1e-8)
    assert float(batched.losses['person_keypoints'][1]) == 0.0
    assert float(batched.losses['object_correspondences'][2]) == 0.0


def test_objects_sharing_a_person_share_its_body(model, problem):
    refiner = StackFLOWRefiner(num_stages=1, steps_per_stage=20)
    observations = dict(problem['observations'])
    result = _run(refiner, model, problem, observations=observations, groups=torch.tensor([0, 0, 1]))
    for key in ('betas', 'body_pose', 'global_orient', 'hoi_t'):
        torch.testing.assert_close(result.params[key][0], result.params[key][1])
    assert not torch.allclose(result.params['object_t'][0], result.params['object_t'][1])
    with pytest.raises(ValueError, match='groups'):
        _run(refiner, model, problem, groups=torch.tensor([0, 2, 2]))


def test_non_finite_start_is_carried_through_without_touching_the_others(model, problem):
    refiner = StackFLOWRefiner(num_stages=1, steps_per_stage=10)
    init = {k: v.clone() for k, v in problem['init'].items()}
    init['object_R'][1] = float('nan')
    result = refiner(model.refinement_problem(problem['feature'], problem['labels']), init=init,
                     observations=problem['observations'], camera=problem['camera'])
    assert torch.isnan(result.params['object_R'][1]).all()
    assert torch.isfinite(result.params['object_R'][[0, 2]]).all()
    alone = _run(refiner, model, problem, index=0)
    torch.testing.assert_close(result.params['object_t'][:1], alone.params['object_t'], atol=2e-4, rtol=1e-4)


def test_pnp_start_puts_the_object_on_its_correspondences(model, problem):
    refiner = StackFLOWRefiner(num_stages=0, object_init='pnp', pnp_cfg=dict(reprojection_error=2.0))
    result = _run(refiner, model, problem)
    assert bool(result.pnp_used.all())
    torch.testing.assert_close(result.params['object_t'], problem['gt']['object_t'], atol=1e-3, rtol=0)
    # the person is untouched with zero steps
    torch.testing.assert_close(result.params['hoi_t'], problem['init']['hoi_t'])


def test_pnp_start_is_refused_when_its_points_miss_the_object_mask(model, problem):
    refiner = StackFLOWRefiner(num_stages=0, object_init='pnp', pnp_cfg=dict(reprojection_error=2.0))
    accepted = _run(refiner, model, problem)
    assert all(status.startswith('pnp:') for status in accepted.pnp_status)
    # object masks: the first image's is where its object is; the others' are an empty corner of the image
    obs = dict(problem['observations'])
    grids, boxes = [], []
    for i in range(3):
        x3d = obs['corr_x3d'][i].double().numpy()
        real = obs['corr_w2d'][i].sum(dim=1).numpy() > 0
        K = np.array([[500., 0, 256], [0, 500., 192], [0, 0, 1]])
        mask = _pose_mask(x3d[real], problem['gt']['object_R'][i].double().numpy(),
                          problem['gt']['object_t'][i].double().numpy(), K, (384, 512))
        if i:
            mask = np.zeros_like(mask)
            mask[:20, :20] = 255
        box, grid = mask_grid(mask)
        boxes.append(torch.from_numpy(box))
        grids.append(torch.from_numpy(grid))
    obs.update(object_mask_box=torch.stack(boxes), object_mask_grid=torch.stack(grids))
    result = _run(refiner, model, problem, observations=obs)
    assert result.pnp_used.tolist() == [True, False, False]
    assert result.pnp_status[0].startswith('pnp:') and 'on the mask' in result.pnp_status[0]
    for status in result.pnp_status[1:]:
        assert status.startswith('network pose kept: PnP rejected') and 'object mask' in status
    torch.testing.assert_close(result.params['object_t'][1:], problem['init']['object_t'][1:])


def test_pixel_scale_auto_follows_the_image_width_and_a_fixed_one_is_warned_about(model, problem):
    camera = dict(problem['camera'], image_width=torch.tensor([512., 2048., 1024.]))
    auto = StackFLOWRefiner(pixel_scale='auto')
    torch.testing.assert_close(auto.pixel_scales(camera), torch.tensor([4.0, 1.0, 2.0]))
    with pytest.raises(KeyError, match='image_width'):
        auto.pixel_scales(problem['camera'])
    with pytest.raises(ValueError, match="'auto'"):
        StackFLOWRefiner(pixel_scale='automatic')
    fixed = StackFLOWRefiner(pixel_scale=4.0)
    with pytest.warns(UserWarning, match=r"set for images 512 px wide .* \[512, 1024, 2048\] px"):
        torch.testing.assert_close(fixed.pixel_scales(camera), torch.full((3, ), 4.0))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        fixed.pixel_scales(dict(problem['camera'], image_width=torch.tensor([512., 600., 400.])))
    # 'auto' on 512 px images refines exactly like the fixed x4 it replaces
    refiners = [StackFLOWRefiner(num_stages=1, steps_per_stage=5, loss_weights=DATA_TERMS, pixel_scale=scale)
                for scale in ('auto', 4.0)]
    camera512 = dict(problem['camera'], image_width=torch.full((3, ), 512.))
    runs = [refiner(model.refinement_problem(problem['feature'], problem['labels']), init=problem['init'],
                    observations=problem['observations'], camera=camera512) for refiner in refiners]
    torch.testing.assert_close(runs[0].params['object_t'], runs[1].params['object_t'])
    assert runs[0].history == runs[1].history


def test_posterior_terms_lower_the_flow_latents(model, problem):
    refiner = StackFLOWRefiner(num_stages=1, steps_per_stage=30, loss_weights=dict(
        person_keypoints=0.0, object_correspondences=0.0, pose_posterior=1.0, relation_posterior=1.0))
    before = StackFLOWRefiner(num_stages=0, loss_weights=refiner.loss_weights)
    start, end = _run(before, model, problem), _run(refiner, model, problem)
    for term in ('pose_posterior', 'relation_posterior'):
        assert bool((end.losses[term] < start.losses[term]).all()), term


def test_regression_head_has_no_posterior_and_says_so(body, problem):
    model = _model(head_type='RegressionHead')
    with pytest.warns(UserWarning, match='no likelihood'):
        result = _run(StackFLOWRefiner(num_stages=1, steps_per_stage=2), model, problem)
    assert set(result.losses) == {'person_keypoints', 'object_correspondences'}


def test_the_model_builds_the_problem_in_one_place(model, problem):
    refinement = model.refinement_problem(problem['feature'], problem['labels'])
    assert refinement.body_model is model.body_model and refinement.batch_size == 3
    assert refinement.has_likelihood and not refinement.has_offsets  # DirectRelativePose has no offsets
    assert refinement.dtype == torch.float32 and refinement.head_name == 'StackedFlowHead'
    pose = matrix_to_rot6d(torch.cat((problem['gt']['global_orient'][:, None], problem['gt']['body_pose']), 1))
    relation = torch.randn(3, model.relation_encoder.latent_dim)
    with torch.no_grad():
        direct = model.head.log_prob(problem['feature'], problem['labels'], pose, relation)
        conditioned = refinement.log_prob(pose, relation)
    for key in ('pose', 'relation', 'pose_z', 'relation_z'):
        torch.testing.assert_close(conditioned[key], direct[key], atol=1e-4, rtol=1e-4)
    regression = _model(head_type='RegressionHead')
    assert not regression.refinement_problem(problem['feature'], problem['labels']).has_likelihood


def test_the_refiner_runs_from_a_problem_object_without_a_model(body, problem):
    """A toy problem: the surrogate body, a direct relative-pose encoding and a Gaussian prior around the identity."""
    identity = matrix_to_rot6d(torch.eye(3))
    seen = []

    def log_prob(pose_6d, relation):
        seen.append((tuple(pose_6d.shape), tuple(relation.shape)))
        pose_z, relation_z = (pose_6d - identity).flatten(1), relation
        return dict(pose=-0.5 * (pose_z ** 2).sum(1), relation=-0.5 * (relation_z ** 2).sum(1), pose_z=pose_z,
                    relation_z=relation_z)

    toy = RefinementProblem(body_model=body, labels=problem['labels'], human_anchor_indices=torch.zeros(0).long(),
                            encode_relation=DirectRelativePose().encode, log_prob=log_prob)
    refiner = StackFLOWRefiner(num_stages=1, steps_per_stage=40, lr=1e-2, optimize=('hoi_t', 'rel_R', 'rel_t'),
                               loss_weights=dict(DATA_TERMS, pose_posterior=1.0, relation_posterior=0.0))
    result = refiner(toy, init=problem['init'], observations=problem['observations'], camera=problem['camera'])
    assert seen and seen[0] == ((3, 22, 6), (3, 9))
    assert set(result.losses) == {'person_keypoints', 'object_correspondences', 'pose_posterior'}
    start = (problem['init']['object_t'] - problem['gt']['object_t']).norm(dim=1)
    end = (result.params['object_t'] - problem['gt']['object_t']).norm(dim=1)
    assert bool((end < 0.5 * start).all()), (start, end)
    # the posterior term is the toy prior's mean z^2 of the (unchanged) pose
    pose = matrix_to_rot6d(torch.cat((problem['init']['global_orient'][:, None], problem['init']['body_pose']), 1))
    torch.testing.assert_close(result.losses['pose_posterior'], ((pose - identity) ** 2).flatten(1).mean(1))
    with pytest.warns(UserWarning, match='the head has no likelihood'):
        refiner(RefinementProblem(body_model=body, labels=problem['labels'], human_anchor_indices=torch.zeros(0).long(),
                                  encode_relation=DirectRelativePose().encode),
                init=problem['init'], observations=problem['observations'], camera=problem['camera'])


def test_config_errors_name_the_setting():
    with pytest.raises(KeyError, match='unknown loss_weights'):
        StackFLOWRefiner(loss_weights=dict(keypoints=1.0))
    with pytest.raises(KeyError, match='optimize'):
        StackFLOWRefiner(optimize=('betas', 'pose'))
    with pytest.raises(ValueError, match='object_init'):
        StackFLOWRefiner(object_init='ransac')
    # StackFLOW's per-dataset settings (method §6; lr 5e-2 for InterCap and BEHAVE-extended, the official configs)
    expected = dict(stackflow_behave=(150, 0.1, 0.04), stackflow_intercap=(300, 1.0, 0.05),
                    stackflow_behave_extended=(200, 0.1, 0.05))
    for name, (steps, keypoints, lr) in expected.items():
        cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_', 'refiners', f'{name}.py'))
        refiner = REFINERS.build(cfg.refiner)
        assert (refiner.num_stages, refiner.steps_per_stage, refiner.lr) == (2, steps, lr), name
        assert refiner.loss_weights == dict(person_keypoints=keypoints, object_correspondences=10.0,
                                            pose_posterior=1.0, relation_posterior=1.0, offsets=0.0), name


def test_predict_keeps_the_network_output_next_to_the_refined_one(body, library):
    inputs, samples = make_hoi_batch(body, library, batch_size=2, num_correspondences=64, seed=5)
    plain = _model()
    refining = _model(refiner=dict(type='StackFLOWRefiner', num_stages=1, steps_per_stage=5))
    data = plain.data_preprocessor(dict(inputs=inputs, data_samples=copy.deepcopy(samples)), False)
    expected = plain.predict(data['inputs'], data['data_samples'])
    data = refining.data_preprocessor(dict(inputs=inputs, data_samples=copy.deepcopy(samples)), False)
    out = refining.predict(data['inputs'], data['data_samples'])
    for before, sample in zip(expected, out):
        for key in ('object_t', 'hoi_t', 'betas'):
            torch.testing.assert_close(sample.init_instances[key], before.pred_instances[key])
        assert not torch.allclose(sample.pred_instances.object_t, before.pred_instances.object_t)
        assert sample.pred_instances.human_vertices.shape == (1, 6890, 3)


def test_one_adam_through_the_stages_makes_the_stage_factor_count_and_keeps_the_shape(model, problem):
    """docs/fidelity.md row 7. With a fresh Adam per stage, Adam's invariance to a constant loss scale makes the
    w0 / (1 + 10 stage) factor a no-op (same trajectory as no decay); StackFLOW's one Adam carries its moments into
    stage 2, where the smaller weights then take smaller steps. StackFLOW also keeps the body shape."""
    def params(**kwargs):
        refiner = StackFLOWRefiner(num_stages=2, steps_per_stage=20, lr=1e-2, loss_weights=DATA_TERMS, **kwargs)
        return _run(refiner, model, problem).params

    fresh = params(optimizer_per_stage=True, weight_decay=10.0)
    fresh_no_decay = params(optimizer_per_stage=True, weight_decay=0.0)
    torch.testing.assert_close(fresh['object_t'], fresh_no_decay['object_t'], rtol=0, atol=1e-5)
    one = params(weight_decay=10.0)
    one_no_decay = params(weight_decay=0.0)
    assert (one['object_t'] - one_no_decay['object_t']).abs().max() > 1e-3
    torch.testing.assert_close(one['betas'], problem['init']['betas'])  # the default keeps the shape
    moved = params(optimize=('betas', 'body_pose', 'hoi_R', 'hoi_t', 'rel_R', 'rel_t'))
    assert (moved['betas'] - problem['init']['betas']).abs().max() > 0
    assert StackFLOWRefiner().optimize == ('body_pose', 'hoi_R', 'hoi_t', 'rel_R', 'rel_t')
    assert not StackFLOWRefiner().optimizer_per_stage


def test_cosine_schedule_decays_the_rate_to_zero_and_constant_is_stackflow():
    params = [torch.zeros(3, requires_grad=True)]
    for per_stage in (False, True):
        cosine = StackFLOWRefiner(num_stages=2, steps_per_stage=5, lr=0.1, lr_schedule='cosine',
                                  optimizer_per_stage=per_stage)
        rates = [optimizer.param_groups[0]['lr'] for _, optimizer in cosine.adam_steps(params)]
        expected = [0.05 * (1 + np.cos(np.pi * t / 10)) for t in range(10)]
        np.testing.assert_allclose(rates, expected, rtol=1e-12)  # one curve over both stages
    constant = StackFLOWRefiner(num_stages=2, steps_per_stage=5, lr=0.1)
    assert constant.lr_schedule == 'constant'
    assert [optimizer.param_groups[0]['lr'] for _, optimizer in constant.adam_steps(params)] == [0.1] * 10
    with pytest.raises(ValueError, match='lr_schedule'):
        StackFLOWRefiner(lr_schedule='step')


def test_cosine_schedule_ends_closer_to_where_the_data_pull_than_a_constant_rate(model, problem):
    """With noisy-free data terms a constant rate keeps hopping around the optimum by about its step size; the
    cosine rate settles there (what makes per-frame results of a video less jittery)."""
    def error(schedule):
        refiner = StackFLOWRefiner(num_stages=1, steps_per_stage=60, lr=5e-2, loss_weights=DATA_TERMS,
                                   optimize=('hoi_t', 'rel_R', 'rel_t'), lr_schedule=schedule)
        result = _run(refiner, model, problem)
        return (result.params['object_t'] - problem['gt']['object_t']).norm(dim=1).mean()

    cosine, constant = error("cosine"), error("constant")
    assert cosine < 0.7 * constant, (cosine, constant)
