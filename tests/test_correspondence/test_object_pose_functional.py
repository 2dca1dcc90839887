"""The object-pose metric's pure functions against independent numpy / scipy computations."""
import numpy as np
import pytest
from scipy.spatial import cKDTree
from scipy.spatial.distance import pdist
from scipy.spatial.transform import Rotation

from hoirecon.evaluation.functional.object_pose import (add_error, adds_error, object_chamfer_cm, object_diameter,
                                                        object_pose_errors, reprojection_inlier_share,
                                                        rotation_error_deg, summarise_object_pose,
                                                        translation_error_cm)

K = np.array([[500.0, 0, 320], [0, 480.0, 240], [0, 0, 1]])


@pytest.fixture
def poses():
    rng = np.random.default_rng(3)
    R_gt = Rotation.random(random_state=4).as_matrix()
    R_pred = Rotation.from_rotvec(rng.normal(size=3) * 0.1).as_matrix() @ R_gt
    t_gt, t_pred = np.array([0.1, -0.05, 2.0]), np.array([0.12, -0.04, 2.05])
    return rng.normal(size=(300, 3)) * [0.3, 0.2, 0.1], R_pred, t_pred, R_gt, t_gt


def test_rotation_and_translation_errors(poses):
    _, R_pred, t_pred, R_gt, t_gt = poses
    expected = np.degrees(Rotation.from_matrix(R_pred @ R_gt.T).magnitude())
    assert rotation_error_deg(R_pred, R_gt) == pytest.approx(expected, abs=1e-6)
    assert rotation_error_deg(R_gt, R_gt) == pytest.approx(0.0, abs=1e-5)
    flip = Rotation.from_rotvec([0, np.pi, 0]).as_matrix()
    assert rotation_error_deg(flip @ R_gt, R_gt) == pytest.approx(180.0, abs=1e-4)
    assert translation_error_cm(t_pred, t_gt) == pytest.approx(100 * np.sqrt(0.02 ** 2 + 0.01 ** 2 + 0.05 ** 2))


def test_add_adds_and_diameter(poses):
    vertices, R_pred, t_pred, R_gt, t_gt = poses
    distances = [np.linalg.norm((R_pred @ v + t_pred) - (R_gt @ v + t_gt)) for v in vertices]
    assert add_error(vertices, R_pred, t_pred, R_gt, t_gt) == pytest.approx(np.mean(distances))
    pred = np.array([R_pred @ v + t_pred for v in vertices])
    gt = np.array([R_gt @ v + t_gt for v in vertices])
    brute = np.mean([np.min(np.linalg.norm(pred - g, axis=1)) for g in gt])
    assert adds_error(vertices, R_pred, t_pred, R_gt, t_gt) == pytest.approx(brute)
    assert adds_error(vertices, R_pred, t_pred, R_gt, t_gt) <= add_error(vertices, R_pred, t_pred, R_gt, t_gt)
    assert object_diameter(vertices) == pytest.approx(pdist(vertices).max())


def test_reprojection_share_counts_points_within_the_threshold(poses):
    vertices, _, _, R_gt, t_gt = poses
    camera = vertices @ R_gt.T + t_gt
    true_2d = camera[:, :2] / camera[:, 2:] * [K[0, 0], K[1, 1]] + K[:2, 2]
    offsets = np.zeros_like(true_2d)
    offsets[:100, 0] = 4.9  # within 5 px
    offsets[100:160, 1] = -5.5  # outside
    offsets[160:] = [3.0, 3.0]  # 4.24 px: within
    share = reprojection_inlier_share(vertices, true_2d + offsets, R_gt, t_gt, K, 5.0)
    assert share == pytest.approx(240 / 300)
    assert np.isnan(reprojection_inlier_share(np.zeros((0, 3)), np.zeros((0, 2)), R_gt, t_gt, K))


def test_chamfer_against_scipy(poses):
    vertices, R_pred, t_pred, R_gt, t_gt = poses
    a, b = vertices @ R_pred.T + t_pred, vertices @ R_gt.T + t_gt
    expected = 100 * (cKDTree(b).query(a)[0].mean() + cKDTree(a).query(b)[0].mean())
    assert object_chamfer_cm(vertices, R_pred, t_pred, R_gt, t_gt) == pytest.approx(expected, rel=1e-6)
    assert object_chamfer_cm(vertices, R_gt, t_gt, R_gt, t_gt) == pytest.approx(0.0, abs=1e-9)


def test_errors_and_summary_with_a_failed_pnp(poses):
    vertices, R_pred, t_pred, R_gt, t_gt = poses
    diameter = object_diameter(vertices)
    good = object_pose_errors(vertices, vertices, diameter, R_gt, t_gt + [0.001, 0, 0], R_gt, t_gt, vertices[:5],
                              np.zeros((5, 2)), K)
    assert good['add_correct'] == 1.0 and good['pnp_ok'] == 1.0
    assert good['translation_cm'] == pytest.approx(0.1)
    off = object_pose_errors(vertices, vertices, diameter, R_pred, t_pred + [0.5, 0, 0], R_gt, t_gt, vertices[:5],
                             np.zeros((5, 2)), K)
    assert off['add_correct'] == 0.0
    failed = object_pose_errors(vertices, vertices, diameter, None, None, R_gt, t_gt, vertices[:5], np.zeros((5, 2)),
                                K)
    assert failed['pnp_ok'] == 0.0 and failed['add_correct'] == 0.0 and np.isnan(failed['rotation_deg'])
    summary = summarise_object_pose([good, off, failed])
    assert summary['pnp_success'] == pytest.approx(2 / 3)
    assert summary['add_accuracy'] == pytest.approx(1 / 3)  # the failure counts as wrong
    assert summary['translation_cm'] == pytest.approx((good['translation_cm'] + off['translation_cm']) / 2)
    assert summary['rotation_deg_median'] == pytest.approx(np.median([good['rotation_deg'], off['rotation_deg']]))
