import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial.transform import Rotation
from scipy.stats import kstest

from hoirecon.evaluation.functional import sample_surface, stream_id, stream_uniforms

MASK64 = (1 << 64) - 1


def splitmix64_reference(state: int, num: int) -> np.ndarray:
    """Textbook SplitMix64 in Python integers, outputs mapped to [0, 1) with 53 bits."""
    out = []
    for _ in range(num):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z = z ^ (z >> 31)
        out.append((z >> 11) / 2.0**53)
    return np.array(out)


def test_stream_uniforms_match_splitmix64():
    ids = [stream_id(0, 'a'), stream_id(7, 'frame/gt_human'), -5, 2**62]
    draws = stream_uniforms(torch.tensor(ids, dtype=torch.int64), 50).numpy()
    for row, sid in zip(draws, ids):
        np.testing.assert_array_equal(row, splitmix64_reference(sid & MASK64, 50))


def test_stream_uniforms_are_uniform():
    draws = stream_uniforms(torch.tensor([stream_id(3, 'ks')]), 20000).numpy()[0]
    assert draws.min() >= 0 and draws.max() < 1
    assert kstest(draws, 'uniform').pvalue > 1e-3


def test_stream_id_depends_on_seed_and_key():
    assert stream_id(0, 'a') == stream_id(0, 'a')
    assert len({stream_id(0, 'a'), stream_id(1, 'a'), stream_id(0, 'b')}) == 3


@pytest.fixture
def sphere():
    mesh = trimesh.creation.icosphere(subdivisions=2)
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def test_samples_lie_on_the_surface(sphere):
    vertices, faces = sphere
    points = sample_surface(vertices, faces, 2000, seed=1)
    assert points.shape == (2000, 3) and points.dtype == np.float64
    _, distance, _ = trimesh.Trimesh(vertices, faces, process=False).nearest.on_surface(points)
    assert distance.max() < 1e-12


def test_faces_are_drawn_in_proportion_to_their_area():
    # Two disjoint triangles of areas 1 and 3 (in the z=0 and z=1 planes).
    vertices = np.array([[0, 0, 0], [2, 0, 0], [0, 1, 0], [0, 0, 1], [6, 0, 1], [0, 1, 1]], dtype=np.float64)
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    points = sample_surface(vertices, faces, 20000, seed=0)
    share_large = (points[:, 2] == 1).mean()
    assert abs(share_large - 0.75) < 0.015  # 5 binomial standard deviations
    small = points[points[:, 2] == 0]
    # Uniform inside the triangle: the mean is the centroid, every point inside.
    np.testing.assert_allclose(small.mean(0), [2 / 3, 1 / 3, 0], atol=0.02)
    assert (small[:, 0] / 2 + small[:, 1] <= 1 + 1e-12).all() and (small[:, :2] >= 0).all()


def test_deterministic_and_independent_of_the_batch(sphere):
    vertices, faces = sphere
    rng = np.random.default_rng(0)
    batch = np.stack([vertices * rng.uniform(0.5, 2) for _ in range(3)])
    together = sample_surface(batch, faces, 300, seed=5, keys=['x', 'y', 'z'])
    alone = sample_surface(batch[1], faces, 300, seed=5, keys=['y'])
    reordered = sample_surface(batch[[1, 0]], faces, 300, seed=5, keys=['y', 'x'])
    np.testing.assert_array_equal(together[1], alone)
    np.testing.assert_array_equal(reordered[0], alone)
    assert not np.array_equal(sample_surface(batch[1], faces, 300, seed=6, keys=['y']), alone)


def test_samples_of_a_transformed_mesh_are_the_transformed_samples(sphere):
    vertices, faces = sphere
    vertices = vertices * [0.3, 0.9, 0.2]
    rotation = Rotation.from_rotvec([0.3, -1.2, 0.5]).as_matrix()
    moved = 1.7 * vertices @ rotation.T + [0.1, -2.0, 3.0]
    expected = 1.7 * sample_surface(vertices, faces, 1000, keys=['k']) @ rotation.T + [0.1, -2.0, 3.0]
    np.testing.assert_allclose(sample_surface(moved, faces, 1000, keys=['k']), expected, atol=1e-12)


def test_padded_faces_are_never_drawn(sphere):
    vertices, faces = sphere
    small = trimesh.creation.box()
    padded_vertices = np.zeros((2, len(vertices), 3))
    padded_vertices[0] = vertices
    padded_vertices[1, :8] = small.vertices
    padded_faces = np.zeros((2, len(faces), 3), dtype=np.int64)
    padded_faces[0] = faces
    padded_faces[1, :12] = small.faces
    points = sample_surface(padded_vertices, padded_faces, 400, keys=['a', 'b'], num_faces=[len(faces), 12])
    np.testing.assert_array_equal(points[1], sample_surface(small.vertices, small.faces, 400, keys=['b']))
    np.testing.assert_array_equal(points[0], sample_surface(vertices, faces, 400, keys=['a']))


def test_tensor_in_tensor_out(sphere):
    vertices, faces = sphere
    points = sample_surface(torch.tensor(vertices, dtype=torch.float32), torch.tensor(faces), 100, keys=['t'])
    assert isinstance(points, torch.Tensor) and points.dtype == torch.float32
    np.testing.assert_allclose(points.numpy(), sample_surface(vertices, faces, 100, keys=['t']), atol=1e-6)


def test_bad_meshes_raise(sphere):
    vertices, faces = sphere
    with pytest.raises(ValueError, match='zero or non-finite surface area'):
        sample_surface(np.zeros((3, 3)), [[0, 1, 2]], 10, keys=['flat'])
    with pytest.raises(ValueError, match='indices in'):
        sample_surface(vertices, faces + len(vertices), 10)
    with pytest.raises(ValueError, match='one stream per mesh'):
        sample_surface(np.stack([vertices, vertices]), faces, 10, keys=['only-one'])
