"""Random appearance of a synthetic capture: backgrounds, floor, clothing, object colours, lights.

Everything here is a pure function of a :class:`numpy.random.Generator`, so a
sequence looks the same whenever it is regenerated with the same seed.
"""
from dataclasses import dataclass

import cv2
import numpy as np

#: Skin tones (RGB), light to dark.
SKIN_TONES = np.array([[241, 194, 167], [224, 172, 138], [198, 134, 96], [161, 102, 66], [110, 70, 45], [80, 52, 36]])

#: SMPL-H body joints (indices 0..21) grouped into clothing regions; hand joints (22..51) are skin.
CLOTHING_REGIONS = {
    'shirt': (0, 3, 6, 9, 13, 14, 16, 17),
    'sleeve_or_skin': (18, 19),
    'pants': (1, 2, 4, 5),
    'shoes': (7, 8, 10, 11),
    'skin': (12, 15, 20, 21),
}


@dataclass(frozen=True)
class Lighting:
    """Lights of one sequence, in the scene frame (y up).

    Attributes:
        direction: (3,) unit vector the key light travels along (pointing down).
        color: (3,) RGB in [0, 1].
        intensity: Key light intensity (pyrender directional-light units).
        fill_intensity: Intensity of a weaker light from the opposite side.
        ambient: (3,) ambient RGB in [0, 1].
    """
    direction: np.ndarray
    color: np.ndarray
    intensity: float
    fill_intensity: float
    ambient: np.ndarray


def random_color(rng: np.random.Generator, saturation: tuple = (0.2, 0.9), value: tuple = (0.2, 0.95)) -> np.ndarray:
    """A random RGB uint8 colour (3,) drawn in HSV space."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*saturation) * 255, rng.uniform(*value) * 255]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]


def random_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A wall-like background: a vertical colour gradient with low-frequency texture.

    Returns:
        (height, width, 3) uint8 RGB.
    """
    top = random_color(rng, saturation=(0.05, 0.5), value=(0.3, 0.95)).astype(np.float32)
    bottom = random_color(rng, saturation=(0.05, 0.5), value=(0.2, 0.8)).astype(np.float32)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    image = np.broadcast_to(top * (1 - ramp) + bottom * ramp, (height, width, 3)).copy()
    cells = int(rng.integers(3, 12))
    texture = rng.normal(0.0, rng.uniform(3, 15), size=(cells, cells * 2, 3)).astype(np.float32)
    image += cv2.resize(texture, (width, height), interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.5:  # vertical panels, like doors or curtains
        period = rng.uniform(0.1, 0.4) * width
        image *= (1.0 + 0.12 * np.sign(np.sin(2 * np.pi * np.arange(width) / period)))[None, :, None]
    image += rng.normal(0.0, 3.0, size=image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def floor_mesh(rng: np.random.Generator, half_size: float = 6.0, tile: float = None) -> tuple:
    """A tiled floor at y = 0 of the scene frame, centred at the origin.

    Args:
        rng: Random generator (tile size and colours).
        half_size: Half the side of the square floor in metres.
        tile: Tile side in metres (random in [0.3, 1.0] when None).

    Returns:
        ``(vertices (N, 3) float64 metres, faces (M, 3) int64, colors (N, 4) uint8)``;
        every tile has its own 4 vertices so its colour stays flat.
    """
    tile = rng.uniform(0.3, 1.0) if tile is None else tile
    edges = np.arange(-half_size, half_size + 1e-9, tile)
    x0, z0 = [grid.ravel() for grid in np.meshgrid(edges[:-1], edges[:-1], indexing='ij')]
    corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float64) * tile
    xz = np.stack([x0, z0], axis=1)[:, None, :] + corners[None]
    vertices = np.stack([xz[..., 0], np.zeros_like(xz[..., 0]), xz[..., 1]], axis=-1).reshape(-1, 3)
    base = np.arange(len(x0))[:, None] * 4
    faces = np.concatenate([base + [0, 2, 1], base + [0, 3, 2]], axis=0)  # normals +y (up)
    color_a, color_b = random_color(rng, value=(0.3, 0.9)), random_color(rng, value=(0.3, 0.9))
    checker = ((np.round(x0 / tile) + np.round(z0 / tile)) % 2).astype(bool)
    checker &= rng.random() < 0.7  # some floors are plain
    tile_colors = np.where(checker[:, None], color_a, color_b).astype(np.float32)
    tile_colors += rng.normal(0, 6, size=tile_colors.shape)
    colors = np.repeat(np.clip(tile_colors, 0, 255).astype(np.uint8), 4, axis=0)
    return vertices, faces.astype(np.int64), np.concatenate([colors, np.full((len(colors), 1), 255, np.uint8)], 1)


def clothing_colors(rng: np.random.Generator, part_labels: np.ndarray) -> np.ndarray:
    """Per-vertex colours of a clothed person: skin, shirt, trousers, shoes.

    Args:
        rng: Random generator.
        part_labels: (V,) int body-joint index (0..51, SMPL-H order) that owns
            each vertex.

    Returns:
        (V, 4) uint8 RGBA.
    """
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))]
    shirt, pants = random_color(rng), random_color(rng, value=(0.1, 0.7))
    shoes = random_color(rng, saturation=(0.0, 0.4), value=(0.05, 0.8))
    sleeve = shirt if rng.random() < 0.5 else skin
    table = np.tile(skin, (max(int(part_labels.max()) + 1, 52), 1))
    for region, color in (('shirt', shirt), ('sleeve_or_skin', sleeve), ('pants', pants), ('shoes', shoes)):
        table[list(CLOTHING_REGIONS[region])] = color
    colors = table[part_labels].astype(np.float32) + rng.normal(0, 4, size=(len(part_labels), 3))
    return np.concatenate([np.clip(colors, 0, 255).astype(np.uint8), np.full((len(colors), 1), 255, np.uint8)], 1)


def object_colors(rng: np.random.Generator, num_vertices: int) -> np.ndarray:
    """Per-vertex colours (V, 4) uint8 of an object: one random base colour with a little noise."""
    base = random_color(rng, saturation=(0.1, 0.8), value=(0.15, 0.9)).astype(np.float32)
    colors = base + rng.normal(0, 5, size=(num_vertices, 3))
    return np.concatenate([np.clip(colors, 0, 255).astype(np.uint8), np.full((num_vertices, 1), 255, np.uint8)], 1)


def sample_lighting(rng: np.random.Generator) -> Lighting:
    """Random key light (direction from the upper hemisphere, tinted colour), fill light and ambient."""
    elevation, azimuth = rng.uniform(0.5, 1.4), rng.uniform(0, 2 * np.pi)
    direction = -np.array([np.cos(elevation) * np.sin(azimuth), np.sin(elevation), np.cos(elevation) * np.cos(azimuth)])
    tint = np.clip(1.0 + rng.normal(0, 0.08, size=3), 0.75, 1.0)
    return Lighting(direction=direction, color=tint, intensity=float(rng.uniform(2.0, 5.0)),
                    fill_intensity=float(rng.uniform(0.5, 1.5)), ambient=np.full(3, rng.uniform(0.15, 0.4)))
