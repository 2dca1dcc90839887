"""Object visibility ratios used to select the "vis > 0.3" frames.

Masks are 8-bit images (or booleans). Two definitions are in use:

- BEHAVE: ``#visible / #full`` with the occlusion-aware rendered object mask
  (``k*.obj_rend_mask.jpg``) and the object rendered alone (``mask_full``, stored
  at half resolution: pass ``full_scale=2``); a pixel is set when its value is > 127,
  and an empty full mask (object outside the image) gives 0.
- InterCap and BEHAVE-extended (StackFLOW's sequence metadata): ``1 - |full AND person| / |full|`` with masks
  binarised by ``> 0`` (any non-zero JPEG value, so JPEG halos count); an empty full mask gives NaN (0 / 0), and
  since ``NaN < 0.3`` is false such a frame is *kept* by the "vis > 0.3" filter; a frame whose mask file is missing
  is counted as visible by the sequence readers (ratio 1), which is what keeps it in StackFLOW's selection.
"""
import numpy as np

#: Frames whose ratio is below this are left out of the "vis > 0.3" rows.
DEFAULT_VISIBILITY_THRESHOLD = 0.3


def binarize_mask(mask: np.ndarray, name: str = 'mask', threshold: int = 127) -> np.ndarray:
    """Return ``mask > threshold`` (bool masks pass unchanged); (H, W) or (H, W, C) -> (H, W)."""
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask.max(axis=-1)
    if mask.ndim != 2:
        raise ValueError(f'{name} must be an (H, W) or (H, W, C) image, got shape {mask.shape}')
    return mask if mask.dtype == bool else mask > threshold


def _upsample(mask: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upsampling of a bool (H, W) mask by an integer factor."""
    if scale == 1:
        return mask
    return np.repeat(np.repeat(mask, scale, axis=0), scale, axis=1)


def _check_same_shape(mask_a: np.ndarray, name_a: str, mask_b: np.ndarray, name_b: str) -> None:
    if mask_a.shape != mask_b.shape:
        raise ValueError(f'{name_a} {mask_a.shape} and {name_b} {mask_b.shape} must have the same size '
                         '(use full_scale for a half-resolution mask_full)')


def object_visibility_ratio(visible_mask: np.ndarray, full_mask: np.ndarray, full_scale: int = 1) -> float:
    """BEHAVE visibility ratio: visible object pixels / pixels of the object rendered alone.

    Args:
        visible_mask: (H, W) occlusion-aware object mask (uint8 0..255 or bool).
        full_mask: (H / s, W / s) mask of the unoccluded object.
        full_scale: s, integer factor that brings ``full_mask`` to (H, W)
            (2 for BEHAVE's half-resolution ``mask_full``; nearest-neighbour).

    Returns:
        Ratio in [0, 1] when the visible mask lies inside the full one; 0 when the full mask is empty.
    """
    visible = binarize_mask(visible_mask, 'visible_mask')
    full = _upsample(binarize_mask(full_mask, 'full_mask'), full_scale)
    _check_same_shape(visible, 'visible_mask', full, 'full_mask (upsampled)')
    full_pixels = int(full.sum())
    return float(visible.sum()) / full_pixels if full_pixels else 0.0


def object_visibility_ratio_from_person(full_mask: np.ndarray, person_mask: np.ndarray, full_scale: int = 1,
                                        threshold: int = 0) -> float:
    """InterCap / BEHAVE-extended visibility ratio: ``1 - |full AND person| / |full|`` (StackFLOW's rule).

    Args:
        full_mask: (H / s, W / s) mask of the unoccluded object.
        person_mask: (H, W) person mask.
        full_scale: s, integer factor that brings ``full_mask`` to (H, W).
        threshold: a pixel is set when its value is > threshold (StackFLOW: 0, any non-zero value).

    Returns:
        Ratio in [0, 1]; NaN when the full mask is empty (StackFLOW's 0 / 0, a frame the "vis > 0.3" filter keeps).
    """
    full = _upsample(binarize_mask(full_mask, 'full_mask', threshold), full_scale)
    person = binarize_mask(person_mask, 'person_mask', threshold)
    _check_same_shape(full, 'full_mask (upsampled)', person, 'person_mask')
    full_pixels = int(full.sum())
    return 1.0 - float((full & person).sum()) / full_pixels if full_pixels else float('nan')
