"""The soft silhouette (PHOSA-style fitting): against the toolbox's hard renderer, finite differences, a pose fit."""
import numpy as np
import pytest
import torch

import trimesh

from hoirecon.models.utils import axis_angle_to_matrix
from hoirecon.models.utils.soft_silhouette import project_vertices, soft_silhouette

K = np.array([[150.0, 0, 64.0], [0, 150.0, 48.0], [0, 0, 1]])
SIZE = (128, 96)


def _object(shape='box', distance=2.5, angle=(0.4, -0.6, 0.2)):
    mesh = trimesh.creation.box(extents=(0.4, 0.3, 0.2)) if shape == 'box' else \
        trimesh.creation.icosphere(subdivisions=2, radius=0.2)
    mesh.vertices[:, 0] *= 1.0 if shape == 'box' else 1.6  # an ellipsoid: curved, 320 faces
    vertices, faces = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)
    vertices = vertices - vertices.mean(0)
    R = axis_angle_to_matrix(torch.tensor(angle, dtype=torch.float64)).numpy()
    return vertices @ R.T + [0.05, -0.02, distance], faces


@pytest.mark.parametrize('shape', ['box', 'ellipsoid'])
def test_low_blur_matches_the_hard_renderer(shape):
    from hoirecon.visualization import Mesh, MeshRenderer
    vertices, faces = _object(shape, distance=2.0)
    with MeshRenderer() as renderer:
        hard = renderer.render_layers([Mesh(vertices, faces)], K, SIZE).mask
    soft = soft_silhouette(torch.tensor(vertices)[None], torch.tensor(faces), torch.tensor(K), SIZE, sigma=0.01)[0]
    soft = soft.numpy() > 0.5
    iou = (soft & hard).sum() / (soft | hard).sum()
    assert hard.sum() > 500  # the object covers a fair part of the image
    assert iou >= 0.98, iou


