"""Offscreen (pyrender, EGL) rendering of camera-frame meshes: overlays on the input image and turned side views.

Camera and pixels are those of the synthetic world (both take them from :mod:`hoirecon.utils.offscreen`): the
scene is expressed in the OpenCV camera frame of the image (x right, y down, z forward, metres), the camera is the
pinhole ``K`` of the image (fx != fy and any principal point allowed, no skew) and pixel ``(i, j)`` samples the point
``(u, v) = (i, j)`` (OpenCV pixel centres at integers; :func:`~hoirecon.utils.offscreen.pyrender_camera` shifts
pyrender's principal point by half a pixel).

Each view is rendered twice with one OpenGL context:

1. colour: lit (two camera-attached directional lights and an ambient term), 4x MSAA;
2. mesh index and depth: no MSAA, every pixel sampled at its centre.

A pixel is *covered* when its centre lies on a mesh (pass 2), so an overlay changes exactly the pixels of the
meshes' projected silhouettes and leaves every other pixel bit-identical to the input. Inside the silhouettes the
colour is the anti-aliased colour of pass 1 (edges between meshes are smooth; edges against the image are not
anti-aliased, by design).

Use one :class:`MeshRenderer` for many calls (it holds one OpenGL context whatever the image sizes; close it, or use
it as a context manager). The module-level functions take an optional ``renderer``; without one they open and close
a temporary renderer per call.
"""
import math
import numbers
from dataclasses import dataclass

import numpy as np

from hoirecon.utils.offscreen import (Intrinsics, camera_node_pose, keep_orphan, light_pose,  # sets EGL
                                      offscreen_context_alive, pyrender_camera, release_offscreen_renderer)

import pyrender  # noqa: E402  (after hoirecon.utils.offscreen chose the EGL platform)
import trimesh  # noqa: E402

from .meshes import (Mesh, check_image, check_image_size, check_intrinsics, check_meshes, check_rgb,  # noqa: E402
                     check_unit_interval)

#: Lights in the camera frame (OpenCV axes): (direction the light travels, intensity). The key light comes from
#: the upper left behind the camera, the fill from the lower right; both move with the camera.
CAMERA_LIGHTS = (((0.35, 0.50, 1.0), 2.0), ((-0.45, -0.25, 1.0), 0.6))
AMBIENT_LIGHT = 0.3
MAX_MESHES = 65535


@dataclass
class RenderLayers:
    """One rendered view (all (H, W) arrays, H x W = the image size).

    Attributes:
        color: (H, W, 3) uint8 RGB lit colour of the front mesh at covered pixels (not premultiplied), 0 elsewhere.
        index: (H, W) int32 index into ``meshes`` of the front mesh at each pixel centre, -1 where none.
        depth: (H, W) float32 camera z in metres of the front surface at each pixel centre, 0 where none.
    """
    color: np.ndarray
    index: np.ndarray
    depth: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool, pixels whose centre lies on a mesh."""
        return self.index >= 0


def turn_transform(angle_deg: float, centre: np.ndarray) -> np.ndarray:
    """(4, 4) rigid transform turning the scene by ``angle_deg`` about the camera-y axis through ``centre``.

    ``x' = R (x - centre) + centre`` with ``R = [[cos a, 0, sin a], [0, 1, 0], [-sin a, 0, cos a]]``: for positive
    angles points farther from the camera move right, so at +90 deg the scene is seen as from the right of the
    original camera (what was nearer the camera appears on the left of the image, the original line of sight runs
    left to right).

    Args:
        angle_deg: Angle in degrees.
        centre: (3,) centre of the turn in the camera frame, metres.
    """
    a = math.radians(float(angle_deg))
    c, s = math.cos(a), math.sin(a)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    pose = np.eye(4)
    pose[:3, :3] = rot
    pose[:3, 3] = np.asarray(centre, np.float64) - rot @ np.asarray(centre, np.float64)
    return pose


def bounding_box_centre(meshes: list) -> np.ndarray:
    """(3,) centre of the axis-aligned bounding box of all the meshes' vertices (camera frame, metres)."""
    lo = np.min([mesh.vertices.min(axis=0) for mesh in meshes], axis=0)
    hi = np.max([mesh.vertices.max(axis=0) for mesh in meshes], axis=0)
    return 0.5 * (lo + hi)


