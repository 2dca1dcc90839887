import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist
from scipy.spatial.transform import Rotation

from hoirecon.evaluation.functional import evaluate_hoi_frames, mesh_sample_key, sample_surface
from hoirecon.evaluation.functional.hoi_frames import _kdtree_frame, _unique_transforms
from hoirecon.evaluation.functional.kdtree import _pykdtree

NUM_SAMPLES = 800
#: kd-tree libraries of the CPU path available here.
KDTREE_LIBRARIES = ['scipy'] + (['pykdtree'] if _pykdtree() is not None else [])


def make_frame(rng: np.random.Generator, object_subdivisions: int = 1):
    """A small ellipsoid 'body' and a sphere 'object' in camera space, with a perturbed prediction."""
    body = trimesh.creation.icosphere(subdivisions=2)
    obj = trimesh.creation.icosphere(subdivisions=object_subdivisions)
    gt_human = np.asarray(body.vertices) * [0.25, 0.8, 0.15] + [0, 0.2, 2.5]
    gt_object = np.asarray(obj.vertices) * 0.15 + [0.4, 0.3, 2.4]
    noise = rng.normal(scale=0.01, size=gt_human.shape)
    pred_human = gt_human + noise + [0.03, -0.02, 0.05]
    pred_object = gt_object + rng.normal(scale=0.01, size=gt_object.shape) + [0.06, 0.0, -0.04]
    faces_h, faces_o = np.asarray(body.faces), np.asarray(obj.faces)
    return dict(pred_human=(pred_human, faces_h),
                pred_object=(pred_object, faces_o),
                gt_human=(gt_human, faces_h),
                gt_object=(gt_object, faces_o))


def evaluate(frames, **kwargs):
    kwargs.setdefault('num_samples', NUM_SAMPLES)
    return evaluate_hoi_frames(
        *([f[role] for f in frames] for role in ('pred_human', 'pred_object', 'gt_human', 'gt_object')), **kwargs)


def umeyama(src, dst):
    mu_src, mu_dst = src.mean(0), dst.mean(0)
    u, _, vt = np.linalg.svd((src - mu_src).T @ (dst - mu_dst))
    rotation = vt.T @ np.diag([1, 1, np.sign(np.linalg.det(u @ vt))]) @ u.T
    scale = np.trace(rotation @ (src - mu_src).T @ (dst - mu_dst)) / ((src - mu_src)**2).sum()
    return lambda points: scale * points @ rotation.T + mu_dst - scale * rotation @ mu_src


def reference_scores(frame, key, seed=0, shared=False):
    """Independent per-frame loop on our samples: numpy fits, one cKDTree per direction, cm."""
    points = {
        role: sample_surface(*frame[role], NUM_SAMPLES, seed, [mesh_sample_key(key, role, shared)])
        for role in frame
    }
    fits = dict(hoi=umeyama(np.concatenate([frame['pred_human'][0], frame['pred_object'][0]]),
                            np.concatenate([frame['gt_human'][0], frame['gt_object'][0]])),
                smpl=umeyama(frame['pred_human'][0], frame['gt_human'][0]),
                none=lambda p: p)
    out = {}
    for name, fit in fits.items():
        out[name] = {}
        for part in ('human', 'object'):
            pred, gt = fit(points[f'pred_{part}']), points[f'gt_{part}']
            out[name][part] = 100 * (cKDTree(gt).query(pred)[0].mean() + cKDTree(pred).query(gt)[0].mean())
    return out


@pytest.mark.parametrize('backend', ['kdtree', 'torch'])
def test_matches_an_independent_per_frame_loop(backend):
    rng = np.random.default_rng(0)
    frames = [make_frame(rng) for _ in range(3)]
    errors = evaluate(frames, frame_keys=['a', 'b', 'c'], backend=backend, seed=3)
    for frame, key, row in zip(frames, 'abc', range(3)):
        expected = reference_scores(frame, key, seed=3)
        for alignment, parts in expected.items():
            for part, value in parts.items():
                assert errors.chamfer_cm[alignment][part][row] == pytest.approx(value, rel=1e-9)


def test_torch_float32_agrees_with_the_float64_kdtree_path():
    rng = np.random.default_rng(1)
    frames = [make_frame(rng) for _ in range(4)]
    exact = evaluate(frames, backend='kdtree')
    fast = evaluate(frames, backend='torch', distance_dtype=torch.float32, batch_size=3)
    for alignment, parts in exact.chamfer_cm.items():
        for part, values in parts.items():
            np.testing.assert_allclose(fast.chamfer_cm[alignment][part], values, rtol=1e-6)


