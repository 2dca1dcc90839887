"""CHOREReconstructor (the test-time fitting wired for tools/test.py): the body start from part centroids, the whole
fit on exact fields of the ground-truth meshes of the tiny synthetic world, the test pipeline and the checkpoint."""
import copy
import math

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.structures import InstanceData

from hoirecon.models.body_models import SMPLH
from hoirecon.models.chore import CHOREReconstructor, group_parts, initial_body, kabsch
from hoirecon.models.chore.reconstructor import umeyama
from hoirecon.models.chore.geometry import sample_surface
from hoirecon.models.utils import axis_angle_to_matrix
from hoirecon.objects import ObjectLibrary

SURROGATE = dict(type='SMPLH', model_path='surrogate', gender='male')


def angle_deg(Ra, Rb):
    cos = ((Ra.transpose(-1, -2) @ Rb).diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    return torch.rad2deg(torch.arccos(cos.clamp(-1, 1)))


def test_kabsch_recovers_a_rotation_with_weights():
    torch.manual_seed(0)
    src = torch.randn(6, 3, dtype=torch.float64)
    R = axis_angle_to_matrix(torch.tensor([0.4, -2.0, 0.7], dtype=torch.float64))
    dst = src @ R.T + torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    torch.testing.assert_close(kabsch(src, dst, torch.rand(6, dtype=torch.float64) + 0.1), R)
    # a reflection is never returned
    mirrored = dst * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    assert float(torch.linalg.det(kabsch(src, mirrored, torch.ones(6, dtype=torch.float64)))) > 0
    # with a scale (Umeyama)
    sim = umeyama(src, 1.3 * dst, torch.ones(6, dtype=torch.float64))
    torch.testing.assert_close(sim['R'], R)
    torch.testing.assert_close(sim['c'], torch.tensor(1.3, dtype=torch.float64))
    torch.testing.assert_close(src @ (sim['c'] * sim['R']).T + sim['T'], 1.3 * dst)


def test_initial_body_places_the_rest_body_from_part_centroids():
    body = SMPLH('surrogate', gender='male', dtype=torch.float64)
    eye = torch.eye(3, dtype=torch.float64)
    rest = body(betas=torch.zeros(1, 10, dtype=torch.float64), global_orient=eye[None],
                body_pose=eye.expand(1, 21, 3, 3)).vertices[0]
    parts = torch.as_tensor(group_parts(body.part_labels, 14))
    R = axis_angle_to_matrix(torch.tensor([math.pi, 0.5, 0.0], dtype=torch.float64))
    t = torch.tensor([0.2, -0.1, 2.7], dtype=torch.float64)
    points = rest @ R.T + t
    out = initial_body(points, parts, rest, parts, anchors=(0, 1, 8, 9))
    assert int(out['anchors']) == 4
    torch.testing.assert_close(out['R'], R)
    torch.testing.assert_close(out['t'], t)
    # with only two anchor parts seen: upright, facing the camera, at the centroid
    few = initial_body(points[parts <= 1], parts[parts <= 1], rest, parts, anchors=(0, 1, 8, 9))
    assert int(few['anchors']) == 2
    torch.testing.assert_close(few['R'], torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64)))


def exact_fields(humans, human_parts, objects, object_R, object_t, num_parts=14):
    """Fields of known meshes per image: distances to dense surface samples (B, S, 3), the part of the nearest human
    sample (as sharp logits), the true centre offsets and 6D rotation."""
    def fields(points):
        d_h, i_h = torch.cdist(points, humans).min(-1)
        d_o = torch.cdist(points, objects).min(-1).values
        parts = torch.nn.functional.one_hot(torch.gather(human_parts, 1, i_h), num_parts).float() * 10.0
        rot6d = torch.cat([object_R[:, :, 0], object_R[:, :, 1]], -1)[:, None].expand(-1, points.shape[1], 6)
        return dict(udf=torch.stack([d_h, d_o], -1), parts=parts, centre_offset=object_t[:, None] - points,
                    object_rot6d=rot6d)

    return fields


@pytest.fixture(scope='module')
def test_batch(behave_synthetic_root, chore_annotation_dir):
    from mmengine.registry import init_default_scope

    import hoirecon.datasets  # noqa: F401
    from hoirecon.registry import DATASETS
    init_default_scope('hoirecon')
    pipeline = [dict(type='LoadHOIImage', with_masks=True),
                dict(type='HOICrop', img_size=32, rot_prob=0.0),
                dict(type='PackCHOREInputs', object_mask='visible', body_target='gendered',
                     meta_keys=('focal', 'principal', 'box_center', 'box_size', 'object_name', 'gender',
                                'person_mask_path', 'object_mask_path'))]
    dataset = DATASETS.build(dict(type='BEHAVEFrameDataset', data_root=behave_synthetic_root, split='train',
                                  body_model=SURROGATE, pipeline=pipeline))
    return pseudo_collate([dataset[i] for i in (0, 3, 6)])


