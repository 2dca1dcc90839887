"""One captioned strip of a reconstruction: the demo's ``summary.png`` and the ``--show-dir`` pictures."""
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from .sheet import contact_sheet


@dataclass
class SummaryViews:
    """Renders of one reconstruction (all (H, W, 3) uint8 except ``summary``).

    Attributes:
        overlay: the meshes over the image.
        side_view: the meshes turned about the vertical axis.
        network: the network's meshes over the image (before refinement), or None.
        summary: input | [network | refined |] reconstruction | turned, side by side with captions.
    """
    overlay: np.ndarray
    side_view: np.ndarray
    network: Optional[np.ndarray]
    summary: np.ndarray


def render_summary(renderer, image: np.ndarray, meshes: List, K: np.ndarray, network_meshes: Optional[List] = None,
                   side_angle: float = 90.0) -> SummaryViews:
    """Render a reconstruction and, when given, the network's output it was refined from.

    Args:
        renderer: a :class:`~hoirecon.visualization.MeshRenderer`.
        image: (H, W, 3) uint8 RGB.
        meshes: :class:`~hoirecon.visualization.Mesh` list (camera frame) of the reconstruction.
        K: (3, 3) intrinsics, pixels.
        network_meshes: the meshes before refinement, or None.
        side_angle: turn of the side view, degrees.
    """
    overlay, side = renderer.views(image, meshes, K, side_angles=(side_angle, ))
    panels, titles = [image, overlay, side], ['input', 'reconstruction', f'turned {side_angle:g} deg']
    network = None
    if network_meshes is not None:
        network = renderer.overlay(image, network_meshes, K)
        panels.insert(1, network)
        titles[1:2] = ['network', 'refined']
    return SummaryViews(overlay=overlay, side_view=side, network=network,
                        summary=contact_sheet(panels, titles, columns=len(panels)))
