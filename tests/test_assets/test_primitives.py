"""Closed-mesh primitives: vertex counts, closedness, outward winding and volumes against closed-form values."""
import numpy as np
import pytest
import trimesh

from hoirecon.assets.primitives import (box_divisions, box_mesh, lathe_mesh, signed_volume, superellipsoid_mesh,
                                        sweep_mesh)


def _assert_closed_outward(part):
    mesh = trimesh.Trimesh(part.vertices, part.faces, process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert signed_volume(part.vertices, part.faces) > 0
    return mesh


def test_box_mesh_counts_extents_and_volume():
    part = box_mesh((0.6, 0.4, 0.2), (6, 4, 3))
    assert len(part.vertices) == 7 * 5 * 4 - 5 * 3 * 2
    np.testing.assert_allclose(part.vertices.max(0) - part.vertices.min(0), (0.6, 0.4, 0.2))
    mesh = _assert_closed_outward(part)
    assert mesh.volume == pytest.approx(0.6 * 0.4 * 0.2)
    # every face normal points away from the centre
    assert np.all(np.einsum('ij,ij->i', mesh.face_normals, mesh.triangles_center) > 0)


@pytest.mark.parametrize('extents,target', [((0.6, 0.4, 0.4), 524), ((0.8, 0.2, 0.2), 526), ((0.45, 0.03, 0.15), 330)])
def test_box_divisions_reach_the_wanted_count(extents, target):
    divisions = box_divisions(extents, target)
    count = np.prod(divisions + 1) - np.prod(divisions - 1)
    assert abs(count - target) / target < 0.1


def test_box_mesh_rejects_bad_arguments():
    with pytest.raises(ValueError, match='positive extents'):
        box_mesh((1.0, -1.0, 1.0), (1, 1, 1))
    with pytest.raises(ValueError, match='divisions'):
        box_mesh((1.0, 1.0, 1.0), (0, 1, 1))


def test_lathe_cylinder_volume_is_the_polygonal_prism():
    segments, radius, height = 24, 0.1, 0.3
    part = lathe_mesh([(0, 0), (radius, 0), (radius, height), (0, height)], segments)
    mesh = _assert_closed_outward(part)
    prism = 0.5 * segments * radius**2 * np.sin(2 * np.pi / segments) * height
    assert mesh.volume == pytest.approx(prism)
    assert len(part.vertices) == 2 * segments + 2


def test_lathe_rejects_profiles_off_the_axis():
    with pytest.raises(ValueError, match='axis'):
        lathe_mesh([(0.1, 0), (0.1, 1), (0, 1)], 8)


def test_sweep_loop_is_a_torus():
    major, minor = 0.2, 0.02
    angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    path = np.stack([major * np.cos(angles), major * np.sin(angles), np.zeros_like(angles)], 1)
    mesh = _assert_closed_outward(sweep_mesh(path, minor, 16, loop=True))
    assert mesh.volume == pytest.approx(2 * np.pi**2 * major * minor**2, rel=0.03)


def test_open_sweep_is_capped_and_rejects_non_planar_paths():
    path = [(0, 0, 0), (0, 0.5, 0), (0.3, 0.8, 0)]
    part = sweep_mesh(path, 0.01, 8)
    _assert_closed_outward(part)
    np.testing.assert_allclose(part.vertices[-2:], [path[0], path[-1]])
    with pytest.raises(ValueError, match='planar'):
        sweep_mesh([(0, 0, 0), (1, 0, 0), (1, 1, 0), (1, 1, 1)], 0.01, 8)


def test_superellipsoid_spans_its_box_and_rounds_its_corners():
    extents = np.array([0.3, 0.4, 0.2])
    part = superellipsoid_mesh(extents, (6, 8, 4), 4.0)
    mesh = _assert_closed_outward(part)
    np.testing.assert_allclose(part.vertices.max(0) - part.vertices.min(0), extents, atol=1e-9)
    assert mesh.volume < np.prod(extents)
    assert np.all(((np.abs(part.vertices) / (extents / 2))**4).sum(1) == pytest.approx(1.0))