def test_perfect_prediction_scores_zero_with_shared_samples():
    frame = make_frame(np.random.default_rng(2))
    perfect = dict(frame, pred_human=frame['gt_human'], pred_object=frame['gt_object'])
    errors = evaluate([perfect], shared_samples=True)
    for parts in errors.chamfer_cm.values():
        for values in parts.values():
            assert values[0] == pytest.approx(0, abs=1e-10)
    # Independent streams (the papers' protocol) leave the sampling-noise floor: small but not zero.
    floor = evaluate([perfect]).chamfer_cm['none']['human'][0]
    assert 0.5 < floor < 5


def test_similarity_perturbation_scores_what_it_should():
    frame = make_frame(np.random.default_rng(3))
    rotation = Rotation.from_rotvec([0.1, -0.3, 0.2]).as_matrix()

    def move(vertices):
        return 1.1 * vertices @ rotation.T + [0.05, -0.1, 0.2]

    moved = dict(frame,
                 pred_human=(move(frame['gt_human'][0]), frame['gt_human'][1]),
                 pred_object=(move(frame['gt_object'][0]), frame['gt_object'][1]))
    shared = evaluate([moved], shared_samples=True, frame_keys=['m'])
    for alignment in ('hoi', 'smpl'):
        for part in ('human', 'object'):
            assert shared.chamfer_cm[alignment][part][0] == pytest.approx(0, abs=1e-9)
    # w/o alignment: the Chamfer between the moved and the original samples, computed here by brute force.
    for part in ('human', 'object'):
        gt = sample_surface(*frame[f'gt_{part}'], NUM_SAMPLES, 0, [mesh_sample_key('m', f'gt_{part}', True)])
        pred = move(gt)
        expected = 100 * (cKDTree(gt).query(pred)[0].mean() + cKDTree(pred).query(gt)[0].mean())
        assert shared.chamfer_cm['none'][part][0] == pytest.approx(expected, rel=1e-9)
    # With independent streams, an aligned similarity-perturbed prediction scores like the perfect one.
    perfect = dict(frame, pred_human=frame['gt_human'], pred_object=frame['gt_object'])
    default_moved, default_perfect = evaluate([moved], frame_keys=['m']), evaluate([perfect], frame_keys=['m'])
    for alignment in ('hoi', 'smpl'):
        for part in ('human', 'object'):
            assert default_moved.chamfer_cm[alignment][part][0] == pytest.approx(
                default_perfect.chamfer_cm['none'][part][0], rel=1e-9)


def test_object_only_error_under_each_alignment():
    frame = make_frame(np.random.default_rng(4))
    shift = np.array([0.04, 0.0, 0.0])
    shifted = dict(frame,
                   pred_human=frame['gt_human'],
                   pred_object=(frame['gt_object'][0] + shift, frame['gt_object'][1]))
    errors = evaluate([shifted], shared_samples=True, frame_keys=['s'])
    gt = sample_surface(*frame['gt_object'], NUM_SAMPLES, 0, ['s/object'])
    expected = 100 * (cKDTree(gt).query(gt + shift)[0].mean() + cKDTree(gt + shift).query(gt)[0].mean())
    for alignment in ('none', 'smpl'):  # the human fit is the identity: the object keeps its error
        assert errors.chamfer_cm[alignment]['human'][0] == pytest.approx(0, abs=1e-9)
        assert errors.chamfer_cm[alignment]['object'][0] == pytest.approx(expected, rel=1e-9)
    # The hoi fit spreads the object's error over the human.
    assert errors.chamfer_cm['hoi']['human'][0] > 0.01
    assert errors.chamfer_cm['hoi']['object'][0] < expected


def test_same_frame_same_scores_alone_or_in_any_batch():
    rng = np.random.default_rng(5)
    frames = [make_frame(rng) for _ in range(5)]
    batched = evaluate(frames, frame_keys=list('vwxyz'), batch_size=2)
    alone = evaluate(frames[3:4], frame_keys=['y'])
    for alignment, parts in alone.chamfer_cm.items():
        for part, values in parts.items():
            # Same samples; the batched fit may differ in the last bits of floating-point rounding only.
            assert batched.chamfer_cm[alignment][part][3] == pytest.approx(values[0], rel=1e-12)


def test_hoi_falls_back_to_smpl_when_object_vertex_counts_differ():
    rng = np.random.default_rng(6)
    frame = make_frame(rng)
    coarse = make_frame(rng, object_subdivisions=0)['gt_object']
    mixed = dict(frame, pred_object=(coarse[0] + [0.4, 0.3, 2.4] - coarse[0].mean(0), coarse[1]))
    errors = evaluate([mixed, frame])
    assert errors.hoi_fallback.tolist() == [True, False]
    for part in ('human', 'object'):
        assert errors.chamfer_cm['hoi'][part][0] == errors.chamfer_cm['smpl'][part][0]


