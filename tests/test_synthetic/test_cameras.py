"""BEHAVE-like intrinsics and the 4-camera rig (world = k1, OpenCV axes, config.json = camera -> world)."""
import numpy as np
import pytest

from hoirecon.synthetic.cameras import (BEHAVE_COLOR_INTRINSICS, WORLD_KINECT, behave_like_intrinsics,
                                        look_at_rotation, sample_camera_rig)


def test_intrinsics_scale_with_the_image():
    intr = behave_like_intrinsics((512, 384))
    fx, fy, cx, cy = BEHAVE_COLOR_INTRINSICS
    assert intr.fx == pytest.approx(fx / 4) and intr.fy == pytest.approx(fy / 4)
    assert intr.cx == pytest.approx(cx / 4) and intr.cy == pytest.approx(cy / 4)
    assert (intr.width, intr.height) == (512, 384)
    np.testing.assert_allclose(intr.project(np.array([[0.0, 0.0, 2.0], [0.5, -0.25, 2.0]])),
                               [[cx / 4, cy / 4], [cx / 4 + fx / 16, cy / 4 - fy / 32]])
    jittered = behave_like_intrinsics((512, 384), np.random.default_rng(0), jitter=0.01)
    assert jittered.fx != intr.fx and abs(jittered.fx / intr.fx - 1) < 0.05


def test_look_at_rotation_is_opencv():
    rot = look_at_rotation(np.array([0.0, 1.0, -3.0]), np.array([0.0, 1.0, 0.0]))
    np.testing.assert_allclose(rot[:, 2], [0, 0, 1], atol=1e-12)  # looks along +z
    np.testing.assert_allclose(rot[:, 1], [0, -1, 0], atol=1e-12)  # image y points down
    assert np.linalg.det(rot) == pytest.approx(1.0)


def test_rig_geometry():
    rig = sample_camera_rig(np.random.default_rng(3), target_height=0.85)
    np.testing.assert_array_equal(rig.cam_to_world_R[WORLD_KINECT], np.eye(3))
    np.testing.assert_array_equal(rig.cam_to_world_t[WORLD_KINECT], np.zeros(3))
    centres = rig.camera_centres_scene()
    assert np.all((np.hypot(centres[:, 0], centres[:, 2]) > 1.99) & (np.hypot(centres[:, 0], centres[:, 2]) < 3.01))
    assert np.all((centres[:, 1] >= 1.0) & (centres[:, 1] <= 1.5))
    azimuths = np.sort(np.arctan2(centres[:, 0], centres[:, 2]))
    gaps = np.diff(np.concatenate([azimuths, azimuths[:1] + 2 * np.pi]))
    assert np.all(gaps > np.pi / 2 - 0.55)  # four cameras around the person
    scene_point = np.array([0.0, 0.85, 0.0])
    world_point = rig.scene_to_world[:3, :3] @ scene_point + rig.scene_to_world[:3, 3]
    for k in range(4):
        rot, trans = rig.world_to_cam(k)
        cam = rot @ world_point + trans
        assert cam[2] > 1.5  # in front of every camera, near its optical axis
        assert np.hypot(cam[0], cam[1]) / cam[2] < 0.2
        # config.json convention: x_w = R x_k + t, i.e. the camera centre is t
        np.testing.assert_allclose(rot.T @ -trans, rig.cam_to_world_t[k], atol=1e-12)