def test_gradients_match_finite_differences():
    vertices, faces = _object(distance=3.0)
    verts = torch.tensor(vertices, dtype=torch.float64)[None]
    weights = torch.rand(48, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    K_t = torch.tensor(K) * torch.tensor([[0.5], [0.5], [1.0]], dtype=torch.float64)  # a 64 x 48 camera

    def energy(v):
        return (soft_silhouette(v, torch.tensor(faces), K_t, (64, 48), sigma=4.0) * weights).sum()

    verts.requires_grad_(True)
    grad, = torch.autograd.grad(energy(verts), verts)
    rng = np.random.default_rng(1)
    for index in rng.choice(len(vertices), 3, replace=False):
        for axis in range(3):
            step = torch.zeros_like(verts)
            step[0, index, axis] = 1e-6
            numeric = (energy(verts.detach() + step) - energy(verts.detach() - step)) / 2e-6
            assert float(grad[0, index, axis]) == pytest.approx(float(numeric), rel=1e-4, abs=1e-6)


def test_projection_and_faces_behind_the_camera():
    pixels, depth = project_vertices(torch.tensor([[[0.1, -0.2, 2.0]]], dtype=torch.float64), torch.tensor(K))
    np.testing.assert_allclose(pixels[0, 0].numpy(), [64 + 150 * 0.05, 48 - 150 * 0.1])
    vertices, faces = _object()
    behind = torch.tensor(vertices * [1, 1, -1])[None]  # the object mirrored behind the camera: nothing to see
    assert soft_silhouette(behind, torch.tensor(faces), torch.tensor(K), SIZE).max() == 0
    with pytest.raises(ValueError, match='sigma must be > 0'):
        soft_silhouette(behind, torch.tensor(faces), torch.tensor(K), SIZE, sigma=0)


def test_a_translation_is_recovered_from_a_mask():
    vertices, faces = _object(distance=2.0)
    faces_t, K_t = torch.tensor(faces), torch.tensor(K)
    target = soft_silhouette(torch.tensor(vertices)[None], faces_t, K_t, SIZE, sigma=0.05)
    offset = torch.tensor([0.12, -0.08, 0.0], dtype=torch.float64)
    start = torch.tensor(vertices)[None] + offset  # the object 14 cm off
    shift = torch.zeros(2, dtype=torch.float64, requires_grad=True)  # in the image plane (a mask says little of depth)
    optimizer = torch.optim.Adam([shift], lr=0.005)
    for _ in range(80):
        optimizer.zero_grad()
        moved = start + torch.cat([shift, shift.new_zeros(1)])
        loss = ((soft_silhouette(moved, faces_t, K_t, SIZE, sigma=2.0) - target) ** 2).mean()
        loss.backward()
        optimizer.step()
    error = (shift.detach() + offset[:2]).norm()
    assert error < 0.1 * offset.norm(), error  # within 1.4 cm


def test_tiles_give_the_dense_result():
    """Tiles evaluate only the faces near them: the same silhouette as every face at every pixel (to the 1e-4
    coverage the margin leaves out), and gradients too."""
    vertices, faces = _object('ellipsoid', distance=3.0)
    verts = torch.tensor(vertices)[None].repeat(2, 1, 1)
    verts[1] += torch.tensor([0.3, 0.1, 0.5], dtype=torch.float64)  # a second, different mesh in the batch
    verts.requires_grad_(True)
    faces_t = torch.tensor(faces)
    K_t = torch.tensor(K) * torch.tensor([[0.5], [0.5], [1.0]], dtype=torch.float64)  # a 64 x 48 camera
    for sigma in (0.05, 4.0):
        dense = soft_silhouette(verts, faces_t, K_t, (64, 48), sigma=sigma, tile_size=None)
        tiled = soft_silhouette(verts, faces_t, K_t, (64, 48), sigma=sigma, tile_size=8)
        torch.testing.assert_close(tiled, dense, rtol=0, atol=1e-3)
        weights = torch.rand_like(dense)
        grad_dense, = torch.autograd.grad((dense * weights).sum(), verts)
        grad_tiled, = torch.autograd.grad((tiled * weights).sum(), verts)
        torch.testing.assert_close(grad_tiled, grad_dense, rtol=1e-2, atol=1e-2 * float(grad_dense.abs().max()))


@pytest.mark.parametrize('shape', ['box', 'ellipsoid'])
def test_hard_silhouette_is_the_renderers_mask_and_the_zbuffers_coverage(shape):
    """The scanline silhouette (the search's renderer) against pyrender's mask and, pixel for pixel, against the
    coverage of the per-pixel z-buffer of the PHOSA fit (an independent inside test)."""
    from hoirecon.models.baselines.phosa import render_depth
    from hoirecon.models.utils.soft_silhouette import hard_silhouette
    from hoirecon.visualization import Mesh, MeshRenderer
    vertices, faces = _object(shape, distance=2.0)
    with MeshRenderer() as renderer:
        reference = renderer.render_layers([Mesh(vertices, faces)], K, SIZE).mask
    verts = torch.tensor(vertices)[None]
    hard = hard_silhouette(verts, torch.tensor(faces), torch.tensor(K), SIZE)[0].numpy()
    assert hard.shape == (SIZE[1], SIZE[0]) and hard.sum() > 500
    assert (hard & reference).sum() / (hard | reference).sum() >= 0.98
    covered = np.isfinite(render_depth(verts, torch.tensor(faces), torch.tensor(K), SIZE)[0].numpy())
    np.testing.assert_array_equal(hard, covered)


def test_hard_silhouette_batches_chunks_and_leaves_out_faces_behind_the_camera():
    from hoirecon.models.utils.soft_silhouette import hard_silhouette
    vertices, faces = _object('box', distance=2.5)
    batch = torch.stack([torch.tensor(vertices), torch.tensor(vertices) + torch.tensor([0.3, 0.0, 0.0]),
                         torch.tensor(vertices) * torch.tensor([1.0, 1.0, -1.0])])  # the last one behind the camera
    whole = hard_silhouette(batch, torch.tensor(faces), torch.tensor(K), SIZE)
    chunked = hard_silhouette(batch, torch.tensor(faces), torch.tensor(K), SIZE, max_chunk_elements=1)
    assert torch.equal(whole, chunked)
    assert whole[0].sum() > 500 and not whole[2].any()
    # moved 0.3 m sideways at 2.5 m: the mask moves by f * 0.3 / 2.5 = 18 pixels
    shift = 150.0 * 0.3 / 2.5
    cols = lambda m: torch.nonzero(m)[:, 1].double().mean()  # noqa: E731
    assert float(cols(whole[1]) - cols(whole[0])) == pytest.approx(shift, abs=1.0)
