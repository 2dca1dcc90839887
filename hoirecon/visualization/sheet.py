"""Contact sheets: several images (e.g. K hypotheses with their log-likelihoods) in a captioned grid."""
import math
import numbers

import cv2
import numpy as np

from .meshes import check_image, check_rgb

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_MIN_SCALE = 0.3


def _fit_caption(text: str, max_width: int, scale: float, thickness: int) -> tuple:
    """(text, scale) that fit ``max_width`` pixels: shrink the font down to a minimum, then cut with '..'."""
    while scale > _MIN_SCALE and cv2.getTextSize(text, _FONT, scale, thickness)[0][0] > max_width:
        scale = max(_MIN_SCALE, scale * 0.9)
    if cv2.getTextSize(text, _FONT, scale, thickness)[0][0] > max_width:
        while len(text) > 1 and cv2.getTextSize(text + '..', _FONT, scale, thickness)[0][0] > max_width:
            text = text[:-1]
        text += '..'
    return text, scale


def draw_caption(tile: np.ndarray, text: str) -> None:
    """Write ``text`` in the top-left corner of ``tile`` (H, W, 3) uint8, in place.

    White text with a black outline on a darkened band, readable on any background. The font scales with the tile
    height, shrinks (then the text is cut with '..') to fit the tile width. Hershey fonts are ASCII only: other
    characters are drawn as '?'.
    """
    text = ''.join(ch if 32 <= ord(ch) < 127 else '?' for ch in text.replace('\n', ' '))
    if not text:
        return
    height, width = tile.shape[:2]
    scale = float(np.clip(height / 400.0, 0.35, 1.2))
    thickness = 1 if scale < 0.8 else 2
    margin = max(2, int(round(4 * scale)))
    text, scale = _fit_caption(text, width - 2 * margin - thickness - 2, scale, thickness)
    (text_w, text_h), baseline = cv2.getTextSize(text, _FONT, scale, thickness)
    outline = thickness + 2
    band_h = min(height, text_h + baseline + 2 * margin + outline // 2)
    band_w = min(width, text_w + 2 * margin + outline)
    band = tile[:band_h, :band_w]
    band[...] = (band.astype(np.float32) * 0.45).astype(np.uint8)  # darken under the text
    origin = (margin, margin + text_h)
    cv2.putText(tile, text, origin, _FONT, scale, (0, 0, 0), outline, cv2.LINE_AA)
    cv2.putText(tile, text, origin, _FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)


def contact_sheet(images: list, titles: list, columns: int = None, pad: int = 4,
                  background=(255, 255, 255)) -> np.ndarray:
    """Arrange images in a grid, each with its caption written on it.

    Every cell is ``max H`` x ``max W`` of the images; an image smaller than the cell sits in its top-left corner
    on ``background``. Cells are filled row by row; ``pad`` pixels of ``background`` separate the cells and frame
    the sheet, so the sheet is ``(rows * Hc + (rows + 1) * pad, columns * Wc + (columns + 1) * pad, 3)`` with
    ``rows = ceil(n / columns)``. Each caption is drawn inside its image's top-left corner (:func:`draw_caption`).

    Args:
        images: n >= 1 RGB images, (H_i, W_i, 3) uint8 each (sizes may differ). They are not modified.
        titles: n captions (str; '' for none), e.g. ``f'#{k} log p = {ll:.1f}'``.
        columns: Cells per row; None: ``ceil(sqrt(n))``. At most n.
        pad: Pixels between cells and around the sheet (>= 0).
        background: RGB of the padding and empty cells, 3 integers in [0, 255].

    Returns:
        (H_sheet, W_sheet, 3) uint8 RGB.
    """
    if not isinstance(images, (list, tuple)) or len(images) == 0:
        raise ValueError(f'images must be a non-empty list of (H, W, 3) uint8 arrays, got '
                         f'{type(images).__name__ if not isinstance(images, (list, tuple)) else "an empty list"}')
    images = [check_image(image, f'images[{i}]') for i, image in enumerate(images)]
    if not isinstance(titles, (list, tuple)) or len(titles) != len(images):
        raise ValueError(f'titles must be a list of {len(images)} str (one per image), got '
                         f'{len(titles) if isinstance(titles, (list, tuple)) else type(titles).__name__}')
    for i, title in enumerate(titles):
        if not isinstance(title, str):
            raise ValueError(f'titles[{i}] must be a str, got {type(title).__name__}')
    count = len(images)
    if columns is None:
        columns = math.ceil(math.sqrt(count))
    if isinstance(columns, bool) or not isinstance(columns, numbers.Integral) or columns < 1:
        raise ValueError(f'columns must be a positive int or None, got {columns!r}')
    columns = min(int(columns), count)
    if isinstance(pad, bool) or not isinstance(pad, numbers.Integral) or pad < 0:
        raise ValueError(f'pad must be an int >= 0, got {pad!r}')
    background = check_rgb(background, 'background')

    rows = math.ceil(count / columns)
    cell_h = max(image.shape[0] for image in images)
    cell_w = max(image.shape[1] for image in images)
    sheet = np.empty((rows * cell_h + (rows + 1) * pad, columns * cell_w + (columns + 1) * pad, 3), np.uint8)
    sheet[...] = background
    for k, (image, title) in enumerate(zip(images, titles)):
        row, col = divmod(k, columns)
        top, left = pad + row * (cell_h + pad), pad + col * (cell_w + pad)
        tile = image.copy()
        draw_caption(tile, title)
        sheet[top:top + tile.shape[0], left:left + tile.shape[1]] = tile
    return sheet
