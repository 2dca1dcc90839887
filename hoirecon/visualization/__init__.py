"""Visualisation of single-image HOI reconstructions: overlays, side views, contact sheets, mesh export.

Pure functions on numpy arrays for ``tools/demo.py``; meshes are in the OpenCV camera frame of the input image
(x right, y down, z forward, metres) and cameras are pinhole ``K`` matrices in pixels (OpenCV pixel centres at
integers). See ``docs/visualization.md``.

Rendering uses pyrender offscreen (``PYOPENGL_PLATFORM=egl`` by default, set on import as in
:mod:`hoirecon.utils.offscreen`); reuse one :class:`MeshRenderer` for many renders.
"""
from .export import CV_TO_GLTF, export_meshes, export_scene_glb, save_image
from .meshes import Mesh, default_colors
from .renderer import (MeshRenderer, RenderLayers, render_overlay, render_side_view, render_views,
                       turn_transform)
from .sheet import contact_sheet, draw_caption
from .summary import SummaryViews, render_summary

__all__ = [
    'CV_TO_GLTF', 'Mesh', 'MeshRenderer', 'RenderLayers', 'SummaryViews', 'contact_sheet', 'default_colors',
    'draw_caption', 'export_meshes', 'export_scene_glb', 'render_overlay', 'render_side_view', 'render_summary',
    'render_views', 'save_image', 'turn_transform'
]
