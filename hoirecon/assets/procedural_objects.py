"""Licence-free procedural stand-ins for the BEHAVE and InterCap object templates.

Each object is assembled from closed primitives (subdivided boxes, superellipsoids, surfaces of revolution, swept
tubes) with realistic sizes in metres and vertex counts close to the real templates'. The raw frame of a builder has
+y up, the object standing on the floor (y = 0), +z its front and +x its right side; the template is then centred at
its vertex mean like the real ones. Keypoints are vertex-id groups at meaningful places (corners, leg ends, seat
corners, handle ends, centres). Builds are deterministic.

This module only makes meshes (numpy); :func:`hoirecon.objects.make_procedural_template` turns one into an
:class:`~hoirecon.objects.ObjectTemplate` (label, family, interaction hints) and
:func:`hoirecon.objects.write_template_folder` writes them in a dataset's file layout.
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .primitives import (MeshPart, box_divisions, box_mesh, lathe_mesh, rotation, superellipsoid_mesh, sweep_mesh,
                         transformed)


class _Assembly:
    """Merges parts into one mesh and records keypoints as vertex-id groups of the merged mesh."""

    def __init__(self):
        self._parts: List[MeshPart] = []
        self._size = 0
        self.keypoints: Dict[str, List[int]] = {}

    def add(self, part: MeshPart) -> np.ndarray:
        """Append a part; returns the (n,) ids its vertices get in the merged mesh."""
        ids = np.arange(self._size, self._size + len(part.vertices))
        self._parts.append(MeshPart(part.vertices, part.faces + self._size))
        self._size += len(part.vertices)
        return ids

    @property
    def vertices(self) -> np.ndarray:
        return np.concatenate([part.vertices for part in self._parts])

    def mark(self, name: str, target: Sequence[float], ids: np.ndarray):
        """Keypoint ``name`` at the vertex among ``ids`` nearest to ``target`` (raw frame, metres)."""
        candidates = self.vertices[ids]
        self.group(name, [ids[np.argmin(np.linalg.norm(candidates - np.asarray(target), axis=1))]])

    def group(self, name: str, ids: Sequence[int]):
        """Keypoint ``name`` at the mean of the vertices ``ids``."""
        if name in self.keypoints:
            raise ValueError(f'duplicate keypoint name {name!r}')
        self.keypoints[name] = [int(i) for i in ids]

    def mark_box_corners(self, ids: np.ndarray):
        """Eight keypoints at the vertices of ``ids`` nearest to the corners of their axis-aligned box."""
        points = self.vertices[ids]
        low, high = points.min(axis=0), points.max(axis=0)
        for y_name, y in (('bottom', low[1]), ('top', high[1])):
            for z_name, z in (('back', low[2]), ('front', high[2])):
                for x_name, x in (('left', low[0]), ('right', high[0])):
                    self.mark(f'{y_name}_{z_name}_{x_name}', (x, y, z), ids)

    def mesh(self) -> MeshPart:
        return MeshPart(self.vertices, np.concatenate([part.faces for part in self._parts]))


# ------------------------------------------------------------------------------------------------ part helpers
def _box(extents: Sequence[float], centre: Sequence[float], step: Optional[float] = None,
         num_vertices: Optional[int] = None) -> MeshPart:
    """A grid box centred at ``centre``; cell size ``step`` [m] or about ``num_vertices`` vertices."""
    extents = np.asarray(extents, dtype=np.float64)
    if num_vertices is not None:
        divisions = box_divisions(extents, num_vertices)
    else:
        divisions = np.maximum(1, np.ceil(extents / step - 1e-9)).astype(np.int64)
    return transformed(box_mesh(extents, divisions), translation=centre)


def _rounded_box(extents: Sequence[float], centre: Sequence[float], num_vertices: int, exponent: float,
                 rotation_matrix: Optional[np.ndarray] = None) -> MeshPart:
    """A superellipsoid of about ``num_vertices`` vertices, rotated then centred at ``centre``."""
    part = superellipsoid_mesh(extents, box_divisions(extents, num_vertices), exponent)
    return transformed(part, rotation_matrix, centre)


def _cylinder_profile(radius: float, height: float, side_rings: int, cap_rings: int,
                      bottom: float = 0.0) -> np.ndarray:
    """(radius, y) lathe profile of a closed cylinder standing on ``bottom``, with rings on the caps."""
    cap = radius * np.arange(1, cap_rings + 1) / cap_rings
    side = bottom + height * np.arange(1, side_rings) / side_rings
    return np.concatenate([[[0.0, bottom]], np.stack([cap, np.full(cap_rings, bottom)], 1),
                           np.stack([np.full(side_rings - 1, radius), side], 1),
                           np.stack([cap[::-1], np.full(cap_rings, bottom + height)], 1), [[0.0, bottom + height]]])


def _cylinder(radius: float, height: float, segments: int, side_rings: int = 1, cap_rings: int = 1) -> MeshPart:
    """Closed cylinder about +y from y = 0 to ``height``; poles are the last two vertices (bottom, top)."""
    return lathe_mesh(_cylinder_profile(radius, height, side_rings, cap_rings), segments)


def _sphere(radius: float, segments: int, rings: int) -> MeshPart:
    """UV sphere centred at the origin with ``rings - 1`` latitude rings; poles are the last two vertices."""
    polar = np.pi * np.arange(rings + 1) / rings
    profile = np.stack([radius * np.sin(polar), -radius * np.cos(polar)], axis=1)
    profile[[0, -1], 0] = 0.0
    return lathe_mesh(profile, segments)


def _rod(start: Sequence[float], end: Sequence[float], radius: float, segments: int = 8, rings: int = 4) -> MeshPart:
    """Straight closed tube; its cap centres are the last two vertices (start, end)."""
    path = np.linspace(np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64), rings + 1)
    return sweep_mesh(path, radius, segments)


def _arc(centre: Sequence[float], radii: Sequence[float], degrees: Sequence[float], points: int) -> np.ndarray:
    """(points, 3) elliptic arc in the plane z = centre[2]: ``centre + (rx cos a, ry sin a, 0)``, a in degrees."""
    angles = np.radians(np.linspace(degrees[0], degrees[1], points))
    offsets = np.stack([radii[0] * np.cos(angles), radii[1] * np.sin(angles), np.zeros_like(angles)], 1)
    return np.asarray(centre, dtype=np.float64) + offsets


def _lathe_ring(ids: np.ndarray, profile_index: int, segments: int) -> List[int]:
    """Vertex ids of the ring that profile point ``profile_index`` sweeps in a :func:`lathe_mesh` part."""
    return [int(i) for i in ids[(profile_index - 1) * segments:profile_index * segments]]


def _poles(ids: np.ndarray) -> List[int]:
    """The two pole / cap-centre vertex ids of a lathe or open sweep part (its last two vertices)."""
    return [int(ids[-2]), int(ids[-1])]


# --------------------------------------------------------------------------------------------- BEHAVE objects
def _box_object(extents, num_vertices):

    def build() -> _Assembly:
        asm = _Assembly()
        body = asm.add(_box(extents, (0.0, extents[1] / 2, 0.0), num_vertices=num_vertices))
        asm.mark_box_corners(body)
        return asm

    return build


def _ball(radius: float, segments: int, rings: int):

    def build() -> _Assembly:
        asm = _Assembly()
        ball = asm.add(transformed(_sphere(radius, segments, rings), translation=(0.0, radius, 0.0)))
        asm.group('centre', _poles(ball))
        return asm

    return build


def _backpack() -> _Assembly:
    asm = _Assembly()
    body = asm.add(_rounded_box((0.32, 0.45, 0.18), (0.0, 0.225, 0.0), 260, 3.5))
    asm.add(_rounded_box((0.24, 0.20, 0.07), (0.0, 0.13, 0.085), 110, 3.0))
    asm.add(sweep_mesh(_arc((0.0, 0.43, -0.03), (0.045, 0.045), (180, 0), 9), 0.008, 6))
    for x in (-0.09, 0.09):
        strap = np.stack([np.full(12, x), np.linspace(0.40, 0.05, 12),
                          -0.08 - 0.06 * np.sin(np.linspace(0, np.pi, 12))], 1)
        asm.add(sweep_mesh(strap, 0.01, 6))
    asm.mark_box_corners(body)
    return asm


def _chairwood() -> _Assembly:
    asm = _Assembly()
    step = 0.031
    seat = asm.add(_box((0.42, 0.03, 0.42), (0.0, 0.435, 0.0), step))
    feet = []
    for x in (-0.18, 0.18):
        feet.append(asm.add(_box((0.035, 0.42, 0.035), (x, 0.21, 0.18), step)))
        feet.append(asm.add(_box((0.035, 0.88, 0.035), (x, 0.44, -0.18), step)))
        asm.add(_box((0.02, 0.025, 0.325), (x, 0.15, 0.0), step))
    for z in (-0.18, 0.18):
        asm.add(_box((0.325, 0.025, 0.02), (0.0, 0.15, z), step))
    for y in (0.60, 0.72):
        asm.add(_box((0.325, 0.05, 0.018), (0.0, y, -0.18), step))
    rail = asm.add(_box((0.40, 0.06, 0.03), (0.0, 0.85, -0.18), step))
    for z_name, z in (('front', 0.21), ('back', -0.21)):
        for x_name, x in (('left', -0.21), ('right', 0.21)):
            asm.mark(f'seat_{z_name}_{x_name}', (x, 0.45, z), seat)
    for leg, (z_name, x_name) in zip(feet, (('front', 'left'), ('back', 'left'), ('front', 'right'),
                                            ('back', 'right'))):
        points = asm.vertices[leg]
        asm.mark(f'foot_{z_name}_{x_name}', (points[:, 0].mean(), 0.0, points[:, 2].mean()), leg)
    for x_name, x in (('left', -0.2), ('right', 0.2)):
        asm.mark(f'backrest_top_{x_name}', (x, 0.88, -0.18), rail)
    return asm


def _chairblack() -> _Assembly:
    asm = _Assembly()
    seat = asm.add(_rounded_box((0.50, 0.09, 0.48), (0.0, 0.455, 0.02), 420, 4.0))
    tilt = rotation('x', -8.0)
    back = asm.add(_rounded_box((0.46, 0.52, 0.08), (0.0, 0.83, -0.25), 420, 4.0, tilt))
    asm.add(_box((0.06, 0.32, 0.03), (0.0, 0.56, -0.23), 0.04))
    arms = []
    for x in (-0.27, 0.27):
        asm.add(_box((0.03, 0.20, 0.05), (x, 0.56, 0.0), 0.04))
        arms.append(asm.add(_box((0.07, 0.03, 0.26), (x, 0.675, 0.02), 0.035)))
    asm.add(transformed(_cylinder(0.028, 0.32, 16, side_rings=4), translation=(0.0, 0.10, 0.0)))
    hub = asm.add(transformed(_cylinder(0.05, 0.05, 16, cap_rings=2), translation=(0.0, 0.075, 0.0)))
    casters = []
    for k in range(5):
        angle = 90.0 + 72.0 * k
        direction = rotation('y', angle) @ np.array([1.0, 0.0, 0.0])
        asm.add(transformed(_box((0.30, 0.035, 0.05), (0.0, 0.0, 0.0), 0.04), rotation('y', angle),
                            direction * 0.16 + (0.0, 0.095, 0.0)))
        casters.append(asm.add(transformed(_sphere(0.025, 12, 6), translation=direction * 0.30 + (0.0, 0.025, 0.0))))
    points = asm.vertices[seat]
    low, high = points.min(axis=0), points.max(axis=0)
    inset = 0.1 * (high - low)  # the cushion is rounded: its corners on the sitting surface lie inwards
    for z_name, z in (('front', high[2] - inset[2]), ('back', low[2] + inset[2])):
        for x_name, x in (('left', low[0] + inset[0]), ('right', high[0] - inset[0])):
            asm.mark(f'seat_{z_name}_{x_name}', (x, high[1], z), seat)
    points = asm.vertices[back]
    low, high = points.min(axis=0), points.max(axis=0)
    for y_name, y in (('top', high[1]), ('bottom', low[1])):
        for x_name, x in (('left', low[0]), ('right', high[0])):
            asm.mark(f'backrest_{y_name}_{x_name}', (x, y, points[np.argmin(np.abs(points[:, 1] - y)), 2]), back)
    for arm, x_name in zip(arms, ('left', 'right')):
        points = asm.vertices[arm]
        asm.mark(f'armrest_front_{x_name}', (points[:, 0].mean(), points[:, 1].max(), points[:, 2].max()), arm)
    for k, caster in enumerate(casters):
        asm.group(f'caster_{k}', [int(caster[-2])])
    asm.group('base_centre', [int(hub[-2])])
    return asm


def _keyboard() -> _Assembly:
    asm = _Assembly()
    slab = asm.add(_box((0.45, 0.025, 0.15), (0.0, 0.0125, 0.0), num_vertices=330))
    asm.add(_box((0.42, 0.008, 0.12), (0.0, 0.027, 0.005), num_vertices=170))
    for z_name, z in (('back', -0.075), ('front', 0.075)):
        for x_name, x in (('left', -0.225), ('right', 0.225)):
            asm.mark(f'{z_name}_{x_name}', (x, 0.025, z), slab)
    return asm


def _monitor() -> _Assembly:
    asm = _Assembly()
    screen = asm.add(_box((0.55, 0.33, 0.03), (0.0, 0.31, 0.0), num_vertices=330))
    asm.add(_box((0.32, 0.20, 0.04), (0.0, 0.30, -0.035), num_vertices=90))
    asm.add(_box((0.05, 0.22, 0.025), (0.0, 0.12, -0.05), num_vertices=40))
    base = asm.add(_box((0.24, 0.015, 0.18), (0.0, 0.0075, -0.03), num_vertices=80))
    for y_name, y in (('bottom', 0.145), ('top', 0.475)):
        for x_name, x in (('left', -0.275), ('right', 0.275)):
            asm.mark(f'screen_{y_name}_{x_name}', (x, y, 0.015), screen)
    for z_name, z in (('back', -0.12), ('front', 0.06)):
        for x_name, x in (('left', -0.12), ('right', 0.12)):
            asm.mark(f'base_{z_name}_{x_name}', (x, 0.0, z), base)
    return asm


def _plasticcontainer() -> _Assembly:
    asm = _Assembly()
    width, height, depth, wall = 0.55, 0.32, 0.38, 0.012
    asm.add(_box((width, wall, depth), (0.0, wall / 2, 0.0), num_vertices=160))
    for z in (-(depth - wall) / 2, (depth - wall) / 2):
        asm.add(_box((width, height, wall), (0.0, height / 2, z), num_vertices=110))
    for x in (-(width - wall) / 2, (width - wall) / 2):
        asm.add(_box((wall, height, depth - 2 * wall), (x, height / 2, 0.0), num_vertices=90))
    asm.mark_box_corners(np.arange(len(asm.vertices)))
    return asm


def _stool() -> _Assembly:
    asm = _Assembly()
    seat_profile = [(0.0, 0.415), (0.06, 0.415), (0.12, 0.415), (0.165, 0.415), (0.17, 0.425), (0.17, 0.44),
                    (0.165, 0.45), (0.12, 0.45), (0.06, 0.45), (0.0, 0.45)]
    seat = asm.add(lathe_mesh(seat_profile, 36))
    legs = []
    for angle in (90.0, 210.0, 330.0):
        direction = np.array([np.cos(np.radians(angle)), 0.0, -np.sin(np.radians(angle))])
        legs.append(asm.add(_rod(direction * 0.11 + (0, 0.42, 0), direction * 0.19, 0.016, 8, 5)))
    ring = _arc((0.0, 0.0, 0.0), (0.16, 0.16), (0, 360), 21)[:-1]
    asm.add(sweep_mesh(ring[:, [0, 2, 1]] + (0.0, 0.16, 0.0), 0.009, 5, loop=True))
    for k, (angle, leg) in enumerate(zip((90.0, 210.0, 330.0), legs)):
        direction = np.array([np.cos(np.radians(angle)), 0.0, -np.sin(np.radians(angle))])
        asm.group(f'foot_{k}', [int(leg[-1])])
        asm.mark(f'seat_rim_{k}', direction * 0.17 + (0.0, 0.45, 0.0), seat)
    return asm


def _suitcase_body(asm: _Assembly, extents, bottom: float, num_vertices: int) -> np.ndarray:
    body = asm.add(_rounded_box(extents, (0.0, bottom + extents[1] / 2, 0.0), num_vertices, 10.0))
    asm.mark_box_corners(body)
    return body


def _top_handle(top: float, half_width: float, rise: float, radius: float, points: int = 12) -> MeshPart:
    return sweep_mesh(_arc((0.0, top - 0.01, 0.0), (half_width, rise), (180, 0), points), radius, 8)


def _suitcase() -> _Assembly:
    asm = _Assembly()
    _suitcase_body(asm, (0.40, 0.55, 0.22), 0.0, 420)
    asm.add(_top_handle(0.55, 0.07, 0.045, 0.011))
    return asm


def _tablesmall() -> _Assembly:
    asm = _Assembly()
    top = asm.add(_box((0.60, 0.03, 0.40), (0.0, 0.435, 0.0), num_vertices=200))
    legs = [asm.add(_box((0.03, 0.42, 0.03), (x, 0.21, z), num_vertices=50)) for z in (0.17, -0.17)
            for x in (-0.27, 0.27)]
    shelf = asm.add(_box((0.54, 0.02, 0.34), (0.0, 0.12, 0.0), num_vertices=110))
    for z_name, z in (('front', 0.2), ('back', -0.2)):
        for x_name, x in (('left', -0.3), ('right', 0.3)):
            asm.mark(f'top_{z_name}_{x_name}', (x, 0.45, z), top)
    for leg, name in zip(legs, ('front_left', 'front_right', 'back_left', 'back_right')):
        points = asm.vertices[leg]
        asm.mark(f'foot_{name}', (points[:, 0].mean(), 0.0, points[:, 2].mean()), leg)
    asm.mark('top_centre', (0.0, 0.45, 0.0), top)
    asm.mark('shelf_centre', (0.0, 0.13, 0.0), shelf)
    return asm


def _tablesquare() -> _Assembly:
    asm = _Assembly()
    top = asm.add(_box((0.70, 0.035, 0.70), (0.0, 0.7325, 0.0), num_vertices=420))
    legs = [asm.add(_box((0.045, 0.715, 0.045), (x, 0.3575, z), num_vertices=110)) for z in (0.31, -0.31)
            for x in (-0.31, 0.31)]
    for z in (-0.31, 0.31):
        asm.add(_box((0.575, 0.07, 0.02), (0.0, 0.68, z), num_vertices=40))
    for x in (-0.31, 0.31):
        asm.add(_box((0.02, 0.07, 0.575), (x, 0.68, 0.0), num_vertices=40))
    for z_name, z in (('front', 0.35), ('back', -0.35)):
        for x_name, x in (('left', -0.35), ('right', 0.35)):
            asm.mark(f'top_{z_name}_{x_name}', (x, 0.75, z), top)
    for leg, name in zip(legs, ('front_left', 'front_right', 'back_left', 'back_right')):
        points = asm.vertices[leg]
        asm.mark(f'foot_{name}', (points[:, 0].mean(), 0.0, points[:, 2].mean()), leg)
    return asm


def _toolbox() -> _Assembly:
    asm = _Assembly()
    body = asm.add(_box((0.45, 0.20, 0.22), (0.0, 0.10, 0.0), num_vertices=250))
    asm.add(_box((0.46, 0.03, 0.23), (0.0, 0.185, 0.0), num_vertices=110))
    asm.add(sweep_mesh(_arc((0.0, 0.19, 0.0), (0.15, 0.08), (180, 0), 16), 0.012, 8))
    asm.mark_box_corners(body)
    return asm


def _trashbin() -> _Assembly:
    asm = _Assembly()
    side = np.linspace(0.02, 0.37, 7)
    profile = np.concatenate([
        [(0.0, 0.0), (0.045, 0.0), (0.09, 0.0), (0.125, 0.0)],
        np.stack([0.125 + 0.02 * side / 0.37, side], 1),
        [(0.152, 0.37), (0.152, 0.40), (0.12, 0.41), (0.08, 0.415), (0.04, 0.418), (0.0, 0.418)],
    ])
    bin_part = asm.add(lathe_mesh(profile, 36))
    asm.group('top_centre', [int(bin_part[-1])])
    asm.group('bottom_centre', [int(bin_part[-2])])
    return asm


def _yogamat() -> _Assembly:
    asm = _Assembly()
    roll = _cylinder(0.07, 0.60, 32, side_rings=11, cap_rings=3)
    mat = asm.add(transformed(roll, rotation('z', -90.0), (-0.30, 0.07, 0.0)))
    asm.group('end_left', [int(mat[-2])])
    asm.group('end_right', [int(mat[-1])])
    return asm


# ------------------------------------------------------------------------------------------- InterCap objects
def _suitcase1() -> _Assembly:
    asm = _Assembly()
    _suitcase_body(asm, (0.38, 0.52, 0.22), 0.03, 420)
    handle = asm.add(_top_handle(0.55, 0.075, 0.045, 0.011))
    asm.group('handle_left', [int(handle[-2])])
    asm.group('handle_right', [int(handle[-1])])
    for x_name, x in (('left', -0.15), ('right', 0.15)):
        wheel = _cylinder(0.03, 0.025, 12, side_rings=2, cap_rings=2)
        wheel_ids = asm.add(transformed(wheel, rotation('z', -90.0), (x - 0.0125, 0.03, -0.08)))
        asm.group(f'wheel_{x_name}', _poles(wheel_ids))
    return asm


def _suitcase2() -> _Assembly:
    asm = _Assembly()
    _suitcase_body(asm, (0.45, 0.66, 0.27), 0.05, 1050)
    for x in (-0.10, 0.10):
        asm.add(_rod((x, 0.70, -0.11), (x, 0.96, -0.11), 0.009, 8, 8))
    grip = asm.add(_rod((-0.115, 0.96, -0.11), (0.115, 0.96, -0.11), 0.014, 10, 10))
    asm.group('grip_left', [int(grip[-2])])
    asm.group('grip_right', [int(grip[-1])])
    handle = asm.add(_top_handle(0.71, 0.08, 0.045, 0.012, 14))
    asm.group('handle_left', [int(handle[-2])])
    asm.group('handle_right', [int(handle[-1])])
    for x in (-0.18, 0.18):
        for z in (-0.10, 0.10):
            wheel = _cylinder(0.025, 0.02, 12, cap_rings=2)
            asm.add(transformed(wheel, rotation('z', -90.0), (x - 0.01, 0.025, z)))
    return asm


def _skate() -> _Assembly:
    asm = _Assembly()
    length, width, flat = 0.80, 0.21, 0.28
    deck = box_mesh((length, 0.012, width), (32, 1, 8))
    vertices = deck.vertices.copy()
    overhang = np.clip((np.abs(vertices[:, 0]) - flat) / (length / 2 - flat), 0.0, 1.0)
    vertices[:, 2] *= np.sqrt(1.0 - 0.9 * overhang**2)
    vertices[:, 1] += 0.095 + 0.03 * overhang**2
    deck_ids = asm.add(MeshPart(vertices, deck.faces))
    wheels = []
    for x in (-0.22, 0.22):
        asm.add(_box((0.05, 0.055, 0.06), (x, 0.0665, 0.0), num_vertices=40))
        asm.add(_box((0.04, 0.02, 0.16), (x, 0.035, 0.0), num_vertices=50))
        for z in (-0.09, 0.09):
            wheel = _cylinder(0.027, 0.03, 12, side_rings=2, cap_rings=2)
            wheels.append(asm.add(transformed(wheel, rotation('x', 90.0), (x, 0.027, z - 0.015))))
    top = 0.101
    asm.mark('nose', (length / 2, top + 0.03, 0.0), deck_ids)
    asm.mark('tail', (-length / 2, top + 0.03, 0.0), deck_ids)
    for x_name, x in (('nose', flat), ('tail', -flat)):
        for z_name, z in (('back', -width / 2), ('front', width / 2)):
            asm.mark(f'deck_{x_name}_{z_name}', (x, top, z), deck_ids)
    asm.mark('deck_centre', (0.0, top, 0.0), deck_ids)
    for k, wheel in enumerate(wheels):
        asm.group(f'wheel_{k}', _poles(wheel))
    return asm


def _umbrella() -> _Assembly:
    asm = _Assembly()
    radius, rim, rise, thickness = 0.48, 0.72, 0.23, 0.006
    polar = np.linspace(0.0, np.pi / 2, 9)[1:]
    outer = np.stack([radius * np.sin(polar), rim + rise * np.cos(polar)], 1)
    inner = np.stack([(radius - 0.004) * np.sin(polar), rim - thickness + rise * np.cos(polar)], 1)[::-1]
    canopy = lathe_mesh(np.concatenate([[(0.0, rim + rise)], outer, inner, [(0.0, rim + rise - thickness)]]), 64)
    vertices = canopy.vertices.copy()
    azimuth = np.arctan2(-vertices[:, 2], vertices[:, 0])
    spread = np.linalg.norm(vertices[:, [0, 2]], axis=1) / radius
    vertices[:, 1] += 0.03 * spread**2 * (1 - np.cos(8 * azimuth)) / 2
    canopy_ids = asm.add(MeshPart(vertices, canopy.faces))
    shaft = asm.add(_rod((0.0, 0.15, 0.0), (0.0, 1.0, 0.0), 0.007, 8, 10))
    hook = np.concatenate([np.stack([np.zeros(4), np.linspace(0.16, 0.07, 4), np.zeros(4)], 1),
                           _arc((0.035, 0.07, 0.0), (0.035, 0.035), (-180, 0), 10)[1:]])
    hook_ids = asm.add(sweep_mesh(hook, 0.012, 10))
    for k in range(8):
        angle = 2 * np.pi * k / 8
        asm.mark(f'rib_{k}', (radius * np.cos(angle), rim, -radius * np.sin(angle)), canopy_ids)
    asm.group('top', [int(shaft[-1])])
    asm.group('canopy_centre', [int(canopy_ids[-1])])
    asm.mark('handle_bottom', (0.035, 0.035 - 0.012, 0.0), hook_ids)
    asm.group('handle_end', [int(hook_ids[-1])])
    return asm


def _tennis() -> _Assembly:
    asm = _Assembly()
    centre, semi = np.array([0.0, 0.525, 0.0]), np.array([0.125, 0.16])
    loop = _arc(centre, semi, (-90, 270), 97)[:-1]
    frame = asm.add(sweep_mesh(loop, 0.009, 14, loop=True, normal=(0.0, 0.0, 1.0)))
    strings = lathe_mesh(_cylinder_profile(1.0, 0.004, side_rings=1, cap_rings=4, bottom=-0.002), 48)
    asm.add(transformed(MeshPart(strings.vertices * (0.118, 1.0, 0.153), strings.faces), rotation('x', 90.0), centre))
    throats = []
    for side in (-1, 1):
        angle = np.radians(-90 + side * 40)
        start = centre + (semi[0] * np.cos(angle), semi[1] * np.sin(angle), 0.0)
        throats.append(asm.add(_rod(start, (side * 0.012, 0.20, 0.0), 0.008, 10, 9)))
    handle_profile = _cylinder_profile(0.016, 0.21, side_rings=8, cap_rings=2)
    handle = asm.add(lathe_mesh(handle_profile, 8))
    asm.mark('head_top', centre + (0.0, semi[1] + 0.009, 0.0), frame)
    asm.mark('head_left', centre - (semi[0] + 0.009, 0.0, 0.0), frame)
    asm.mark('head_right', centre + (semi[0] + 0.009, 0.0, 0.0), frame)
    asm.group('throat_left', [int(throats[0][-2])])
    asm.group('throat_right', [int(throats[1][-2])])
    asm.group('handle_butt', [int(handle[-2])])
    asm.group('handle_top', [int(handle[-1])])
    return asm


def _chair1() -> _Assembly:
    asm = _Assembly()
    seat = asm.add(_box((0.40, 0.03, 0.40), (0.0, 0.435, 0.0), num_vertices=90))
    legs = [asm.add(_box((0.03, 0.42, 0.03), (x, 0.21, z), num_vertices=26)) for z in (0.18, -0.18)
            for x in (-0.18, 0.18)]
    posts = [asm.add(_box((0.03, 0.42, 0.03), (x, 0.66, -0.18), num_vertices=26)) for x in (-0.18, 0.18)]
    back = asm.add(_box((0.39, 0.16, 0.02), (0.0, 0.78, -0.18), num_vertices=60))
    for z_name, z in (('front', 0.2), ('back', -0.2)):
        for x_name, x in (('left', -0.2), ('right', 0.2)):
            asm.mark(f'seat_{z_name}_{x_name}', (x, 0.45, z), seat)
    for leg, name in zip(legs, ('front_left', 'front_right', 'back_left', 'back_right')):
        points = asm.vertices[leg]
        asm.mark(f'foot_{name}', (points[:, 0].mean(), 0.0, points[:, 2].mean()), leg)
        asm.mark(f'leg_top_{name}', (points[:, 0].mean(), 0.42, points[:, 2].mean()), leg)
    for post, x_name in zip(posts, ('left', 'right')):
        points = asm.vertices[post]
        asm.mark(f'backrest_top_{x_name}', (points[:, 0].mean(), 0.87, points[:, 2].mean()), post)
    points = asm.vertices[back]
    for x_name, x in (('left', points[:, 0].min()), ('right', points[:, 0].max())):
        asm.mark(f'backrest_bottom_{x_name}', (x, points[:, 1].min(), -0.17), back)
    return asm


def _chair2() -> _Assembly:
    asm = _Assembly()
    seat = asm.add(_rounded_box((0.44, 0.04, 0.42), (0.0, 0.43, 0.0), 330, 6.0))
    back = asm.add(_rounded_box((0.42, 0.34, 0.035), (0.0, 0.69, -0.21), 330, 5.0, rotation('x', -10.0)))
    feet = []
    for x in (-0.19, 0.19):
        feet.append(asm.add(_rod((x, 0.42, 0.17), (x * 1.05, 0.0, 0.19), 0.014, 10, 6)))
        feet.append(asm.add(_rod((x, 0.42, -0.17), (x * 1.05, 0.0, -0.22), 0.014, 10, 6)))
        asm.add(_rod((x, 0.44, -0.19), (x, 0.56, -0.215), 0.012, 8, 3))
    points = asm.vertices[seat]
    low, high = points.min(axis=0), points.max(axis=0)
    for z_name, z in (('front', high[2]), ('back', low[2])):
        for x_name, x in (('left', low[0]), ('right', high[0])):
            asm.mark(f'seat_{z_name}_{x_name}', (x, high[1], z), seat)
    for foot, name in zip(feet, ('front_left', 'back_left', 'front_right', 'back_right')):
        asm.group(f'foot_{name}', [int(foot[-1])])
    points = asm.vertices[back]
    top = points[np.argmax(points[:, 1])]
    for x_name, x in (('left', points[:, 0].min()), ('right', points[:, 0].max())):
        asm.mark(f'backrest_top_{x_name}', (x, top[1], top[2]), back)
    return asm


def _bottle() -> _Assembly:
    asm = _Assembly()
    body = np.linspace(0.02, 0.16, 8)
    profile = np.concatenate([
        [(0.0, 0.0), (0.012, 0.0), (0.024, 0.0), (0.033, 0.002), (0.036, 0.008)],
        np.stack([np.full(8, 0.036), body], 1),
        [(0.034, 0.175), (0.029, 0.19), (0.022, 0.20), (0.016, 0.21), (0.014, 0.215), (0.014, 0.22),
         (0.016, 0.22), (0.016, 0.232), (0.016, 0.244), (0.012, 0.248), (0.006, 0.248), (0.0, 0.248)],
    ])
    bottle = asm.add(lathe_mesh(profile, 56))
    asm.group('top', [int(bottle[-1])])
    asm.group('bottom', [int(bottle[-2])])
    return asm


def _cup() -> _Assembly:
    asm = _Assembly()
    outer = np.linspace(0.006, 0.095, 7)
    inner = np.linspace(0.095, 0.012, 7)
    profile = np.concatenate([
        [(0.0, 0.0), (0.012, 0.0), (0.024, 0.0), (0.033, 0.001)],
        np.stack([0.035 + 0.007 * (outer - 0.006) / 0.089, outer], 1),
        [(0.042, 0.1), (0.039, 0.1)],
        np.stack([0.032 + 0.006 * (inner - 0.012) / 0.083, inner], 1),
        [(0.024, 0.008), (0.012, 0.008), (0.0, 0.008)],
    ])
    cup = asm.add(lathe_mesh(profile, 64))
    asm.add(sweep_mesh(_arc((0.040, 0.052, 0.0), (0.028, 0.03), (-80, 80), 18), 0.006, 10))
    asm.group('rim_centre', _lathe_ring(cup, profile_index=11, segments=64))
    asm.group('bottom_centre', [int(cup[-2])])
    return asm


_BUILDERS: Dict[str, Callable[[], _Assembly]] = {
    'backpack': _backpack,
    'basketball': _ball(0.12, 36, 15),
    'boxlarge': _box_object((0.60, 0.40, 0.40), 524),
    'boxlong': _box_object((0.80, 0.20, 0.20), 526),
    'boxmedium': _box_object((0.45, 0.30, 0.35), 509),
    'boxsmall': _box_object((0.30, 0.22, 0.25), 517),
    'boxtiny': _box_object((0.16, 0.12, 0.15), 506),
    'chairblack': _chairblack,
    'chairwood': _chairwood,
    'keyboard': _keyboard,
    'monitor': _monitor,
    'plasticcontainer': _plasticcontainer,
    'stool': _stool,
    'suitcase': _suitcase,
    'tablesmall': _tablesmall,
    'tablesquare': _tablesquare,
    'toolbox': _toolbox,
    'trashbin': _trashbin,
    'yogaball': _ball(0.32, 38, 15),
    'yogamat': _yogamat,
    'suitcase1': _suitcase1,
    'skate': _skate,
    'sports': _ball(0.11, 40, 26),
    'umbrella': _umbrella,
    'tennis': _tennis,
    'suitcase2': _suitcase2,
    'chair1': _chair1,
    'bottle': _bottle,
    'cup': _cup,
    'chair2': _chair2,
}


#: Names of the objects that have a procedural builder (BEHAVE's 20, then InterCap's 10).
PROCEDURAL_OBJECTS: Tuple[str, ...] = tuple(_BUILDERS)


def procedural_raw_mesh(name: str) -> Tuple[np.ndarray, np.ndarray, List[str], List[List[int]]]:
    """The procedural mesh of an object as it is written to a template file.

    Vertices are in the builder's raw frame, shifted so that the lowest point is at y = 0, and rounded to float32 (the
    precision of a PLY template) so that reading the file back reproduces them exactly.

    Args:
        name: one of :data:`PROCEDURAL_OBJECTS`, e.g. 'chairwood' (BEHAVE) or 'skate' (InterCap).

    Returns:
        (vertices (V, 3) float64 [m], faces (F, 3) int64, keypoint names, keypoint vertex-id groups).

    Raises:
        KeyError: ``name`` has no procedural builder (the message lists the valid names).
    """
    if name not in _BUILDERS:
        raise KeyError(f'{name!r} has no procedural template; valid names: {", ".join(PROCEDURAL_OBJECTS)}')
    asm = _BUILDERS[name]()
    mesh = asm.mesh()
    standing = mesh.vertices - (0.0, mesh.vertices[:, 1].min(), 0.0)
    vertices = standing.astype(np.float32).astype(np.float64)
    return vertices, mesh.faces, list(asm.keypoints), list(asm.keypoints.values())
