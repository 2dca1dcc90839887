"""Offscreen pyrender rendering shared by the synthetic world and the demo's drawings (EGL on a headless machine).

One place for what :mod:`hoirecon.synthetic.render` and :mod:`hoirecon.visualization.renderer` both need:

* the EGL platform: importing this module sets ``PYOPENGL_PLATFORM=egl`` unless the environment chose another one,
  so import it before ``pyrender`` (or OpenGL) is first imported;
* the OpenCV pinhole camera (:class:`Intrinsics`) and its pyrender counterpart (:func:`pyrender_camera`,
  :func:`camera_node_pose`): pixel ``(i, j)`` samples the OpenCV point ``(u, v) = (i, j)`` (pixel centres at integers;
  pyrender's OpenGL pixel centres sit at ``i + 0.5``, so its principal point is shifted by half a pixel);
* the pose of a directional light (:func:`light_pose`);
* releasing an ``OffscreenRenderer`` without breaking the others of the process (:func:`release_offscreen_renderer`).

``pyrender`` itself is imported only by :func:`pyrender_camera`, so the camera model stays cheap to import.
"""
import os
from dataclasses import dataclass

import numpy as np

os.environ.setdefault('PYOPENGL_PLATFORM', 'egl')

#: OpenCV camera axes -> OpenGL camera axes (y and z flipped).
CV_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of one colour camera (pixels, no distortion).

    Attributes:
        fx, fy: Focal lengths in pixels.
        cx, cy: Principal point in pixels (OpenCV: pixel centres at integers).
        width, height: Image size in pixels.
    """
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @property
    def matrix(self) -> np.ndarray:
        """(3, 3) float64 camera matrix ``[[fx,0,cx],[0,fy,cy],[0,0,1]]``."""
        return np.array([[self.fx, 0., self.cx], [0., self.fy, self.cy], [0., 0., 1.]])

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """Project camera-frame points (N, 3) in metres to pixels (N, 2)."""
        points_cam = np.asarray(points_cam, dtype=np.float64)
        z = points_cam[:, 2:3]
        return np.concatenate([self.fx * points_cam[:, :1] / z + self.cx, self.fy * points_cam[:, 1:2] / z + self.cy],
                              axis=1)


def camera_node_pose(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """pyrender (OpenGL) camera-to-world pose (4, 4) of an OpenCV world->camera transform."""
    pose = np.eye(4)
    pose[:3, :3] = np.asarray(rotation).T
    pose[:3, 3] = -np.asarray(rotation).T @ np.asarray(translation)
    return pose @ CV_TO_GL


def pyrender_camera(intrinsics: Intrinsics, znear: float = 0.05, zfar: float = 50.0):
    """A ``pyrender.IntrinsicsCamera`` whose pixel ``(i, j)`` samples the OpenCV point ``(u, v) = (i, j)``."""
    import pyrender
    return pyrender.IntrinsicsCamera(fx=intrinsics.fx, fy=intrinsics.fy, cx=intrinsics.cx + 0.5,
                                     cy=intrinsics.cy + 0.5, znear=znear, zfar=zfar)


def light_pose(direction: np.ndarray) -> np.ndarray:
    """Pose of a directional light travelling along ``direction`` (pyrender lights shine along -z)."""
    z_axis = -np.asarray(direction, dtype=np.float64) / np.linalg.norm(direction)
    helper = np.array([0.0, 1.0, 0.0]) if abs(z_axis[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x_axis = np.cross(helper, z_axis)
    x_axis /= np.linalg.norm(x_axis)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x_axis, np.cross(z_axis, x_axis), z_axis], axis=1)
    return pose


#: OffscreenRenderers whose EGL context died because another renderer terminated the shared display (pyrender's
#: ``OffscreenRenderer.delete``, e.g. in another library). Kept alive on purpose: their finalisers would issue GL
#: deletes of stale object ids on whatever context is current.
_ORPHANS = []


def offscreen_context_alive(offscreen) -> bool:
    """Make the renderer's context current; False when its display was terminated under it."""
    try:
        offscreen._platform.make_current()
        return True
    except Exception:
        return False


def release_offscreen_renderer(offscreen) -> None:
    """Free an OffscreenRenderer's GL objects and its EGL context without ``eglTerminate``.

    ``OffscreenRenderer.delete`` terminates the process-wide default EGL display, which invalidates every other live
    EGL context (an open :class:`~hoirecon.visualization.MeshRenderer` or
    :class:`~hoirecon.synthetic.render.HOIRenderer` then fails with ``EGL_BAD_DISPLAY``). Here only this renderer's
    context is destroyed; the display stays initialised (one per process, nothing accumulates). Other platforms
    (OSMesa, pyglet) use pyrender's own teardown.
    """
    platform = getattr(offscreen, '_platform', None)
    if platform is None:
        return
    context = getattr(platform, '_egl_context', None)
    display = getattr(platform, '_egl_display', None)
    if context is None or display is None:
        offscreen.delete()
        return
    if not offscreen_context_alive(offscreen):
        keep_orphan(offscreen)
        return
    from OpenGL.EGL import EGL_NO_CONTEXT, EGL_NO_SURFACE, eglDestroyContext, eglMakeCurrent
    try:
        offscreen._renderer.delete()  # shaders, vertex buffers, framebuffers (the context is current)
    finally:
        eglMakeCurrent(display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT)
        eglDestroyContext(display, context)
        platform._egl_context = None
        platform._egl_display = None
        # pyrender's __del__ would call delete() (and eglTerminate): leave it nothing to do
        offscreen._renderer = None
        offscreen._platform = None


def keep_orphan(offscreen) -> None:
    """Keep a renderer whose EGL context died (its display was terminated by someone else) from being finalised."""
    _ORPHANS.append(offscreen)
