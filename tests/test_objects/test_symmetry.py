"""Object symmetries (hoirecon.objects.symmetry) and their use by the correspondence loss and the pose metric."""
import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial.transform import Rotation

from hoirecon.evaluation.functional.object_pose import object_pose_errors
from hoirecon.models.correspondence.dense_head import closest_symmetric_target
from hoirecon.objects.symmetry import candidate_rotations, object_symmetries, pose_under_symmetry


def _translated_box(extents, offset):
    return trimesh.creation.box(extents=extents, transform=trimesh.transformations.translation_matrix(offset))


def _tripod():
    """Three bars of different lengths from one corner: no proper rotation maps it onto itself."""
    return trimesh.util.concatenate([_translated_box((0.4, 0.1, 0.1), (0.2, 0, 0)),
                                     _translated_box((0.1, 0.3, 0.1), (0, 0.15, 0)),
                                     _translated_box((0.1, 0.1, 0.2), (0, 0, 0.1))])


def _maps_vertices_onto_vertices(mesh, rotation):
    centre = mesh.bounds.mean(axis=0)
    moved = (mesh.vertices - centre) @ rotation.T + centre
    distances = np.linalg.norm(moved[:, None] - mesh.vertices[None], axis=-1).min(axis=1)
    return distances.max() < 1e-9


def test_candidates_are_distinct_rotations_with_the_identity_first():
    candidates = candidate_rotations(20.0)
    assert np.allclose(candidates[0], np.eye(3))
    assert np.allclose(candidates @ candidates.transpose(0, 2, 1), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(candidates), 1.0)
    quats = Rotation.from_matrix(candidates).as_quat()
    same = np.abs(quats @ quats.T) > 1 - 1e-9
    assert same.sum() == len(candidates)  # no rotation twice
    assert len(candidates) == 24 + 3 * 16  # the cube group, then 16 turns per axis that are not quarter turns
    with pytest.raises(ValueError, match='divide 360'):
        candidate_rotations(25.0)


@pytest.mark.parametrize('mesh, count', [
    (trimesh.creation.box(extents=(0.3, 0.2, 0.1)), 4),  # a box with three different sides: three half turns
    (trimesh.creation.box(extents=(0.2, 0.2, 0.2)), 24),  # a cube: the whole cube group
    (trimesh.creation.box(extents=(0.4, 0.2, 0.2)), 8),  # a square bar: quarter turns about its long axis
    (trimesh.creation.cylinder(radius=0.1, height=0.5, sections=36), 24),  # 8 of the cube group + 16 turns about z
    (_tripod(), 1),
], ids=['box', 'cube', 'square-bar', 'cylinder', 'tripod'])
def test_symmetries_of_known_shapes(mesh, count):
    found = object_symmetries(mesh.vertices, mesh.faces)
    assert len(found) == count
    assert np.allclose(found[0], np.eye(3))
    for rotation in found:  # each one maps the mesh's vertices onto its vertices (an independent check)
        assert _maps_vertices_onto_vertices(mesh, rotation)


def test_symmetries_are_cached_and_deterministic():
    box = trimesh.creation.box(extents=(0.3, 0.2, 0.1))
    first = object_symmetries(box.vertices, box.faces)
    first[0] = 0  # the caller's copy, not the cache
    again = object_symmetries(box.vertices, box.faces)
    assert np.allclose(again[0], np.eye(3)) and len(again) == 4


def test_the_twin_pose_shows_each_symmetric_point_where_the_original_was():
    rng = np.random.default_rng(0)
    R, t = Rotation.random(random_state=1).as_matrix(), np.array([0.1, -0.2, 2.5])
    G, centre = Rotation.random(random_state=2).as_matrix(), np.array([0.03, -0.01, 0.02])
    points = rng.normal(0, 0.2, (50, 3))
    twin_R, twin_t = pose_under_symmetry(R, t, G, centre)
    moved = (points - centre) @ G.T + centre  # the symmetric twins x' = G (x - c) + c
    np.testing.assert_allclose(moved @ twin_R.T + twin_t, points @ R.T + t, atol=1e-12)
    torch_R, torch_t = pose_under_symmetry(torch.from_numpy(R)[None], torch.from_numpy(t)[None],
                                           torch.from_numpy(G)[None], torch.from_numpy(centre)[None])
    np.testing.assert_allclose(torch_R[0].numpy(), twin_R, atol=1e-12)
    np.testing.assert_allclose(torch_t[0].numpy(), twin_t, atol=1e-12)


def test_the_loss_target_is_the_twin_closest_to_the_prediction():
    """A prediction equal to a symmetric twin of the target gets that twin (zero L1); the identity-only set keeps
    the rendered target."""
    gen = torch.Generator().manual_seed(0)
    extent = torch.tensor([[0.3, 0.2, 0.1], [0.5, 0.4, 0.3]])
    target = torch.rand(2, 4, 4, 3, generator=gen) - 0.5
    full = torch.ones(2, 4, 4)
    half_turns = torch.from_numpy(np.stack([np.eye(3), np.diag([1., -1, -1]), np.diag([-1., 1, -1]),
                                            np.diag([-1., -1, 1])])).float()
    symmetries = half_turns[None].repeat(2, 1, 1, 1)
    pred = target.clone()
    pred[0] = target[0] * torch.tensor([-1., 1, -1])  # image 0 predicts its half-turn about y
    chosen, G = closest_symmetric_target(pred, target, full, extent, symmetries)
    torch.testing.assert_close(chosen, pred)
    torch.testing.assert_close(G[0], half_turns[2])
    torch.testing.assert_close(G[1], half_turns[0])
    # with unequal extents a symmetry in metres is not a rotation of the normalised coordinates: M = E^-1 G E
    quarter = torch.from_numpy(Rotation.from_euler('x', 90, degrees=True).as_matrix()).float()
    ext = torch.tensor([[0.4, 0.2, 0.3]])
    twin_in_metres = (target[:1] * ext[:, None, None]) @ quarter.T / ext[:, None, None]
    chosen, G = closest_symmetric_target(twin_in_metres, target[:1], full[:1], ext,
                                         torch.stack([torch.eye(3), quarter])[None])
    torch.testing.assert_close(chosen, twin_in_metres)
    torch.testing.assert_close(G[0], quarter)


