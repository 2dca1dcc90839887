"""Offscreen pyrender renderer of a person, an object and a floor seen by calibrated cameras.

Per camera it makes three passes:

1. colour (lit, 4x MSAA, RGBA) composited over a background image;
2. segmentation of body + object only (no floor, no MSAA): the *visible*
   person and object pixels, i.e. each silhouette minus where the other one is
   in front;
3. segmentation of the object alone: the full object silhouette and its depth.

Masks sample each pixel at its centre with OpenCV's convention (pixel ``i``
centred at ``u = i``): pyrender's OpenGL pixel centres sit at ``i + 0.5``, so
the principal point is shifted by half a pixel when the camera is built
(:func:`hoirecon.utils.offscreen.pyrender_camera`). Importing this module selects
the EGL platform unless ``PYOPENGL_PLATFORM`` says otherwise.
"""
from dataclasses import dataclass

import numpy as np

from hoirecon.utils.offscreen import (Intrinsics, camera_node_pose, light_pose, pyrender_camera,  # sets EGL
                                      release_offscreen_renderer)

import pyrender  # noqa: E402  (after hoirecon.utils.offscreen chose the EGL platform)
import trimesh  # noqa: E402

from .appearance import Lighting  # noqa: E402

BODY_SEG_COLOR = (255, 0, 0)
OBJECT_SEG_COLOR = (0, 255, 0)


@dataclass
class ColoredMesh:
    """A triangle mesh in the world frame.

    Attributes:
        vertices: (V, 3) float, metres.
        faces: (F, 3) int.
        colors: (V, 4) uint8 RGBA vertex colours.
    """
    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray


@dataclass
class View:
    """One calibrated camera: intrinsics, world->camera (OpenCV) transform and background.

    Attributes:
        intrinsics: Pinhole intrinsics (pixels).
        rotation: (3, 3) world->camera rotation, ``x_cam = R x_world + t``.
        translation: (3,) metres.
        background: (H, W, 3) uint8 RGB image behind the scene, or None (black).
    """
    intrinsics: Intrinsics
    rotation: np.ndarray
    translation: np.ndarray
    background: np.ndarray = None


@dataclass
class ViewRender:
    """Everything rendered for one camera (all (H, W) arrays, H x W = the image size).

    Attributes:
        color: (H, W, 3) uint8 RGB image.
        person_mask: bool, visible person pixels.
        object_mask: bool, visible object pixels.
        object_full: bool, the whole object silhouette (occluders ignored).
        object_depth: float32 camera-z of the object surface in metres (0 off the object).
    """
    color: np.ndarray
    person_mask: np.ndarray
    object_mask: np.ndarray
    object_full: np.ndarray
    object_depth: np.ndarray


def _pyrender_mesh(mesh: ColoredMesh, smooth: bool) -> pyrender.Mesh:
    tri = trimesh.Trimesh(vertices=mesh.vertices, faces=mesh.faces, vertex_colors=mesh.colors, process=False)
    return pyrender.Mesh.from_trimesh(tri, smooth=smooth)


class HOIRenderer:
    """Renders person/object/floor scenes at a fixed image size with one EGL context.

    Args:
        width, height: Image size in pixels.

    Example:
        >>> renderer = HOIRenderer(128, 96)
        >>> outputs = renderer.render(body, obj, floor, lighting, views)  # doctest: +SKIP
        >>> renderer.close()  # doctest: +SKIP
    """

    def __init__(self, width: int, height: int):
        self.width, self.height = int(width), int(height)
        self._renderer = pyrender.OffscreenRenderer(self.width, self.height)

    def close(self):
        """Release the OpenGL context (only this renderer's: other renderers of the process keep working)."""
        release_offscreen_renderer(self._renderer)

    def _check_view(self, view: View):
        if (view.intrinsics.width, view.intrinsics.height) != (self.width, self.height):
            raise ValueError(f'camera image size {view.intrinsics.width}x{view.intrinsics.height} differs from the '
                             f'renderer size {self.width}x{self.height}; build one HOIRenderer per image size.')

    def render(self, body: ColoredMesh, obj: ColoredMesh, floor: ColoredMesh, lighting: Lighting,
               views: list) -> list:
        """Render every view of one frame.

        Args:
            body, obj, floor: Meshes in the world frame (the floor may be None).
            lighting: Lights; directions are in the world frame.
            views: Cameras (:class:`View`).

        Returns:
            One :class:`ViewRender` per view.
        """
        scene = pyrender.Scene(bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=lighting.ambient)
        body_node = scene.add(_pyrender_mesh(body, smooth=True))
        obj_node = scene.add(_pyrender_mesh(obj, smooth=False))
        if floor is not None:
            scene.add(_pyrender_mesh(floor, smooth=False))
        scene.add(pyrender.DirectionalLight(color=lighting.color, intensity=lighting.intensity),
                  pose=light_pose(lighting.direction))
        fill_dir = -np.asarray(lighting.direction) * np.array([1.0, -0.3, 1.0])
        scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=lighting.fill_intensity),
                  pose=light_pose(fill_dir))
        outputs = []
        for view in views:
            self._check_view(view)
            cam_node = scene.add(pyrender_camera(view.intrinsics), pose=camera_node_pose(view.rotation,
                                                                                         view.translation))
            rgba, _ = self._renderer.render(scene, flags=pyrender.RenderFlags.RGBA)
            seg, _ = self._renderer.render(scene, flags=pyrender.RenderFlags.SEG,
                                           seg_node_map={body_node: BODY_SEG_COLOR, obj_node: OBJECT_SEG_COLOR})
            obj_seg, obj_depth = self._renderer.render(scene, flags=pyrender.RenderFlags.SEG,
                                                       seg_node_map={obj_node: OBJECT_SEG_COLOR})
            scene.remove_node(cam_node)
            outputs.append(ViewRender(color=_composite(rgba, view.background), person_mask=seg[..., 0] > 127,
                                      object_mask=seg[..., 1] > 127, object_full=obj_seg[..., 1] > 127,
                                      object_depth=np.where(obj_seg[..., 1] > 127, obj_depth, 0).astype(np.float32)))
        return outputs

    def silhouettes(self, meshes: list, view: View) -> list:
        """Unoccluded silhouette of each mesh on its own, (H, W) bool each (no lighting, no MSAA)."""
        self._check_view(view)
        scene = pyrender.Scene(bg_color=[0.0, 0.0, 0.0, 0.0])
        nodes = [scene.add(_pyrender_mesh(mesh, smooth=False)) for mesh in meshes]
        scene.add(pyrender_camera(view.intrinsics), pose=camera_node_pose(view.rotation, view.translation))
        masks = []
        for node in nodes:
            seg, _ = self._renderer.render(scene, flags=pyrender.RenderFlags.SEG, seg_node_map={node: (255, 255, 255)})
            masks.append(seg[..., 0] > 127)
        return masks


def _composite(rgba: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Blend a premultiplied-alpha render (H, W, 4) uint8 over a background (H, W, 3) uint8."""
    if background is None:
        return np.ascontiguousarray(rgba[..., :3])
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    out = rgba[..., :3].astype(np.float32) + (1.0 - alpha) * background.astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)
