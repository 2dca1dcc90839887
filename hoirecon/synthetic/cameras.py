"""Camera intrinsics and the four-camera rig of the synthetic BEHAVE world.

Conventions (the ones of BEHAVE, docs/datasets.md):

* cameras use OpenCV axes (x right, y down, z forward), pixel centres at
  integer coordinates;
* a rig stores, per camera k, the *camera-k -> world* transform of
  ``config.json`` (``x_w = R_k x_k + t_k``);
* world = the k1 colour-camera frame, so ``R_1 = I`` and ``t_1 = 0``.

The rig is generated in a *scene* frame (metres, y up, floor at y = 0, the
person near the origin) and then re-expressed in the k1 frame.
"""
from dataclasses import dataclass

import numpy as np

from hoirecon.utils.offscreen import Intrinsics

#: Kinect k1 colour intrinsics of BEHAVE at 2048x1536 pixels (fx, fy, cx, cy).
BEHAVE_COLOR_INTRINSICS = (979.7844, 979.840, 1018.952, 779.486)
BEHAVE_IMAGE_SIZE = (2048, 1536)
NUM_KINECTS = 4
#: The kinect whose colour frame is the world frame.
WORLD_KINECT = 1


def behave_like_intrinsics(image_size: tuple, rng: np.random.Generator = None, jitter: float = 0.0) -> Intrinsics:
    """BEHAVE's k1 colour intrinsics scaled to ``image_size``.

    Args:
        image_size: (width, height) in pixels; fx and cx scale with
            ``width / 2048``, fy and cy with ``height / 1536``.
        rng: Random generator for the per-camera jitter (unused when
            ``jitter`` is 0).
        jitter: Relative std of a multiplicative perturbation of each
            parameter (e.g. 0.01 for the ~1 % spread of BEHAVE's kinects).

    Returns:
        The scaled intrinsics.
    """
    width, height = int(image_size[0]), int(image_size[1])
    sx, sy = width / BEHAVE_IMAGE_SIZE[0], height / BEHAVE_IMAGE_SIZE[1]
    fx, fy, cx, cy = BEHAVE_COLOR_INTRINSICS
    factors = np.ones(4) if jitter == 0 else 1.0 + jitter * rng.standard_normal(4)
    return Intrinsics(fx=fx * sx * factors[0], fy=fy * sy * factors[1], cx=cx * sx * factors[2],
                      cy=cy * sy * factors[3], width=width, height=height)


def look_at_rotation(eye: np.ndarray, target: np.ndarray, roll: float = 0.0) -> np.ndarray:
    """World-from-camera rotation of an OpenCV camera at ``eye`` looking at ``target``.

    Args:
        eye: (3,) camera centre in a y-up scene frame (metres).
        target: (3,) point the optical axis passes through.
        roll: Rotation about the optical axis in radians.

    Returns:
        (3, 3) rotation whose columns are the camera x (right), y (down) and z
        (forward) axes expressed in the scene frame.
    """
    forward = target - eye
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, [0., 1., 0.])
    right = right / np.linalg.norm(right)
    down = np.cross(forward, right)
    c, s = np.cos(roll), np.sin(roll)
    right, down = c * right + s * down, -s * right + c * down
    return np.stack([right, down, forward], axis=1)


@dataclass(frozen=True)
class CameraRig:
    """Four calibrated colour cameras of one capture day.

    Attributes:
        cam_to_world_R: (4, 3, 3) float64, ``x_w = R_k x_k + t_k`` (config.json).
        cam_to_world_t: (4, 3) float64 in metres.
        scene_to_world: (4, 4) float64 rigid transform from the y-up scene frame
            (floor y = 0) to the world (k1) frame.
    """
    cam_to_world_R: np.ndarray
    cam_to_world_t: np.ndarray
    scene_to_world: np.ndarray

    def world_to_cam(self, kinect: int) -> tuple:
        """(R, t) mapping world points to camera ``kinect``: ``x_k = R x_w + t``."""
        rot = self.cam_to_world_R[kinect].T
        return rot, -rot @ self.cam_to_world_t[kinect]

    def camera_centres_scene(self) -> np.ndarray:
        """(4, 3) camera centres in the scene frame (metres)."""
        world_to_scene = np.linalg.inv(self.scene_to_world)
        return self.cam_to_world_t @ world_to_scene[:3, :3].T + world_to_scene[:3, 3]


def sample_camera_rig(rng: np.random.Generator, distance_range: tuple = (2.0, 3.0),
                      height_range: tuple = (1.0, 1.5), target_height: float = 0.85) -> CameraRig:
    """Four cameras roughly 90 degrees apart around the scene origin, looking at the person.

    Args:
        rng: Random generator (the rig is a pure function of its state).
        distance_range: Horizontal distance of each camera from the origin (m).
        height_range: Camera height above the floor (m).
        target_height: Height of the point the cameras look at (m), about
            a standing person's hips.

    Returns:
        The rig, with camera ``WORLD_KINECT`` as the world frame.
    """
    base_azimuth = rng.uniform(0, 2 * np.pi)
    scene_from_cam = []
    for k in range(NUM_KINECTS):
        azimuth = base_azimuth + k * np.pi / 2 + rng.uniform(-0.25, 0.25)
        distance = rng.uniform(*distance_range)
        eye = np.array([distance * np.sin(azimuth), rng.uniform(*height_range), distance * np.cos(azimuth)])
        target = np.array([rng.uniform(-0.2, 0.2), target_height + rng.uniform(-0.1, 0.1), rng.uniform(-0.2, 0.2)])
        pose = np.eye(4)
        pose[:3, :3] = look_at_rotation(eye, target, roll=rng.uniform(-0.03, 0.03))
        pose[:3, 3] = eye
        scene_from_cam.append(pose)
    scene_to_world = np.linalg.inv(scene_from_cam[WORLD_KINECT])
    world_from_cam = np.stack([scene_to_world @ pose for pose in scene_from_cam])
    world_from_cam[WORLD_KINECT] = np.eye(4)  # exact identity, free of round-off
    return CameraRig(cam_to_world_R=world_from_cam[:, :3, :3], cam_to_world_t=world_from_cam[:, :3, 3],
                     scene_to_world=scene_to_world)
