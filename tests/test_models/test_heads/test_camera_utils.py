"""Crop camera <-> translation, projection and crop coordinates against numpy / OpenCV references."""
import cv2
import numpy as np
import pytest
import torch

from hoirecon.datasets.transforms.hoi_crop import crop_affine, rotation_2d
from hoirecon.models.utils import (crop_cam_to_translation, perspective_project, to_crop_coords, to_crop_pixels,
                                   translation_to_crop_cam)

B = 6


@pytest.fixture
def camera_batch():
    """Random BEHAVE-like intrinsics and crops (float64 numpy)."""
    rng = np.random.default_rng(0)
    focal = rng.uniform(900, 1000, (B, 2))
    principal = rng.uniform([950, 700], [1050, 850], (B, 2))
    box_center = rng.uniform([400, 300], [1600, 1200], (B, 2))
    box_size = rng.uniform(300, 1200, B)
    cam = np.stack([rng.uniform(0.3, 1.5, B), rng.uniform(-0.3, 0.3, B), rng.uniform(-0.3, 0.3, B)], axis=1)
    return dict(cam=cam, box_center=box_center, box_size=box_size, focal=focal, principal=principal)


def torch_args(batch, *names):
    return [torch.from_numpy(batch[name]) for name in names]


def intrinsics_matrix(focal, principal):
    return np.array([[focal[0], 0, principal[0]], [0, focal[1], principal[1]], [0, 0, 1]])


def reference_translation(cam, box_center, box_size, focal, principal):
    """method.md §3 step by step, one sample at a time."""
    out = []
    for (s, tx, ty), c, b, f, p in zip(cam, box_center, box_size, focal, principal):
        x = tx * b + c[0] - p[0]
        y = ty * b + c[1] - p[1]
        z = f[0] / (b * s)
        out.append([x * z / f[0], y * z / f[1], z])
    return np.array(out)


def test_crop_cam_to_translation_matches_numpy(camera_batch):
    args = torch_args(camera_batch, 'cam', 'box_center', 'box_size', 'focal', 'principal')
    translation = crop_cam_to_translation(*args).numpy()
    np.testing.assert_allclose(translation, reference_translation(**camera_batch), rtol=1e-12)


def test_the_root_projects_to_box_center_plus_offset(camera_batch):
    """Geometric meaning: the root lands at ``box_center + (tx, ty) * box_size`` and at depth ``fx / (s b)``."""
    args = torch_args(camera_batch, 'cam', 'box_center', 'box_size', 'focal', 'principal')
    translation = crop_cam_to_translation(*args).numpy()
    for i in range(B):
        homogeneous = intrinsics_matrix(camera_batch['focal'][i], camera_batch['principal'][i]) @ translation[i]
        pixel = homogeneous[:2] / homogeneous[2]
        expected = camera_batch['box_center'][i] + camera_batch['cam'][i, 1:] * camera_batch['box_size'][i]
        np.testing.assert_allclose(pixel, expected, rtol=1e-12)


def test_translation_to_crop_cam_inverts_it_both_ways(camera_batch):
    cam, box_center, box_size, focal, principal = torch_args(camera_batch, 'cam', 'box_center', 'box_size', 'focal',
                                                             'principal')
    translation = crop_cam_to_translation(cam, box_center, box_size, focal, principal)
    torch.testing.assert_close(translation_to_crop_cam(translation, box_center, box_size, focal, principal),
                               cam,
                               rtol=1e-12,
                               atol=1e-12)
    rng = np.random.default_rng(1)
    other = torch.from_numpy(np.c_[rng.uniform(-1, 1, (B, 2)), rng.uniform(1, 6, B)])
    back = crop_cam_to_translation(translation_to_crop_cam(other, box_center, box_size, focal, principal), box_center,
                                   box_size, focal, principal)
    torch.testing.assert_close(back, other, rtol=1e-12, atol=1e-12)


def test_perspective_project_matches_intrinsics_matrix(camera_batch):
    rng = np.random.default_rng(2)
    points = np.c_[rng.uniform(-1, 1, (B, 7, 2)).reshape(-1, 2), rng.uniform(1, 5, B * 7)].reshape(B, 7, 3)
    focal, principal = torch_args(camera_batch, 'focal', 'principal')
    pixels = perspective_project(torch.from_numpy(points), focal, principal).numpy()
    for i in range(B):
        homogeneous = points[i] @ intrinsics_matrix(camera_batch['focal'][i], camera_batch['principal'][i]).T
        np.testing.assert_allclose(pixels[i], homogeneous[:, :2] / homogeneous[:, 2:], rtol=1e-12)


