"""The exact point-to-mesh distances, the body-part groups and the pixel-aligned sampling against independent
computations."""
import numpy as np
import pytest
import torch
import trimesh

from hoirecon.datasets.transforms.hoi_crop import apply_affine, crop_affine
from hoirecon.models.body_models import SMPLH
from hoirecon.models.chore import (SMPL22_TO_PARTS14, MeshDistance, crop_grid_coords, group_parts,
                                   point_triangle_closest, sample_frustum, sample_pixel_aligned, sample_surface)
from hoirecon.objects import ObjectLibrary


def brute_distance(point, a, b, c):
    """Distance of one point to one triangle another way: the plane projection if it falls inside (barycentric
    coordinates by least squares), else the nearest of the three clamped segment projections."""
    n = np.cross(b - a, c - a)
    n = n / np.linalg.norm(n)
    proj = point - np.dot(point - a, n) * n
    coef = np.linalg.lstsq(np.stack([b - a, c - a], 1), proj - a, rcond=None)[0]
    if coef.min() >= 0 and coef.sum() <= 1:
        return abs(np.dot(point - a, n))
    best = np.inf
    for p, q in ((a, b), (b, c), (c, a)):
        t = np.clip(np.dot(point - p, q - p) / np.dot(q - p, q - p), 0, 1)
        best = min(best, np.linalg.norm(point - (p + t * (q - p))))
    return best


def test_point_triangle_closest_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a, b, c = rng.normal(size=(3, 3))
        point = rng.normal(size=3) * 2
        closest = point_triangle_closest(point[None], a[None], b[None], c[None])[0]
        assert np.linalg.norm(closest - point) == pytest.approx(brute_distance(point, a, b, c), abs=1e-9)


@pytest.fixture(scope='module')
def body():
    model = SMPLH('surrogate', gender='male')
    with torch.no_grad():
        vertices = model(betas=torch.zeros(1, 10)).vertices[0].double().numpy()
    return model, vertices


def test_mesh_distance_on_the_body_and_an_object(body):
    """Near-surface and far points: MeshDistance equals the brute force over every triangle (and trimesh)."""
    model, vertices = body
    box = ObjectLibrary('behave')['boxmedium']
    rng = np.random.default_rng(1)
    for v, f in ((vertices, model.faces), (box.vertices, box.faces)):
        surface, _ = sample_surface(v, f, 40, rng)
        points = np.concatenate([surface + rng.normal(size=surface.shape) * 0.015,
                                 surface[:10] + rng.normal(size=(10, 3)) * 0.1])
        dist, closest, tri = MeshDistance(v, f).query(points)
        tris = v[f]
        every = np.linalg.norm(point_triangle_closest(points[:, None], tris[None, :, 0], tris[None, :, 1],
                                                      tris[None, :, 2]) - points[:, None], axis=-1)
        np.testing.assert_allclose(dist, every.min(1), atol=1e-9)
        for i in range(0, len(points), 10):  # the other algorithm on the closest triangle
            assert dist[i] == pytest.approx(brute_distance(points[i], *tris[tri[i]]), abs=1e-9)
        reference, _, _ = trimesh.proximity.closest_point(trimesh.Trimesh(v, f, process=False), points)
        np.testing.assert_allclose(dist, np.linalg.norm(reference - points, axis=1), atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(closest - points, axis=1), dist, atol=1e-12)