def test_the_test_pipeline_packs_the_hoi_ground_truth(test_batch):
    sample = test_batch['data_samples'][0]
    assert test_batch['inputs'][0].shape == (5, 32, 32)
    for key in ('betas', 'global_orient', 'body_pose', 'transl', 'object_R', 'object_t'):
        assert key in sample.gt_instances, key
    assert 'query_points' not in sample.gt_instances and sample.metainfo['gender'] in ('male', 'female')


@pytest.mark.parametrize('joint', [{}, dict(joint_steps=40)], ids=['separate', 'joint_stage'])
def test_fit_on_exact_fields_recovers_the_meshes(behave_synthetic_root, test_batch, joint):
    """The whole test-time path (grid, starts, fits) on exact fields of the ground-truth meshes of each scene scaled
    about the camera so that its root joint is at depth_ref (CHOREQueryTargets' fixed depth): the scale, the object
    pose and the body come back close to the truth from the grid evidence alone, with or without CHORE's joint stage
    (its contacts both ways) after the separate fits."""
    torch.manual_seed(0)
    library = dict(dataset='behave', template_dir=f'{behave_synthetic_root}/objects')
    # the scale converges slowly (50 steps left 4-7 % on two of the images on a fresh machine, 2026-12-07; 120: 0-4 %)
    model = CHOREReconstructor(encoder=dict(depth=18, num_stages=1), hidden=(8, ), depth_ref=2.6,
                               body_model=SURROGATE, object_library=library,
                               fitting=dict(grid_resolution=20, body_steps=100, scale_steps=120, object_steps=60,
                                            vertex_stride=16, **joint))
    samples = test_batch['data_samples']
    body = SMPLH('surrogate', gender='male')
    parts = torch.as_tensor(group_parts(body.part_labels, 14))
    keys = ('betas', 'global_orient', 'body_pose', 'transl', 'object_R', 'object_t', 'hoi_t')
    gt = {k: torch.cat([s.gt_instances[k] for s in samples]) for k in keys}
    with torch.no_grad():
        truth = body(betas=gt['betas'], global_orient=gt['global_orient'], body_pose=gt['body_pose'],
                     transl=gt['transl']).vertices
    lib = ObjectLibrary(**library)
    rng = np.random.default_rng(0)
    objects = []
    for s, R, t in zip(samples, gt['object_R'], gt['object_t']):
        template = lib[s.metainfo['object_name']]
        objects.append(torch.as_tensor(sample_surface(template.vertices, template.faces, 1500, rng)[0]).float()
                       @ R.T + t)
    s = 2.6 / gt['hoi_t'][:, 2]  # (B,) the scale that puts each root at depth_ref
    assert float((s - 1).abs().max()) > 0.05
    field_fn = exact_fields(s[:, None, None] * truth[:, ::3], parts[::3].expand(len(samples), -1),
                            s[:, None, None] * torch.stack(objects), gt['object_R'], s[:, None] * gt['object_t'])
    out = model.reconstruct(test_batch['inputs'], samples, field_fn=field_fn)
    scale = torch.cat([o.pred_instances.scene_scale for o in out])
    # compared in the fields' scene (the output divides it by the fitted scale: the person of mean size)
    pred = torch.cat([o.pred_instances.human_vertices for o in out]) * scale[:, None, None]
    init = torch.cat([o.init_instances.human_vertices for o in out])
    err_init = (init - s[:, None, None] * truth).norm(dim=-1).mean(-1)
    err = (pred - s[:, None, None] * truth).norm(dim=-1).mean(-1)
    R = torch.cat([o.pred_instances.object_R for o in out])
    t = torch.cat([o.pred_instances.object_t for o in out]) * scale[:, None]
    print('body vertex error (cm) start', (err_init * 100).tolist(), 'fitted', (err * 100).tolist())
    print('object', angle_deg(R, gt['object_R']).tolist(), 'deg',
          ((t - s[:, None] * gt['object_t']).norm(dim=-1) * 100).tolist(), 'cm; scene scale', scale.tolist(),
          'true', s.tolist())
    # the ground-truth body has its own betas, the fit the mean shape: a few cm and a few per cent of scale remain
    assert bool(((scale - s).abs() < 0.05).all())
    assert bool((err < 0.4 * err_init).all()) and float(err.max()) < 0.1
    assert float(angle_deg(R, gt['object_R']).max()) < 5.0
    assert float((t - s[:, None] * gt['object_t']).norm(dim=-1).max()) < 0.03