def _pyrender_mesh(mesh: Mesh) -> pyrender.Mesh:
    """Opaque, double-sided, smooth-shaded where the surface is smooth and flat across sharp edges."""
    tri = trimesh.Trimesh(vertices=mesh.vertices, faces=mesh.faces, process=False)
    try:
        tri = tri.smooth_shaded  # vertices split at sharp edges (rendering only; the Mesh is not touched)
    except Exception:  # degenerate input: plain smooth normals are good enough
        pass
    rgba = mesh.rgba
    material = pyrender.MetallicRoughnessMaterial(baseColorFactor=(*rgba[:3], 1.0), metallicFactor=0.0,
                                                  roughnessFactor=0.7, alphaMode='OPAQUE', doubleSided=True)
    return pyrender.Mesh.from_trimesh(tri, material=material, smooth=True)


def _seg_color(index: int) -> tuple:
    k = index + 1
    return (k & 255, (k >> 8) & 255, 0)


class MeshRenderer:
    """Reusable offscreen renderer of camera-frame meshes (one OpenGL context for any number of calls and sizes).

    The context is created on the first render; the framebuffer is reallocated only when the image size changes.
    Close it when done (or use ``with``); closing leaves other live renderers of the process working. Should
    other code tear down the shared EGL display (pyrender's own ``OffscreenRenderer.delete``), the next render
    starts a fresh context instead of failing.

    Example:
        >>> with MeshRenderer() as renderer:  # doctest: +SKIP
        ...     overlay = renderer.overlay(image, meshes, K)
        ...     side = renderer.side_view(meshes, K, (image.shape[1], image.shape[0]), angle_deg=90)
    """

    def __init__(self):
        self._offscreen = None
        self._closed = False

    # ------------------------------------------------------------------------------------------- lifetime
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def close(self) -> None:
        """Release the OpenGL context (idempotent)."""
        self._closed = True
        offscreen, self._offscreen = self._offscreen, None
        if offscreen is not None:
            release_offscreen_renderer(offscreen)

    def _offscreen_renderer(self, width: int, height: int):
        if self._closed:
            raise RuntimeError('this MeshRenderer is closed; create a new one')
        if self._offscreen is not None and not offscreen_context_alive(self._offscreen):
            keep_orphan(self._offscreen)  # another renderer terminated the EGL display: start afresh
            self._offscreen = None
        if self._offscreen is None:
            self._offscreen = pyrender.OffscreenRenderer(width, height)
        else:
            self._offscreen.viewport_width, self._offscreen.viewport_height = width, height
        return self._offscreen

    # ------------------------------------------------------------------------------------------- rendering
    def render_layers(self, meshes: list, K, image_size, angle_deg: float = 0.0) -> RenderLayers:
        """Render the meshes (optionally turned, see :func:`turn_transform`) into colour, mesh index and depth.

        Args:
            meshes: :class:`Mesh` list in the camera frame (may be empty).
            K: (3, 3) pinhole intrinsics in pixels.
            image_size: (W, H) in pixels.
            angle_deg: Turn about the camera-y axis through the meshes' bounding-box centre, degrees.

        Returns:
            :class:`RenderLayers` of size (H, W).
        """
        return self._render_many(meshes, K, image_size, [_check_angle(angle_deg, 'angle_deg')])[0]

    def overlay(self, image: np.ndarray, meshes: list, K, alpha: float = 0.8) -> np.ndarray:
        """See :func:`render_overlay`."""
        image = check_image(image, 'image')
        alpha = check_unit_interval(alpha, 'alpha')
        meshes = check_meshes(meshes, 'meshes')
        layers = self._render_many(meshes, K, (image.shape[1], image.shape[0]), [0.0])[0]
        return _composite(image, layers, meshes, alpha)

    def side_view(self, meshes: list, K, image_size, angle_deg: float = 90.0,
                  background=(255, 255, 255)) -> np.ndarray:
        """See :func:`render_side_view`."""
        width, height = check_image_size(image_size, 'image_size')
        base = np.broadcast_to(check_rgb(background, 'background'), (height, width, 3))
        meshes = check_meshes(meshes, 'meshes')
        layers = self._render_many(meshes, K, (width, height), [_check_angle(angle_deg, 'angle_deg')])[0]
        return _composite(base, layers, meshes, 1.0)

    def views(self, image: np.ndarray, meshes: list, K, side_angles=(90.0,), alpha: float = 0.8,
              background=(255, 255, 255)) -> list:
        """See :func:`render_views`."""
        image = check_image(image, 'image')
        alpha = check_unit_interval(alpha, 'alpha')
        meshes = check_meshes(meshes, 'meshes')
        background = check_rgb(background, 'background')
        if isinstance(side_angles, (numbers.Real, str)) or not hasattr(side_angles, '__iter__'):
            raise ValueError(f'side_angles must be a sequence of angles in degrees, got {side_angles!r}')
        angles = [_check_angle(a, 'side_angles') for a in side_angles]
        height, width = image.shape[:2]
        layers = self._render_many(meshes, K, (width, height), [0.0] + angles)
        base = np.broadcast_to(background, image.shape)
        sides = [_composite(base, lay, meshes, 1.0) for lay in layers[1:]]
        return [_composite(image, layers[0], meshes, alpha)] + sides

    def _render_many(self, meshes: list, K, image_size, angles: list) -> list:
        """One scene (meshes uploaded once), one :class:`RenderLayers` per turn angle."""
        meshes = check_meshes(meshes, 'meshes')
        K = check_intrinsics(K, 'K')
        width, height = check_image_size(image_size, 'image_size')
        if len(meshes) > MAX_MESHES:
            raise ValueError(f'meshes holds {len(meshes)} meshes, at most {MAX_MESHES} can be rendered at once')
        if not meshes:
            empty = RenderLayers(np.zeros((height, width, 3), np.uint8), np.full((height, width), -1, np.int32),
                                 np.zeros((height, width), np.float32))
            return [RenderLayers(empty.color.copy(), empty.index.copy(), empty.depth.copy()) for _ in angles]
        offscreen = self._offscreen_renderer(width, height)

        centre = bounding_box_centre(meshes)
        radius = max(float(np.linalg.norm(mesh.vertices - centre, axis=1).max()) for mesh in meshes)
        z_min, z_max = centre[2] - radius, centre[2] + radius  # whatever the turn
        znear = float(np.clip(0.5 * z_min, 1e-3, 0.05)) if z_min > 0 else 1e-3
        zfar = max(50.0, 2.0 * z_max)
        intrinsics = Intrinsics(fx=K[0, 0], fy=K[1, 1], cx=K[0, 2], cy=K[1, 2], width=width, height=height)

        scene = pyrender.Scene(bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=np.full(3, AMBIENT_LIGHT))
        nodes = [scene.add(_pyrender_mesh(mesh)) for mesh in meshes]
        camera_pose = camera_node_pose(np.eye(3), np.zeros(3))  # the world frame is the OpenCV camera frame
        scene.add(pyrender_camera(intrinsics, znear=znear, zfar=zfar), pose=camera_pose)
        for direction, intensity in CAMERA_LIGHTS:
            scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=intensity), pose=light_pose(direction))
        seg_map = {node: _seg_color(i) for i, node in enumerate(nodes)}
        base_colors = np.stack([np.rint(mesh.rgba[:3] * 255.0) for mesh in meshes]).astype(np.uint8)

        outputs = []
        for angle in angles:
            pose = turn_transform(angle, centre)
            for node in nodes:
                scene.set_pose(node, pose)
            rgba, _ = offscreen.render(scene, flags=pyrender.RenderFlags.RGBA)
            seg, depth = offscreen.render(scene, flags=pyrender.RenderFlags.SEG, seg_node_map=seg_map)
            index = seg[..., 0].astype(np.int32) + 256 * seg[..., 1].astype(np.int32) - 1
            covered = index >= 0
            color = np.zeros((height, width, 3), np.uint8)
            coverage = rgba[..., 3][covered].astype(np.float32)
            rgb = rgba[..., :3][covered].astype(np.float32)
            unpremultiplied = np.clip(np.rint(rgb * (255.0 / np.maximum(coverage, 1.0))[:, None]), 0, 255)
            # a pixel centre can lie on a sliver that no MSAA sample hit: fall back to the flat mesh colour
            color[covered] = np.where(coverage[:, None] > 0, unpremultiplied,
                                      base_colors[index[covered]]).astype(np.uint8)
            outputs.append(RenderLayers(color=color, index=index,
                                        depth=np.where(covered, depth, 0.0).astype(np.float32)))
        # the scene's GPU buffers are freed by the next render (pyrender drops meshes no longer in the scene) or by
        # close(); nothing accumulates across calls
        return outputs