def test_sequence_window_uses_the_window_fit():
    rng = np.random.default_rng(7)
    frames = [make_frame(rng) for _ in range(5)]
    windowed = evaluate(frames, window=3, window_mode='chunk', alignments=('smpl', ), batch_size=2)
    for frame_index in range(5):
        start = frame_index // 3 * 3
        window = range(start, min(start + 3, 5))
        fit = umeyama(np.concatenate([frames[i]['pred_human'][0] for i in window]),
                      np.concatenate([frames[i]['gt_human'][0] for i in window]))
        pred = fit(sample_surface(*frames[frame_index]['pred_human'], NUM_SAMPLES, 0, [f'{frame_index}/pred_human']))
        gt = sample_surface(*frames[frame_index]['gt_human'], NUM_SAMPLES, 0, [f'{frame_index}/gt_human'])
        expected = 100 * (cKDTree(gt).query(pred)[0].mean() + cKDTree(pred).query(gt)[0].mean())
        assert windowed.chamfer_cm['smpl']['human'][frame_index] == pytest.approx(expected, rel=1e-9)
    single = evaluate(frames, window=1, alignments=('smpl', ))
    per_frame = evaluate(frames, alignments=('smpl', ))
    np.testing.assert_array_equal(single.chamfer_cm['smpl']['human'], per_frame.chamfer_cm['smpl']['human'])


def test_bad_input_names_the_frame():
    frame = make_frame(np.random.default_rng(8))
    broken = dict(frame, pred_object=(np.full_like(frame['pred_object'][0], np.nan), frame['pred_object'][1]))
    with pytest.raises(ValueError, match="pred_object vertices of frame 'img7' are not all finite"):
        evaluate([broken], frame_keys=['img7'])
    other_body = dict(frame, pred_human=(frame['pred_human'][0][:-1], frame['pred_human'][1][:10]))
    with pytest.raises(ValueError, match='same body topology'):
        evaluate([other_body])
    assert evaluate([other_body], alignments=('none', )).chamfer_cm['none']['human'].shape == (1, )
    with pytest.raises(ValueError, match='alignments must be'):
        evaluate([frame], alignments=('procrustes', ))
    with pytest.raises(ValueError, match='same frames'):
        evaluate_hoi_frames([frame['pred_human']], [], [frame['gt_human']], [frame['gt_object']])


def test_worker_threads_and_kdtree_libraries_give_identical_numbers():
    rng = np.random.default_rng(9)
    frames = [make_frame(rng) for _ in range(5)]
    expected = evaluate(frames, backend='kdtree', num_threads=1, kdtree_library='scipy', batch_size=3)
    for library in KDTREE_LIBRARIES:
        for num_threads in (1, 2):
            errors = evaluate(frames, backend='kdtree', num_threads=num_threads, kdtree_library=library, batch_size=3)
            for alignment, parts in expected.chamfer_cm.items():
                for part, values in parts.items():
                    if library == 'scipy':  # same library: the thread count changes nothing, to the bit
                        np.testing.assert_array_equal(errors.chamfer_cm[alignment][part], values)
                    else:
                        np.testing.assert_allclose(errors.chamfer_cm[alignment][part], values, rtol=1e-14, atol=0)
    with pytest.raises(ValueError, match='num_threads'):
        evaluate(frames, num_threads=0)
    with pytest.raises(ValueError, match='kdtree_library'):
        evaluate(frames, kdtree_library='faiss')


def test_identical_and_far_transforms_are_scored_exactly():
    """Duplicated transforms are queried once; a far-away or degenerate transform still gives brute-force values."""
    frame = make_frame(np.random.default_rng(10))
    keys = {role: f'f/{role}' for role in frame}
    rotation = Rotation.from_rotvec([0.2, 0.1, -0.3]).as_matrix()
    transforms = [(1.0, np.eye(3), np.zeros(3)), (1.05, rotation, np.array([0.01, 0.02, -0.03])),
                  (1.0, np.eye(3), np.zeros(3)), (0.5, rotation, np.array([5.0, -3.0, 10.0])),
                  (1.05, rotation.copy(), np.array([0.01, 0.02, -0.03])), (0.0, np.eye(3), np.array([0.1, 0.2, 2.4]))]
    rows, position = _unique_transforms(transforms)
    assert rows == [0, 1, 3, 5] and position.tolist() == [0, 1, 0, 2, 1, 3]
    points = {role: sample_surface(*frame[role], NUM_SAMPLES, 0, [keys[role]]) for role in frame}
    for library in KDTREE_LIBRARIES:
        scores = _kdtree_frame(frame, keys, NUM_SAMPLES, 0, transforms, library)
        for row, (scale, rot, trans) in enumerate(transforms):
            for column, part in enumerate(('human', 'object')):
                pred, gt = scale * points[f'pred_{part}'] @ rot.T + trans, points[f'gt_{part}']
                distances = cdist(pred, gt)
                expected = distances.min(axis=1).mean() + distances.min(axis=0).mean()
                assert scores[row, column] == pytest.approx(expected, rel=1e-12)
