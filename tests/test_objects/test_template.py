"""ObjectTemplate: anchors, posing, trimesh conversion and validation."""
import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from hoirecon.objects import ObjectTemplate, make_procedural_template


@pytest.fixture(scope='module')
def chair():
    return make_procedural_template('chairwood')


def _mean_nearest_distance(points):
    return cKDTree(points).query(points, k=2)[0][:, 1].mean()


def test_anchors_are_deterministic_unique_and_valid(chair):
    anchors = chair.anchor_indices()
    assert anchors.shape == (64, ) and anchors.dtype == np.int64
    assert len(np.unique(anchors)) == 64 and anchors.min() >= 0 and anchors.max() < len(chair.vertices)
    np.testing.assert_array_equal(anchors, chair.anchor_indices(64, 0.02, 7))
    assert not np.array_equal(anchors, chair.anchor_indices(seed=8))


@pytest.mark.parametrize('name,dataset,radius', [('chairwood', 'behave', 0.02), ('cup', 'intercap', 0.01)])
def test_anchors_are_the_first_vertices_of_evenly_sampled_faces(name, dataset, radius):
    template = make_procedural_template(name, dataset)
    _, face_ids = trimesh.sample.sample_surface_even(template.to_trimesh(), 64, radius=radius, seed=7)
    expected = list(dict.fromkeys(template.faces[face_ids, 0].tolist()))
    anchors = template.anchor_indices(64, radius, 7)
    assert anchors[:len(expected)].tolist() == expected


def test_anchors_spread_over_the_surface(chair):
    anchors = chair.anchor_indices()
    rng = np.random.default_rng(0)
    random_picks = [rng.choice(len(chair.vertices), 64, replace=False) for _ in range(20)]
    random_minimum = np.median([cKDTree(chair.vertices[p]).query(chair.vertices[p], k=2)[0][:, 1].min()
                                for p in random_picks])
    assert _mean_nearest_distance(chair.vertices[anchors]) > 3 * random_minimum
    covered = np.ptp(chair.vertices[anchors], axis=0) / np.ptp(chair.vertices, axis=0)
    assert np.all(covered > 0.8)


def test_anchors_are_padded_when_sampling_returns_too_few(chair):
    anchors = chair.anchor_indices(num=100, radius=0.3)  # a large radius leaves only a handful of samples
    assert len(np.unique(anchors)) == 100
    np.testing.assert_array_equal(anchors, chair.anchor_indices(num=100, radius=0.3))
    with pytest.raises(ValueError, match='cannot pick'):
        chair.anchor_indices(num=len(chair.vertices) + 1)


def test_posed_applies_rotation_then_translation(chair):
    rotation = Rotation.from_rotvec([0.3, -1.2, 0.5]).as_matrix()
    translation = np.array([0.1, -0.4, 2.5])
    posed = chair.posed(rotation, translation)
    np.testing.assert_allclose(posed[17], rotation @ chair.vertices[17] + translation)
    np.testing.assert_allclose(posed.mean(0), translation, atol=1e-12)
    with pytest.raises(ValueError, match=r'\(3, 3\)'):
        chair.posed(np.eye(4), translation)


def test_to_trimesh_keeps_vertex_order(chair):
    mesh = chair.to_trimesh()
    np.testing.assert_array_equal(mesh.vertices, chair.vertices)
    np.testing.assert_array_equal(mesh.faces, chair.faces)


def _template(**changes):
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
    fields = dict(name='tetra', index=0, dataset='behave', vertices=vertices,
                  faces=np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]]), keypoints=vertices[:1],
                  keypoint_vertex_ids=[[0]], keypoint_names=['apex'], family='box')
    fields.update(changes)
    return ObjectTemplate(**fields)


def test_validation_rejects_inconsistent_fields():
    assert _template().faces.dtype == np.int64
    with pytest.raises(ValueError, match='face ids'):
        _template(faces=np.array([[0, 1, 4]]))
    with pytest.raises(ValueError, match='vertices'):
        _template(vertices=np.zeros((4, 2)))
    with pytest.raises(ValueError, match='1..16 keypoints'):
        _template(keypoint_names=['apex', 'other'])
    with pytest.raises(ValueError, match="'apex'"):
        _template(keypoint_vertex_ids=[[7]])