def _check_angle(angle, name: str) -> float:
    if isinstance(angle, bool) or not isinstance(angle, numbers.Real) or not math.isfinite(float(angle)):
        raise ValueError(f'{name} must hold finite angles in degrees, got {angle!r}')
    return float(angle)


def _composite(base: np.ndarray, layers: RenderLayers, meshes: list, alpha: float) -> np.ndarray:
    """Blend the rendered colour over ``base`` (H, W, 3) uint8 at covered pixels only, weight alpha x mesh alpha."""
    out = np.array(base, dtype=np.uint8, copy=True)
    covered = layers.mask
    if not covered.any():
        return out
    opacity = alpha * np.array([mesh.rgba[3] for mesh in meshes])
    weight = opacity[layers.index[covered]][:, None]
    blended = (1.0 - weight) * out[covered].astype(np.float64) + weight * layers.color[covered].astype(np.float64)
    out[covered] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return out


# ----------------------------------------------------------------------------------------------------------------
# functional API
# ----------------------------------------------------------------------------------------------------------------
def _run(renderer, method: str, *args, **kwargs):
    if renderer is not None:
        if not isinstance(renderer, MeshRenderer):
            raise ValueError(f'renderer must be a MeshRenderer or None, got {type(renderer).__name__}')
        return getattr(renderer, method)(*args, **kwargs)
    with MeshRenderer() as temporary:
        return getattr(temporary, method)(*args, **kwargs)


