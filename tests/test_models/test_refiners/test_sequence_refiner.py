"""SequenceSmoothingRefiner: per-frame terms shared with StackFLOWRefiner, smoothness, windows, shared betas."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from hoirecon.apis import sequence_refiner_config
from hoirecon.models.refiners import SequenceSmoothingRefiner, StackFLOWRefiner, sequence_windows, window_owners
from hoirecon.models.refiners.sequence_refiner import subset_problem
from hoirecon.models.utils import axis_angle_to_matrix, hoi_frame, perspective_project
from hoirecon.objects import ObjectLibrary
from hoirecon.registry import BODY_MODELS, MODELS, REFINERS
from hoirecon.testing.hoi_batch import make_hoi_batch
from hoirecon.testing.tiny_model import TINY_FEATURE_DIM, tiny_reconstructor_cfg

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
LOSSES = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'stackflow.py')).model.losses.to_dict()
DATA_TERMS = dict(person_keypoints=1.0, object_correspondences=1.0, pose_posterior=0.0, relation_posterior=0.0)
FOCAL, PRINCIPAL = (500., 500.), (256., 192.)


@pytest.fixture(scope='module')
def body(surrogate_body_root):
    return BODY_MODELS.build(dict(type='SMPLH', model_path='surrogate', gender='male'))


@pytest.fixture(scope='module')
def model(body):
    torch.manual_seed(0)
    return MODELS.build(tiny_reconstructor_cfg(LOSSES, 'StackedFlowHead')).eval()


def _smooth_sequence(body, frames=20, seed=3, num_correspondences=64):
    """A smooth ground truth (one person, one stool) between two random poses, its exact observations and a start
    with per-frame noise (the jitter of a per-frame network)."""
    _, samples = make_hoi_batch(body, ObjectLibrary('behave'), batch_size=2, seed=seed, object_names=('stool', ))
    ends = {k: torch.cat([s.gt_instances[k] for s in samples]) for k in
            ('betas', 'global_orient', 'body_pose', 'hoi_t', 'rel_R', 'rel_t')}
    gen = torch.Generator().manual_seed(seed)
    s = (0.5 - 0.5 * torch.cos(torch.linspace(0, np.pi, frames)))[:, None]  # eased 0 -> 1

    def blend(a, b):
        return a + (b - a) * s.reshape(-1, *([1] * a.dim()))

    pose_aa = 0.15 * torch.randn(2, 21, 3, generator=gen)
    orient_aa = torch.tensor([np.pi, 0., 0.]) + 0.1 * torch.randn(2, 3, generator=gen)
    rel_aa = 0.4 * torch.randn(2, 3, generator=gen)
    gt = dict(betas=ends['betas'][:1].expand(frames, -1).clone(),
              global_orient=axis_angle_to_matrix(blend(orient_aa[0], orient_aa[1])),
              body_pose=axis_angle_to_matrix(blend(pose_aa[0], pose_aa[1])),
              hoi_t=blend(ends['hoi_t'][0], ends['hoi_t'][0] + torch.tensor([0.1, 0.0, 0.05])),
              rel_R=axis_angle_to_matrix(blend(rel_aa[0], rel_aa[1])),
              rel_t=blend(ends['rel_t'][0], ends['rel_t'][1]))
    gt['object_R'], gt['object_t'] = hoi_frame.compose_object_pose(gt['global_orient'], gt['hoi_t'], gt['rel_R'],
                                                                   gt['rel_t'])
    focal, principal = torch.tensor([FOCAL]).repeat(frames, 1), torch.tensor([PRINCIPAL]).repeat(frames, 1)
    transl = hoi_frame.body_translation(body, gt['betas'], gt['hoi_t'])
    with torch.no_grad():
        posed = body(betas=gt['betas'], global_orient=gt['global_orient'], body_pose=gt['body_pose'], transl=transl)
    gt['joints'] = posed.joints[:, :22]
    kpts = perspective_project(body.body25(posed.vertices), focal, principal)
    vertices = torch.as_tensor(ObjectLibrary('behave')['stool'].vertices, dtype=torch.float32)
    x3d = vertices[torch.linspace(0, len(vertices) - 1, num_correspondences).round().long()][None].repeat(frames, 1, 1)
    x2d = perspective_project(x3d @ gt['object_R'].transpose(1, 2) + gt['object_t'][:, None], focal, principal)
    observations = dict(person_kpts=torch.cat([kpts, torch.full((frames, 25, 1), 0.9)], dim=2), corr_x3d=x3d,
                        corr_x2d=x2d, corr_w2d=torch.ones(frames, num_correspondences, 2))
    init = dict(betas=gt['betas'], global_orient=axis_angle_to_matrix(0.05 * torch.randn(frames, 3, generator=gen))
                @ gt['global_orient'],
                body_pose=axis_angle_to_matrix(0.05 * torch.randn(frames, 21, 3, generator=gen)) @ gt['body_pose'],
                hoi_t=gt['hoi_t'] + 0.03 * torch.randn(frames, 3, generator=gen),
                object_R=axis_angle_to_matrix(0.1 * torch.randn(frames, 3, generator=gen)) @ gt['object_R'],
                object_t=gt['object_t'] + 0.04 * torch.randn(frames, 3, generator=gen))
    labels = torch.full((frames, ), samples[0].gt_instances.object_label.item(), dtype=torch.long)
    feature = torch.randn(frames, TINY_FEATURE_DIM, generator=gen)
    return dict(gt=gt, init=init, observations=observations, camera=dict(focal=focal, principal=principal),
                labels=labels, feature=feature)


@pytest.fixture(scope='module')
def sequence(body):
    return _smooth_sequence(body)


def _run(refiner, model, seq, **kwargs):
    return refiner(model.refinement_problem(seq['feature'], seq['labels']), init=seq['init'],
                   observations=seq['observations'], camera=seq['camera'], **kwargs)


def _joints(body, params):
    with torch.no_grad():
        posed = body(betas=params['betas'], global_orient=params['global_orient'], body_pose=params['body_pose'],
                     transl=params['transl'])
    return posed.joints[:, :22]


def _acceleration_error(points, truth):
    """Mean over frames and points of |second difference - true second difference| (metres per frame^2)."""
    accel = points[2:] - 2 * points[1:-1] + points[:-2]
    true = truth[2:] - 2 * truth[1:-1] + truth[:-2]
    return float((accel - true).norm(dim=-1).mean())


# ---------------------------------------------------------------------------------------------- (a) frame terms
def test_without_smoothness_one_window_is_the_stackflow_refiner(model, sequence):
    settings = dict(num_stages=2, steps_per_stage=15, lr=1e-2)
    stackflow = _run(StackFLOWRefiner(**settings), model, sequence)
    smoothed = _run(SequenceSmoothingRefiner(smooth_weight=0.0, **settings), model, sequence)
    for key in ('betas', 'body_pose', 'global_orient', 'hoi_t', 'object_R', 'object_t', 'human_vertices'):
        torch.testing.assert_close(smoothed.params[key], stackflow.params[key], rtol=1e-5, atol=1e-6)
    for term, value in stackflow.losses.items():
        torch.testing.assert_close(smoothed.losses[term], value, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(smoothed.history, stackflow.history, rtol=1e-5)
    # frame_order: the rows shuffled with their time index give the same frames back in the rows' order
    perm = torch.randperm(20, generator=torch.Generator().manual_seed(0))
    shuffled = dict(sequence, init={k: v[perm] for k, v in sequence['init'].items()},
                    observations={k: v[perm] for k, v in sequence['observations'].items()},
                    camera={k: v[perm] for k, v in sequence['camera'].items()}, labels=sequence['labels'][perm],
                    feature=sequence['feature'][perm])
    again = _run(SequenceSmoothingRefiner(smooth_weight=0.0, **settings), model, shuffled, frame_order=perm)
    torch.testing.assert_close(again.params['object_t'], stackflow.params['object_t'][perm], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------- (b) smoothing
def test_smoothing_lowers_the_acceleration_error_without_raising_the_frame_error(body, model, sequence):
    settings = dict(num_stages=2, steps_per_stage=40, lr=1e-2, loss_weights=DATA_TERMS)
    gt = sequence['gt']
    alone = _run(StackFLOWRefiner(**settings), model, sequence).params
    smooth = _run(SequenceSmoothingRefiner(smooth_weight=100.0, **settings), model, sequence).params
    start_joints = _joints(body, dict(sequence['init'], transl=hoi_frame.body_translation(
        body, sequence['init']['betas'], sequence['init']['hoi_t'])))
    errors = {}
    for name, params in (('alone', alone), ('smooth', smooth)):
        joints = _joints(body, params)
        errors[name] = dict(joint_accel=_acceleration_error(joints, gt['joints']),
                            object_accel=_acceleration_error(params['object_t'], gt['object_t']),
                            joints=float((joints - gt['joints']).norm(dim=-1).mean()),
                            object=float((params['object_t'] - gt['object_t']).norm(dim=-1).mean()))
    start_accel = _acceleration_error(start_joints, gt['joints'])
    assert errors['alone']['joint_accel'] < start_accel  # the frame terms already remove some jitter
    assert errors['smooth']['joint_accel'] < 0.8 * errors['alone']['joint_accel'], errors
    assert errors['smooth']['object_accel'] < 0.8 * errors['alone']['object_accel'], errors
    # per-frame accuracy is kept: not more than 5 mm (or 10 %) worse
    for key in ('joints', 'object'):
        assert errors['smooth'][key] < max(errors['alone'][key] + 0.005, 1.1 * errors['alone'][key]), errors


# ---------------------------------------------------------------------------------------------- (c) windows
def test_windows_cover_every_frame_once_from_its_most_central_window():
    windows = sequence_windows(300, 128, 64)
    assert windows == [(0, 128), (64, 192), (128, 256), (192, 300)]  # the last one is shorter
    owners = window_owners(300, windows)
    assert owners.shape == (300, ) and bool((owners >= 0).all())
    for i in range(300):
        start, end = windows[owners[i]]
        assert start <= i < end

        def centrality(window):
            s, e = window
            return min(i - s if s > 0 else np.inf, e - 1 - i if e < 300 else np.inf)

        containing = [k for k, w in enumerate(windows) if w[0] <= i < w[1]]
        best = max(centrality(windows[k]) for k in containing)
        assert centrality(windows[owners[i]]) == best
        assert owners[i] == min(k for k in containing if centrality(windows[k]) == best)  # ties: earlier window
    # inner windows give their central 64 frames; the first its first 96, the last its last 76
    assert [int((owners == k).sum()) for k in range(4)] == [96, 64, 64, 76]
    assert owners[95] == 0 and owners[96] == 1 and owners[159] == 1 and owners[160] == 2 and owners[224] == 3
    assert sequence_windows(100, 128, 64) == [(0, 100)] and window_owners(100, [(0, 100)]).eq(0).all()
    assert sequence_windows(129, 128, 64) == [(0, 128), (64, 129)]
    with pytest.raises(ValueError, match='stride'):
        sequence_windows(300, 128, 200)


def test_a_frame_takes_the_result_of_its_owner_window(body):
    """12 frames in windows of 6 every 3: each frame's output equals that of its owner window refined alone."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_reconstructor_cfg(LOSSES, 'StackedFlowHead')).eval().double()
    seq = _smooth_sequence(body, frames=12, seed=5)
    seq = {key: ({k: v.double() for k, v in value.items()} if isinstance(value, dict) else
                 value if key == 'labels' else value.double()) for key, value in seq.items()}
    settings = dict(num_stages=2, steps_per_stage=10, lr=1e-2, smooth_weight=100.0)
    windows = sequence_windows(12, 6, 3)
    owners = window_owners(12, windows)
    result = _run(SequenceSmoothingRefiner(window=6, stride=3, **settings), model, seq)
    assert result.params['object_t'].shape == (12, 3)
    for k, (start, end) in enumerate(windows):
        part = {key: ({kk: vv[start:end] for kk, vv in value.items()} if isinstance(value, dict) and key != 'gt'
                      else value if key == 'gt' else value[start:end]) for key, value in seq.items()}
        alone = _run(SequenceSmoothingRefiner(window=64, stride=32, **settings), model, part)
        owned = torch.nonzero(owners[start:end] == k)[:, 0]
        for key in ('object_t', 'hoi_t', 'body_pose', 'betas'):
            torch.testing.assert_close(result.params[key][start + owned], alone.params[key][owned], rtol=1e-7,
                                       atol=1e-9)
    # a window_problem factory (flows on the window's rows only) gives the same result
    factory = _run(SequenceSmoothingRefiner(window=6, stride=3, **settings), model, seq,
                   window_problem=lambda index: model.refinement_problem(seq['feature'][index], seq['labels'][index]))
    torch.testing.assert_close(factory.params['object_t'], result.params['object_t'], rtol=1e-7, atol=1e-9)


