"""The mesh record of the visualisation package, its default colours and the input checks shared by its functions.

Conventions: vertices are in the OpenCV camera frame of the image (x right, y down, z forward, metres); colours are
RGBA, either floats in [0, 1] or integers in [0, 255] (any integer dtype, Python ints included).
"""
import colorsys
import numbers
from dataclasses import dataclass

import numpy as np

#: Default person colour (soft blue), RGBA floats in [0, 1].
PERSON_COLOR = (0.62, 0.74, 0.90, 1.0)
#: Object colours, well apart in hue from each other and from :data:`PERSON_COLOR`.
OBJECT_COLORS = (
    (1.00, 0.60, 0.20, 1.0),  # orange
    (0.40, 0.80, 0.35, 1.0),  # green
    (0.90, 0.35, 0.75, 1.0),  # magenta
    (0.95, 0.85, 0.25, 1.0),  # yellow
    (0.30, 0.80, 0.80, 1.0),  # teal
    (0.85, 0.30, 0.30, 1.0),  # red
    (0.60, 0.45, 0.85, 1.0),  # purple
    (0.65, 0.50, 0.30, 1.0),  # brown
)


@dataclass(eq=False)
class Mesh:
    """A triangle mesh to draw or export.

    The arrays are checked and normalised on construction: ``vertices`` becomes a C-contiguous float64 array and
    ``faces`` a C-contiguous int64 array; both keep their order (the exporters write them as given).

    Attributes:
        vertices: (V, 3) float, metres, in the OpenCV camera frame of the image (x right, y down, z forward);
            finite values.
        faces: (F, 3) int, F >= 1, indices into ``vertices`` (0 <= index < V), counter-clockwise seen from
            outside (both sides are drawn anyway).
        color: RGBA (or RGB, alpha 1): a sequence of 4 floats in [0, 1], or of 4 integers in [0, 255] (uint8 or
            Python ints: integers always mean the 0-255 scale, so ``(1, 0, 0, 1)`` is almost black). The alpha is
            the mesh's opacity in overlays and side views.
        name: Non-empty label; the exporters use it as file and node name.

    Meshes compare by identity (``eq=False``): comparing their arrays element-wise is the caller's choice.
    """
    vertices: np.ndarray
    faces: np.ndarray
    color: tuple = PERSON_COLOR
    name: str = 'mesh'

    def __post_init__(self):
        self.vertices = check_vertices(self.vertices, 'vertices')
        self.faces = check_faces(self.faces, len(self.vertices), 'faces')
        check_color(self.color, 'color')
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f'name must be a non-empty str, got {self.name!r}')

    @property
    def rgba(self) -> np.ndarray:
        """(4,) float64 RGBA in [0, 1]."""
        return check_color(self.color, 'color')

    @property
    def rgba_uint8(self) -> np.ndarray:
        """(4,) uint8 RGBA in [0, 255]."""
        return np.rint(self.rgba * 255.0).astype(np.uint8)


def default_colors(num_objects: int) -> list:
    """Colours for one person and ``num_objects`` objects.

    Args:
        num_objects: Number of object colours wanted (>= 0).

    Returns:
        ``num_objects + 1`` RGBA tuples of floats in [0, 1]: the person's colour first, then one colour per
        object, all distinct (a fixed palette of 8, then evenly spread hues).

    Example:
        >>> person, obj = default_colors(1)
    """
    if isinstance(num_objects, bool) or not isinstance(num_objects, numbers.Integral) or num_objects < 0:
        raise ValueError(f'num_objects must be an int >= 0, got {num_objects!r}')
    colors = [PERSON_COLOR] + list(OBJECT_COLORS[:num_objects])
    extra = num_objects - len(OBJECT_COLORS)
    for k in range(max(extra, 0)):
        # golden-ratio hue steps, two lightness levels so that neighbours differ
        hue = (0.05 + 0.618033988749895 * k) % 1.0
        rgb = colorsys.hls_to_rgb(hue, 0.55 if k % 2 == 0 else 0.40, 0.75)
        colors.append(tuple(round(c, 4) for c in rgb) + (1.0,))
    return colors


# ----------------------------------------------------------------------------------------------------------------
# checks (each error names the argument)
# ----------------------------------------------------------------------------------------------------------------
def _describe(array) -> str:
    array = np.asarray(array)
    return f'{array.dtype} array of shape {array.shape}'


def check_vertices(vertices, name: str = 'vertices') -> np.ndarray:
    """(V, 3) finite real array -> C-contiguous float64 (V, 3)."""
    try:
        array = np.asarray(vertices)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f'{name} must be a (V, 3) float array, got {type(vertices).__name__}: {exc}') from None
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.floating)
                                   or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f'{name} must be a (V, 3) float array, got {_describe(array)}')
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f'{name} must have shape (V, 3), got {_describe(array)}')
    array = np.ascontiguousarray(array, dtype=np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f'{name} must be finite, got {int((~np.isfinite(array)).any(axis=1).sum())} '
                         f'non-finite vertices')
    return array