def test_a_field_net_checkpoint_loads_strictly(tiny_chore_model_cfg):
    from hoirecon.registry import MODELS
    net = MODELS.build(tiny_chore_model_cfg)
    cfg = dict(tiny_chore_model_cfg, type='CHOREReconstructor', body_model=SURROGATE, fitting=dict(body_steps=3))
    model = MODELS.build(cfg)
    model.load_state_dict(net.state_dict(), strict=True)
    model.body_model('cpu')  # built on use, never a key of the checkpoint
    assert set(model.state_dict()) == set(net.state_dict())
    with pytest.raises(ValueError, match='unknown fitting settings'):
        MODELS.build(dict(cfg, fitting=dict(body_step=3)))


@pytest.mark.parametrize('body_type, gender', [('SMPL', 'neutral'), ('SMPLX', 'neutral')])
def test_the_fit_runs_with_every_body_family(test_batch, body_type, gender):
    """SMPL has 23 body-pose joints, SMPL-H / SMPL-X 21: the starts and fits take the body model's own count."""
    body_cfg = dict(type=body_type, model_path='surrogate', gender=gender)
    model = CHOREReconstructor(encoder=dict(depth=18, num_stages=1), hidden=(8, ), depth_ref=2.6, body_model=body_cfg,
                               fitting=dict(grid_resolution=6, body_steps=1, scale_steps=1, object_steps=1,
                                            vertex_stride=64))
    model.eval()
    body = model.body_model('cpu')
    joints = dict(body.POSE_INPUTS)['body_pose']
    with torch.no_grad():
        out = model.test_step(dict(inputs=test_batch['inputs'], data_samples=copy.deepcopy(test_batch['data_samples'])))
    pred = out[0].pred_instances
    assert pred.body_pose.shape == (1, joints, 3, 3) and pred.human_vertices.shape == (1, body.num_vertices, 3)
    assert torch.isfinite(pred.human_vertices).all() and torch.isfinite(pred.object_t).all()


def true_scene(samples):
    """The ground truth of ``samples``: their packed ``gt_instances`` fields (dict of (B, ...)), the posed true
    bodies (B, V, 3), each vertex's part (V,) and the scale that puts each root joint at depth_ref = 2.6 m (B,)."""
    keys = ('betas', 'global_orient', 'body_pose', 'transl', 'object_R', 'object_t', 'hoi_t')
    gt = {k: torch.cat([s.gt_instances[k] for s in samples]) for k in keys}
    body = SMPLH('surrogate', gender='male')
    with torch.no_grad():
        truth = body(betas=gt['betas'], global_orient=gt['global_orient'], body_pose=gt['body_pose'],
                     transl=gt['transl']).vertices
    return gt, truth, torch.as_tensor(group_parts(body.part_labels, 14)), 2.6 / gt['hoi_t'][:, 2]