def test_subset_problem_reads_the_rows_of_the_full_problem(model, sequence):
    problem = model.refinement_problem(sequence['feature'], sequence['labels'])
    index = torch.tensor([3, 4, 5, 9])
    sub = subset_problem(problem, index)
    direct = model.refinement_problem(sequence['feature'][index], sequence['labels'][index])
    pose = torch.randn(4, 22, 6)
    relation = torch.randn(4, model.relation_encoder.latent_dim)
    with torch.no_grad():
        got, expected = sub.log_prob(pose, relation), direct.log_prob(pose, relation)
    for key in ('pose', 'relation', 'pose_z', 'relation_z'):
        torch.testing.assert_close(got[key], expected[key], rtol=1e-4, atol=1e-4)
    assert subset_problem(problem, torch.arange(20)) is problem


# ---------------------------------------------------------------------------------------------- (d) betas
def test_betas_are_shared_within_a_window(model, sequence):
    init = dict(sequence['init'], betas=sequence['init']['betas'] + 0.3 * torch.randn(
        20, 10, generator=torch.Generator().manual_seed(2)))
    seq = dict(sequence, init=init)
    # optimised: one betas per window (windows of 8 every 4 over 20 frames: owners 0..3 own 6, 4, 4, 6 frames)
    refiner = SequenceSmoothingRefiner(window=8, stride=4, num_stages=1, steps_per_stage=10, lr=1e-2,
                                       optimize=('betas', 'body_pose', 'hoi_R', 'hoi_t', 'rel_R', 'rel_t'))
    result = _run(refiner, model, seq)
    owners = window_owners(20, sequence_windows(20, 8, 4))
    betas = result.params['betas']
    for k in owners.unique().tolist():
        rows = betas[owners == k]
        torch.testing.assert_close(rows, rows[:1].expand_as(rows), rtol=0, atol=0)
    assert not torch.allclose(betas[owners == 0][0], betas[owners == 1][0])
    # not optimised: each window's betas are the mean of its starting betas
    fixed = _run(SequenceSmoothingRefiner(window=8, stride=4, num_stages=1, steps_per_stage=3), model, seq)
    for k, (start, end) in enumerate(sequence_windows(20, 8, 4)):
        rows = fixed.params['betas'][owners == k]
        torch.testing.assert_close(rows, init['betas'][start:end].mean(0, keepdim=True).expand_as(rows))