def check_faces(faces, num_vertices: int, name: str = 'faces') -> np.ndarray:
    """(F, 3) integer array (F >= 1) of indices < ``num_vertices`` -> C-contiguous int64 (F, 3)."""
    array = np.asarray(faces)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f'{name} must be a (F, 3) integer array, got {_describe(array)}')
    if array.ndim != 2 or array.shape[1] != 3 or array.shape[0] == 0:
        raise ValueError(f'{name} must have shape (F, 3) with F >= 1, got {_describe(array)}')
    if (array.min() < 0 or array.max() >= num_vertices):
        raise ValueError(f'{name} must index the {num_vertices} vertices (0 <= index < {num_vertices}), '
                         f'got indices in [{array.min()}, {array.max()}]')
    return np.ascontiguousarray(array, dtype=np.int64)


def check_color(color, name: str = 'color') -> np.ndarray:
    """RGBA/RGB as floats in [0, 1] or integers in [0, 255] -> (4,) float64 in [0, 1]."""
    try:
        array = np.asarray(color)
    except Exception:
        array = np.asarray(None)
    if array.ndim != 1 or array.shape[0] not in (3, 4) or array.dtype == bool or not (
            np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f'{name} must be 4 (RGBA) or 3 (RGB) numbers, floats in [0, 1] or integers in '
                         f'[0, 255], got {color!r}')
    if np.issubdtype(array.dtype, np.integer):
        if array.min() < 0 or array.max() > 255:
            raise ValueError(f'{name} as integers must lie in [0, 255], got {color!r}')
        rgba = array.astype(np.float64) / 255.0
    else:
        if not np.isfinite(array).all() or array.min() < 0.0 or array.max() > 1.0:
            raise ValueError(f'{name} as floats must lie in [0, 1] (use integers for the 0-255 scale), '
                             f'got {color!r}')
        rgba = array.astype(np.float64)
    return np.append(rgba, 1.0) if rgba.shape[0] == 3 else rgba


def check_meshes(meshes, name: str = 'meshes') -> list:
    """A list/tuple of :class:`Mesh` (possibly empty) -> list."""
    if isinstance(meshes, Mesh):
        raise ValueError(f'{name} must be a list of Mesh, got a single Mesh (wrap it in a list)')
    if not isinstance(meshes, (list, tuple)):
        raise ValueError(f'{name} must be a list of Mesh, got {type(meshes).__name__}')
    for i, mesh in enumerate(meshes):
        if not isinstance(mesh, Mesh):
            raise ValueError(f'{name}[{i}] must be a Mesh, got {type(mesh).__name__}')
    return list(meshes)


def check_image(image, name: str = 'image') -> np.ndarray:
    """(H, W, 3) uint8 RGB with H, W >= 1."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f'{name} must be a numpy (H, W, 3) uint8 RGB array, got {type(image).__name__}')
    if image.dtype != np.uint8:
        raise ValueError(f'{name} must be uint8 (H, W, 3) RGB, got {_describe(image)}')
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f'{name} must have shape (H, W, 3), got {_describe(image)}')
    return image


def check_intrinsics(K, name: str = 'K') -> np.ndarray:
    """(3, 3) pinhole matrix ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` in pixels -> float64 (3, 3)."""
    try:
        array = np.asarray(K, dtype=np.float64)
    except Exception:
        raise ValueError(f'{name} must be a (3, 3) float camera matrix, got {type(K).__name__}') from None
    if array.shape != (3, 3):
        raise ValueError(f'{name} must have shape (3, 3), got shape {array.shape}')
    if not np.isfinite(array).all():
        raise ValueError(f'{name} must be finite, got {array.tolist()}')
    if not (array[0, 0] > 0 and array[1, 1] > 0):
        raise ValueError(f'{name} must have positive focal lengths K[0, 0] and K[1, 1], got '
                         f'{array[0, 0]} and {array[1, 1]}')
    if abs(array[0, 1]) > 1e-9 * array[0, 0] or array[1, 0] != 0 or not np.allclose(array[2], [0, 0, 1]):
        raise ValueError(f'{name} must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (no skew), got {array.tolist()}')
    return array


def check_image_size(image_size, name: str = 'image_size') -> tuple:
    """(W, H) positive integers -> (int, int)."""
    try:
        width, height = image_size
        ok = all(not isinstance(v, bool) and isinstance(v, numbers.Integral) and v > 0 for v in (width, height))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f'{name} must be (width, height) as two positive ints, got {image_size!r}')
    return int(width), int(height)


def check_rgb(color, name: str) -> np.ndarray:
    """Three integers in [0, 255] -> (3,) uint8."""
    array = np.asarray(color)
    if array.shape != (3,) or array.dtype == bool or not np.issubdtype(array.dtype, np.integer) or \
            array.min() < 0 or array.max() > 255:
        raise ValueError(f'{name} must be 3 integers in [0, 255] (RGB), got {color!r}')
    return array.astype(np.uint8)


def check_unit_interval(value, name: str) -> float:
    """A real number in [0, 1] -> float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f'{name} must be a number in [0, 1], got {value!r}')
    return float(value)