def with_estimates(samples, noise_rad, seed=0):
    """Copies of ``samples`` carrying their ground-truth body, each joint turned by a random ``noise_rad``, as the
    estimate (what LoadBodyEstimate packs)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for sample in samples:
        sample = copy.deepcopy(sample)
        gt = sample.gt_instances
        turn = axis_angle_to_matrix(torch.randn(1, 21, 3, generator=gen) * noise_rad / 3 ** 0.5)
        sample.observations = InstanceData(estimate_global_orient=gt.global_orient.clone(),
                                           estimate_body_pose=turn @ gt.body_pose, estimate_betas=gt.betas.clone())
        out.append(sample)
    return out


def test_the_fit_starts_from_the_estimate(behave_synthetic_root, test_batch):  # noqa: F811
    """On exact fields of the true meshes (each scene scaled to the fixed person depth, as in
    test_chore_reconstructor), a body estimate 0.15 rad per joint off the truth starts the fit much closer than the
    fields-only start, and the fit ends within a few cm; body_start='fields' ignores it, 'estimate' requires it."""
    torch.manual_seed(0)
    library = dict(dataset='behave', template_dir=f'{behave_synthetic_root}/objects')
    samples = test_batch['data_samples']
    gt, truth, parts, s = true_scene(samples)
    blobs = [s[i] * gt['object_t'][i] + 0.05 * torch.randn(400, 3) for i in range(len(samples))]
    field_fn = exact_fields(s[:, None, None] * truth[:, ::3], parts[::3].expand(len(samples), -1),
                            torch.stack(blobs), gt['object_R'], s[:, None] * gt['object_t'])

    def run(batch, body_start, steps=60):
        model = CHOREReconstructor(encoder=dict(depth=18, num_stages=1), hidden=(8, ), depth_ref=2.6,
                                   body_model=SURROGATE, object_library=library,
                                   fitting=dict(grid_resolution=20, body_steps=steps, scale_steps=30,
                                                object_steps=2, vertex_stride=16, body_start=body_start))
        out = model.reconstruct(test_batch['inputs'], batch, field_fn=field_fn)
        scale = torch.cat([o.pred_instances.scene_scale for o in out])
        pred = torch.cat([o.pred_instances.human_vertices for o in out]) * scale[:, None, None]
        init = torch.cat([o.init_instances.human_vertices for o in out])
        errors = [(v - s[:, None, None] * truth).norm(dim=-1).mean(-1) for v in (init, pred)]
        return out, errors

    estimated = with_estimates(samples, 0.15)
    out, (start_est, fit_est) = run(estimated, 'auto')
    _, (start_fields, fit_fields) = run(samples, 'auto')
    print('start (cm) estimate', (start_est * 100).tolist(), 'fields', (start_fields * 100).tolist())
    print('fit (cm) estimate', (fit_est * 100).tolist(), 'fields', (fit_fields * 100).tolist())
    # the start keeps the estimate's orientation, pose and shape
    for o, e in zip(out, estimated):
        torch.testing.assert_close(o.init_instances.global_orient, e.observations.estimate_global_orient)
        torch.testing.assert_close(o.init_instances.body_pose, e.observations.estimate_body_pose)
        torch.testing.assert_close(o.pred_instances.betas, e.observations.estimate_betas)
    assert bool((start_est < 0.6 * start_fields).all())
    assert float(fit_est.max()) < 0.04 and bool((fit_est <= fit_fields + 0.005).all())
    # 'fields' ignores an estimate: the same start as without one
    _, (start_ignored, _) = run(estimated, 'fields', steps=1)
    torch.testing.assert_close(start_ignored, start_fields)
    with pytest.raises(ValueError, match='has no body estimate'):
        run(samples, 'estimate', steps=1)
    with pytest.raises(ValueError, match="body_start"):
        CHOREReconstructor(encoder=dict(depth=18, num_stages=1), hidden=(8, ), fitting=dict(body_start='mocap'))


def test_the_mask_term_moves_the_object_onto_its_mask(behave_synthetic_root, test_batch):
    """Fields whose object distance says nothing and whose votes put the object 17 cm off its true centre (in the
    fields' scene): without the mask term the object stays at the votes; with it (the dataset's visible object mask
    and person mask, read from the metainfo paths) its projected centre comes back near the truth's. A sample
    without mask paths is named in the error."""
    library = dict(dataset='behave', template_dir=f'{behave_synthetic_root}/objects')
    samples = test_batch['data_samples']
    gt, truth, parts, s = true_scene(samples)
    shift = torch.tensor([0.15, -0.08, 0.0])
    human = exact_fields(s[:, None, None] * truth[:, ::3], parts[::3].expand(len(samples), -1),
                         s[:, None, None] * truth[:, ::50], gt['object_R'], s[:, None] * gt['object_t'] + shift)

    def field_fn(points):
        out = human(points)
        out['udf'] = torch.stack([out['udf'][..., 0], torch.full_like(out['udf'][..., 1], 0.05)], -1)
        return out

    focal = torch.stack([torch.as_tensor(np.asarray(x.metainfo['focal'], np.float32)) for x in samples])
    principal = torch.stack([torch.as_tensor(np.asarray(x.metainfo['principal'], np.float32)) for x in samples])

    def centre_px(t):
        return t[:, :2] / t[:, 2:] * focal + principal

    def run(batch, w_mask):
        model = CHOREReconstructor(encoder=dict(depth=18, num_stages=1), hidden=(8, ), depth_ref=2.6,
                                   body_model=SURROGATE, object_library=library,
                                   fitting=dict(grid_resolution=12, body_steps=10, scale_steps=5, object_steps=80,
                                                object_lr=0.005, vertex_stride=16, w_centre=0.0, w_rotation=0.0,
                                                w_mask=w_mask, mask_size=48, mask_sigma=1.0))
        out = model.reconstruct(test_batch['inputs'], batch, field_fn=field_fn)
        t = torch.cat([o.pred_instances.object_t for o in out])
        return (centre_px(t) - centre_px(gt['object_t'])).norm(dim=-1)

    still, masked = run(samples, 0.0), run(samples, 1.0)
    print('object centre error (px) without the mask term', still.tolist(), 'with', masked.tolist())
    assert bool((still > 2.0).all())
    assert bool((masked < 0.4 * still).all())
    bare = copy.deepcopy(samples)
    bare[1].set_metainfo(dict(object_mask_path=None))
    with pytest.raises(KeyError, match='object mask term'):
        run(bare, 1.0)