# ---------------------------------------------------------------------------------------------- inputs, registry
def test_bad_inputs_name_the_argument_and_one_frame_warns(model, sequence):
    refiner = SequenceSmoothingRefiner(num_stages=1, steps_per_stage=2)
    with pytest.raises(ValueError, match=r"init\['hoi_t'\]"):
        _run(refiner, model, dict(sequence, init=dict(sequence['init'], hoi_t=sequence['init']['hoi_t'][:5])))
    with pytest.raises(ValueError, match='frame_order'):
        _run(refiner, model, sequence, frame_order=torch.zeros(20, dtype=torch.long))
    with pytest.raises(ValueError, match='frame_order'):
        _run(refiner, model, sequence, frame_order=torch.arange(19))
    with pytest.raises(ValueError, match='groups'):
        _run(refiner, model, sequence, groups=torch.zeros(20, dtype=torch.long))
    with pytest.raises(KeyError, match='init lacks'):
        _run(refiner, model, dict(sequence, init={k: v for k, v in sequence['init'].items() if k != 'object_R'}))
    with pytest.raises(KeyError, match='smooth_terms'):
        SequenceSmoothingRefiner(smooth_terms=dict(pose=1.0))
    with pytest.raises(TypeError, match='StackFLOWRefiner'):
        SequenceSmoothingRefiner(steps=3)
    one = {key: ({k: v[:1] for k, v in value.items()} if isinstance(value, dict) and key != 'gt' else
                 value if key == 'gt' else value[:1]) for key, value in sequence.items()}
    with pytest.warns(UserWarning, match='one frame'):
        result = _run(refiner, model, one)
    alone = _run(StackFLOWRefiner(num_stages=1, steps_per_stage=2), model, one)
    torch.testing.assert_close(result.params['object_t'], alone.params['object_t'])