@pytest.mark.parametrize('crop_size', [256, 224])
def test_crop_coordinates_match_the_opencv_crop_warp(camera_batch, crop_size):
    rng = np.random.default_rng(3)
    points = rng.uniform(0, 2048, (B, 5, 2))
    box_center, box_size = torch_args(camera_batch, 'box_center', 'box_size')
    crop_pixels = to_crop_pixels(torch.from_numpy(points), box_center, box_size, crop_size).numpy()
    coords = to_crop_coords(torch.from_numpy(points), box_center, box_size).numpy()  # the same for every crop size
    for i in range(B):
        c, b = camera_batch['box_center'][i], camera_batch['box_size'][i]
        corners = np.float32([c - b / 2, c + [b / 2, -b / 2], c + [-b / 2, b / 2]])  # top-left, top-right, bottom-left
        warp = cv2.getAffineTransform(corners, np.float32([[0, 0], [crop_size, 0], [0, crop_size]]))
        expected = cv2.transform(points[i][None], warp)[0]
        np.testing.assert_allclose(crop_pixels[i], expected, rtol=1e-4, atol=1e-3)  # float32 warp
        np.testing.assert_allclose(coords[i], expected / crop_size - 0.5, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(coords,
                               (points - camera_batch['box_center'][:, None]) / camera_batch['box_size'][:, None, None],
                               rtol=1e-12,
                               atol=1e-12)


def test_one_crop_mapping_for_numpy_and_torch_with_and_without_rotation(camera_batch):
    """The dataset (numpy, rotated crops) and the model (torch) call the same to_crop_coords: both agree, and the
    image warp of HOICrop (crop_affine) is its matrix form."""
    rng = np.random.default_rng(4)
    points = rng.uniform(0, 2048, (B, 7, 2))
    center, size = camera_batch['box_center'], camera_batch['box_size']
    angles = rng.uniform(-30, 30, B)
    rotations = np.stack([rotation_2d(a) for a in angles])
    for rotation in (None, rotations):
        as_torch = None if rotation is None else torch.from_numpy(rotation)
        numpy_coords = to_crop_coords(points, center, size, rotation)
        torch_coords = to_crop_coords(torch.from_numpy(points), torch.from_numpy(center), torch.from_numpy(size),
                                      as_torch)
        assert isinstance(numpy_coords, np.ndarray) and isinstance(torch_coords, torch.Tensor)
        np.testing.assert_allclose(numpy_coords, torch_coords.numpy(), rtol=0, atol=1e-15)
    for i in range(B):  # one image at a time, as HOICrop calls it (a (2,) centre and a 0-d size)
        affine = crop_affine(center[i], size[i], angles[i], 128)
        warped = points[i] @ affine[:, :2].T + affine[:, 2]
        single = to_crop_coords(points[i], center[i], np.float64(size[i]), rotation_2d(angles[i]))
        np.testing.assert_allclose(single, numpy_coords[i], rtol=0, atol=1e-15)
        np.testing.assert_allclose(to_crop_pixels(points[i], center[i], np.float64(size[i]), 128,
                                                  rotation_2d(angles[i])), warped, rtol=0, atol=1e-9)
        # by hand: rotate the offset from the centre, divide by the side
        a = np.deg2rad(angles[i])
        offset = points[i] - center[i]
        by_hand = np.stack([np.cos(a) * offset[:, 0] - np.sin(a) * offset[:, 1],
                            np.sin(a) * offset[:, 0] + np.cos(a) * offset[:, 1]], axis=1) / size[i]
        np.testing.assert_allclose(single, by_hand, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize('crop_size', [64, 128, 256])
def test_float32_crop_coordinates_round_as_the_crop_pixel_formula(crop_size):
    """In float32 the model's crop coordinates are bit for bit those of the formula the documented numbers were
    trained with, ``((p - c) * (n / s) + n / 2) / n - 0.5`` for a power-of-two crop side ``n``; a plain
    ``(p - c) / s`` is not (it differs in the last bit for a share of the points, which training amplifies)."""
    gen = torch.Generator().manual_seed(11)
    points = torch.rand(64, 30, 2, generator=gen) * 2048
    center = torch.rand(64, 2, generator=gen) * 2048
    size = 100 + torch.rand(64, generator=gen) * 900
    n = crop_size
    historical = ((points - center[:, None]) * (n / size[:, None, None]) + n / 2) / n - 0.5
    coords = to_crop_coords(points, center, size)
    assert coords.dtype == torch.float32
    assert torch.equal(coords, historical)
    plain = (points - center[:, None]) / size[:, None, None]
    assert not torch.equal(plain, historical)  # why the formula is written as it is
    torch.testing.assert_close(plain, historical, rtol=1e-6, atol=1e-6)  # a rounding difference only


def test_crop_coordinates_of_the_projected_root_are_the_crop_offset(camera_batch):
    cam, box_center, box_size, focal, principal = torch_args(camera_batch, 'cam', 'box_center', 'box_size', 'focal',
                                                             'principal')
    root = crop_cam_to_translation(cam, box_center, box_size, focal, principal).unsqueeze(1)
    coords = to_crop_coords(perspective_project(root, focal, principal), box_center, box_size)
    torch.testing.assert_close(coords[:, 0], cam[:, 1:], rtol=1e-10, atol=1e-12)


def test_gradients_flow_and_bad_shapes_raise(camera_batch):
    cam, box_center, box_size, focal, principal = torch_args(camera_batch, 'cam', 'box_center', 'box_size', 'focal',
                                                             'principal')
    cam.requires_grad_(True)
    crop_cam_to_translation(cam, box_center, box_size, focal, principal).sum().backward()
    assert torch.isfinite(cam.grad).all() and cam.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='cam must have shape'):
        crop_cam_to_translation(cam[:, :2], box_center, box_size, focal, principal)
    with pytest.raises(ValueError, match='focal must have shape'):
        perspective_project(torch.ones(B, 3, 3), focal[:, :1], principal)
    with pytest.raises(ValueError, match='points must have shape'):
        perspective_project(torch.ones(B, 2), focal, principal)
    with pytest.raises(ValueError, match='points_px must have shape'):
        to_crop_coords(torch.ones(B, 3, 3), box_center, box_size)