def render_overlay(image: np.ndarray, meshes: list, K, alpha: float = 0.8, *,
                   renderer: MeshRenderer = None) -> np.ndarray:
    """Draw lit meshes over the image they were reconstructed from.

    The meshes are rendered with exactly the image's camera and alpha-blended over the image where they cover it:
    ``out = (1 - w) image + w colour`` with ``w = alpha * mesh alpha`` at pixels whose centre lies on a mesh (the
    front one), ``out = image`` (bit-identical) everywhere else.

    Args:
        image: (H, W, 3) uint8 RGB.
        meshes: :class:`Mesh` list, vertices in the image's OpenCV camera frame (metres); may be empty.
        K: (3, 3) pinhole intrinsics in pixels, ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` (OpenCV pixel centres
            at integers).
        alpha: Opacity of the meshes in [0, 1].
        renderer: A :class:`MeshRenderer` to reuse; None opens and closes one for this call.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    return _run(renderer, 'overlay', image, meshes, K, alpha=alpha)


def render_side_view(meshes: list, K, image_size, angle_deg: float = 90.0, background=(255, 255, 255), *,
                     renderer: MeshRenderer = None) -> np.ndarray:
    """The scene turned about the vertical axis, to show the depth arrangement the input view hides.

    The meshes are turned by ``angle_deg`` about the camera-y axis through the centre of their joint bounding box
    (:func:`turn_transform`; +90 deg looks from the right of the original camera, so what was near the camera is on
    the left) and seen by the same camera ``K`` from the same distance (the centre stays where it projected). The
    meshes are opaque unless their colour has alpha < 1.

    Args:
        meshes: :class:`Mesh` list in the camera frame (metres); may be empty (a blank image).
        K: (3, 3) pinhole intrinsics in pixels.
        image_size: (W, H) in pixels.
        angle_deg: Turn in degrees (0 gives the front view on the background).
        background: RGB of the background, 3 integers in [0, 255].
        renderer: A :class:`MeshRenderer` to reuse; None opens and closes one for this call.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    return _run(renderer, 'side_view', meshes, K, image_size, angle_deg=angle_deg, background=background)


def render_views(image: np.ndarray, meshes: list, K, side_angles=(90.0,), alpha: float = 0.8,
                 background=(255, 255, 255), *, renderer: MeshRenderer = None) -> list:
    """The overlay and side views in one call (one scene upload, one renderer).

    Equal to ``[render_overlay(image, meshes, K, alpha)] + [render_side_view(meshes, K, (W, H), a, background)
    for a in side_angles]``.

    Args:
        image: (H, W, 3) uint8 RGB; its size is the size of every view.
        meshes: :class:`Mesh` list in the camera frame (metres).
        K: (3, 3) pinhole intrinsics in pixels.
        side_angles: Turn angles in degrees of the side views.
        alpha: Opacity of the meshes in the overlay.
        background: RGB of the side views' background.
        renderer: A :class:`MeshRenderer` to reuse; None opens and closes one for this call.

    Returns:
        ``1 + len(side_angles)`` (H, W, 3) uint8 RGB images: the overlay, then the side views.
    """
    return _run(renderer, 'views', image, meshes, K, side_angles=side_angles, alpha=alpha, background=background)