def test_pose_errors_up_to_symmetry():
    box = trimesh.creation.box(extents=(0.3, 0.2, 0.1))
    vertices = np.asarray(box.vertices) + [0.01, 0.0, 0.0]  # the object frame's origin off the box centre
    centre = (vertices.min(axis=0) + vertices.max(axis=0)) / 2
    surface = vertices  # the 8 corners: a symmetric twin of the pose puts them onto themselves
    R_gt, t_gt = Rotation.random(random_state=3).as_matrix(), np.array([0.0, 0.1, 2.0])
    symmetries = object_symmetries(vertices, box.faces)
    R_pred, t_pred = pose_under_symmetry(R_gt, t_gt, symmetries[1], centre)
    cam_K = np.array([[500., 0, 256], [0, 500., 192], [0, 0, 1]])
    plain = object_pose_errors(vertices, surface, 0.37, R_pred, t_pred, R_gt, t_gt, np.zeros((0, 3)),
                               np.zeros((0, 2)), cam_K)
    aware = object_pose_errors(vertices, surface, 0.37, R_pred, t_pred, R_gt, t_gt, np.zeros((0, 3)),
                               np.zeros((0, 2)), cam_K, symmetries=symmetries, centre=centre)
    assert plain['rotation_deg'] == pytest.approx(180.0, abs=1e-6) and plain['add_correct'] == 0.0
    assert aware['rotation_deg'] == pytest.approx(0.0, abs=1e-5) and aware['add_correct'] == 1.0
    assert aware['translation_cm'] == pytest.approx(0.0, abs=1e-9)
    assert aware['chamfer_cm'] == pytest.approx(0.0, abs=1e-9) == plain['chamfer_cm']
    with pytest.raises(ValueError, match='centre'):
        object_pose_errors(vertices, surface, 0.37, R_pred, t_pred, R_gt, t_gt, np.zeros((0, 3)), np.zeros((0, 2)),
                           cam_K, symmetries=symmetries)


def test_rotation_error_up_to_symmetry():
    from hoirecon.evaluation.functional.object_pose import rotation_error_deg, symmetric_rotation_error_deg
    R_gt = Rotation.random(random_state=5).as_matrix()
    half_turns = np.stack([np.eye(3), np.diag([1., -1, -1]), np.diag([-1., 1, -1]), np.diag([-1., -1, 1])])
    flipped = R_gt @ half_turns[2].T
    off = Rotation.from_euler('z', 7, degrees=True).as_matrix() @ flipped
    assert rotation_error_deg(flipped, R_gt) == pytest.approx(180.0, abs=1e-6)
    assert symmetric_rotation_error_deg(flipped, R_gt, half_turns) == pytest.approx(0.0, abs=1e-5)
    assert symmetric_rotation_error_deg(off, R_gt, half_turns) == pytest.approx(7.0, abs=1e-6)
    assert symmetric_rotation_error_deg(off, R_gt, half_turns[:1]) == pytest.approx(rotation_error_deg(off, R_gt))


def test_rotation_error_over_continuous_symmetries():
    """A bin (cylinder) and a ball, their symmetries found at 20-degree samples: a turn about the bin's axis by an
    angle that is no sample (37 deg) costs nothing, a tilt of the axis costs its angle; any rotation of a ball costs
    nothing; a box keeps the discrete error."""
    from hoirecon.evaluation.functional.object_pose import revolution_axes, symmetric_rotation_error_deg
    R_gt = Rotation.random(random_state=3).as_matrix()
    cylinder = trimesh.creation.cylinder(radius=0.15, height=0.5, sections=64)
    sym = object_symmetries(cylinder.vertices, cylinder.faces)
    axes = revolution_axes(sym)
    assert len(axes) == 1 and abs(axes[0] @ [0, 0, 1]) == pytest.approx(1.0, abs=1e-9)  # trimesh's along z
    turned = R_gt @ Rotation.from_euler('z', 37, degrees=True).as_matrix()
    tilted = R_gt @ Rotation.from_euler('x', 12, degrees=True).as_matrix()
    assert symmetric_rotation_error_deg(turned, R_gt, sym) == pytest.approx(0.0, abs=1e-5)
    assert symmetric_rotation_error_deg(tilted, R_gt, sym) == pytest.approx(12.0, abs=1e-5)
    upside_down = R_gt @ Rotation.from_euler('x', 180 - 12, degrees=True).as_matrix()  # the flip is a symmetry
    assert symmetric_rotation_error_deg(upside_down, R_gt, sym) == pytest.approx(12.0, abs=1e-5)
    ball = trimesh.creation.icosphere(subdivisions=4, radius=0.2)
    ball_sym = object_symmetries(ball.vertices, ball.faces)
    assert len(revolution_axes(ball_sym)) >= 2
    assert symmetric_rotation_error_deg(Rotation.random(random_state=4).as_matrix(), R_gt, ball_sym) == 0.0
    box = trimesh.creation.box(extents=(0.5, 0.3, 0.2))
    box_sym = object_symmetries(box.vertices, box.faces)
    assert len(revolution_axes(box_sym)) == 0
    assert symmetric_rotation_error_deg(tilted, R_gt, box_sym) == pytest.approx(12.0, abs=1e-5)