def test_part_labels_of_surface_points(body):
    """The 14 parts cover the body; a vertex (distance 0) gets its own part, and a point on a triangle the part of
    its nearest corner."""
    from hoirecon.datasets.transforms.chore_targets import field_targets
    model, vertices = body
    parts = group_parts(model.part_labels, 14)
    assert set(np.unique(parts)) == set(range(14))
    assert np.array_equal(group_parts(model.part_labels, 22), model.part_labels)
    assert SMPL22_TO_PARTS14[15] == SMPL22_TO_PARTS14[12] == 1 and SMPL22_TO_PARTS14[20] == 6
    box = ObjectLibrary('behave')['boxmedium']
    obj = MeshDistance(box.vertices, box.faces)
    ids = np.random.default_rng(2).choice(len(vertices), 200, replace=False)
    out = field_targets(vertices[ids], MeshDistance(vertices, model.faces), parts, obj, np.zeros(3))
    np.testing.assert_allclose(out['udf_human'], 0, atol=1e-9)
    np.testing.assert_array_equal(out['part_labels'], parts[ids])
    # a point at barycentric (0.8, 0.1, 0.1) of a triangle, pushed 1 mm along its normal
    rng = np.random.default_rng(3)
    faces = rng.choice(len(model.faces), 100, replace=False)
    tri = vertices[model.faces[faces]]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    points = 0.8 * tri[:, 0] + 0.1 * tri[:, 1] + 0.1 * tri[:, 2] + 1e-3 * normal
    out = field_targets(points, MeshDistance(vertices, model.faces), parts, obj, np.zeros(3))
    agree = out['part_labels'] == parts[model.faces[faces, 0]]
    assert agree.mean() >= 0.95  # the 1 mm push can reach another fold of the surface on a few


def test_frustum_points_project_into_the_crop():
    rng = np.random.default_rng(4)
    focal, principal, centre, size = np.array([500., 500.]), np.array([256., 192.]), np.array([300., 150.]), 120.
    points = sample_frustum(500, centre, size, focal, principal, (1.5, 3.5), rng)
    pixels = points[:, :2] / points[:, 2:] * focal + principal
    assert (np.abs(pixels - centre) <= size / 2 + 1e-9).all()
    assert points[:, 2].min() >= 1.5 and points[:, 2].max() <= 3.5


def test_pixel_aligned_sampling_reads_the_feature_of_the_projected_pixel():
    """A point projecting to the centre of crop pixel (i, j) (through HOICrop's own affine) reads cell (i, j) of a
    crop-resolution feature map exactly, and the bilinear mean of 2 x 2 cells on a half-resolution map."""
    size_px, box_size, centre = 16, 80.0, np.array([200.0, 140.0])
    focal, principal = np.array([400.0, 410.0]), np.array([256.0, 192.0])
    affine = crop_affine(centre, box_size, 0.0, size_px)
    inverse = np.linalg.inv(np.vstack([affine, [0, 0, 1]]))[:2]
    feature = torch.arange(2 * size_px * size_px, dtype=torch.float32).view(1, 2, size_px, size_px)
    cells = [(0, 0), (3, 7), (15, 15), (9, 2)]
    pixels = apply_affine(inverse, np.array(cells, np.float64))  # crop pixel centres (col, row) -> image
    depth = np.array([2.0, 2.5, 1.7, 3.1])
    points = np.concatenate([(pixels - principal) / focal * depth[:, None], depth[:, None]], 1)
    grid = crop_grid_coords(torch.tensor(points, dtype=torch.float32)[None], torch.tensor(focal)[None].float(),
                            torch.tensor(principal)[None].float(), torch.tensor(centre)[None].float(),
                            torch.tensor([box_size]), size_px)
    sampled = sample_pixel_aligned([feature], grid)[0]
    for k, (col, row) in enumerate(cells):
        np.testing.assert_allclose(sampled[k].numpy(), feature[0, :, row, col].numpy(), atol=1e-3)
    half = torch.nn.functional.avg_pool2d(feature, 2)
    mid = apply_affine(inverse, np.array([[4.5, 6.5]]))  # the corner shared by crop pixels (4..5, 6..7)
    point = torch.tensor([[[*((mid[0] - principal) / focal * 2.0), 2.0]]], dtype=torch.float32)
    grid = crop_grid_coords(point, torch.tensor(focal)[None].float(), torch.tensor(principal)[None].float(),
                            torch.tensor(centre)[None].float(), torch.tensor([box_size]), size_px)
    np.testing.assert_allclose(sample_pixel_aligned([half], grid)[0, 0].numpy(), half[0, :, 3, 2].numpy(),
                               atol=1e-3)
