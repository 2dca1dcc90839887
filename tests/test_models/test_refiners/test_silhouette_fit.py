"""PHOSA-style object pose from a mask: batched random starts on the soft silhouette."""
import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from hoirecon.models.refiners.silhouette_fit import fit_object_to_mask

K = np.array([[160.0, 0, 48.0], [0, 160.0, 36.0], [0, 0, 1]])
SIZE = (96, 72)


def _l_shape():
    """An asymmetric L of two boxes (no rotation gives the same silhouette from most views), centred."""
    a = trimesh.creation.box(extents=(0.40, 0.10, 0.10))
    b = trimesh.creation.box(extents=(0.10, 0.25, 0.10))
    b.apply_translation([0.15, 0.175, 0.0])
    mesh = trimesh.util.concatenate([a, b])
    vertices = np.asarray(mesh.vertices) - np.asarray(mesh.vertices).mean(0)
    return vertices, np.asarray(mesh.faces)


def test_a_posed_object_is_found_from_its_hard_mask():
    from hoirecon.visualization import Mesh, MeshRenderer
    vertices, faces = _l_shape()
    R = Rotation.from_rotvec([0.3, 0.5, -0.2]).as_matrix()
    t = np.array([0.05, -0.03, 2.0])
    with MeshRenderer() as renderer:
        mask = renderer.render_layers([Mesh(vertices @ R.T + t, faces)], K, SIZE).mask
    fit = fit_object_to_mask(vertices, faces, mask, K, num_starts=12, steps=80, seed=0)
    assert fit.ious.shape == (12, ) and fit.iou == pytest.approx(fit.ious.max())
    assert fit.iou > 0.85, fit.ious
    # the depth is the weakest part of a mask fit; the image-plane position and the outline are what it must get
    centre = (vertices @ fit.R.T + fit.t).mean(0)
    assert np.linalg.norm(centre[:2] / centre[2] - t[:2] / t[2]) < 0.02


def test_an_empty_mask_is_refused():
    vertices, faces = _l_shape()
    with pytest.raises(ValueError, match='mask is empty'):
        fit_object_to_mask(vertices, faces, np.zeros((72, 96), bool), K)