def test_non_finite_frames_are_carried_through_and_do_not_pull_their_neighbours(model, sequence):
    init = {k: v.clone() for k, v in sequence['init'].items()}
    init['object_t'][7] = float('nan')
    seq = dict(sequence, init=init)
    result = _run(SequenceSmoothingRefiner(num_stages=1, steps_per_stage=10, lr=1e-2), model, seq)
    assert torch.isnan(result.params['object_t'][7]).all()
    assert torch.isfinite(result.params['object_t'][torch.arange(20) != 7]).all()
    assert set(result.losses) >= {'person_keypoints', 'smooth_body_pose', 'smooth_object_t'}


def test_config_bases_build_the_paper_settings():
    expected = dict(sequence_behave_extended=(100, 2e-3, 0.1, 2048.), sequence_intercap=(200, 5e-3, 1.0, 1920.))
    for name, (steps, lr, keypoints, width) in expected.items():
        cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_', 'refiners', f'{name}.py'))
        refiner = REFINERS.build(sequence_refiner_config(cfg))
        assert isinstance(refiner, SequenceSmoothingRefiner), name
        assert refiner.frame_refiner.object_init is None, name  # starts from the per-frame result
        assert (refiner.num_stages, refiner.steps_per_stage, refiner.lr) == (2, steps, lr), name
        assert (refiner.window, refiner.stride, refiner.smooth_weight) == (128, 64, 100.0), name
        assert refiner.loss_weights['person_keypoints'] == keypoints, name
        assert refiner.frame_refiner.reference_width == width, name
        assert refiner.optimize == ('body_pose', 'hoi_R', 'hoi_t', 'rel_R', 'rel_t'), name


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_runs_on_the_inputs_device(model, sequence):
    cuda = model.to('cuda')
    seq = {key: ({k: v.cuda() for k, v in value.items()} if isinstance(value, dict) and key != 'gt' else
                 value if key == 'gt' else value.cuda()) for key, value in sequence.items()}
    result = _run(SequenceSmoothingRefiner(window=8, stride=4, num_stages=1, steps_per_stage=5), cuda, seq)
    assert result.params['object_t'].device.type == 'cuda'
    model.to('cpu')


def test_the_reconstructor_can_run_it_as_its_refiner(body):
    """``model.refiner`` = the sequence refiner: ``predict`` refines its batch as one sequence (rows in order)."""
    inputs, samples = make_hoi_batch(body, ObjectLibrary('behave'), batch_size=3, num_correspondences=32, seed=5)
    torch.manual_seed(0)
    model = MODELS.build(tiny_reconstructor_cfg(LOSSES, 'StackedFlowHead', refiner=dict(
        type='SequenceSmoothingRefiner', num_stages=1, steps_per_stage=3))).eval()
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), False)
    out = model.predict(data['inputs'], data['data_samples'])
    assert all('init_instances' in sample for sample in out)
    betas = torch.cat([sample.pred_instances.betas for sample in out])
    torch.testing.assert_close(betas, betas[:1].expand_as(betas))  # one window: one betas
