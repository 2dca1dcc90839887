"""Windowed similarity alignment for sequences (one transform fitted on w frames).

Two conventions are in use for videos (BEHAVE-extended, InterCap):

- ``'sliding'`` (StackFLOW): frame ``i`` gets the transform fitted on frames
  ``[i, i + w)`` (fewer at the end of the sequence); it is applied to frame ``i`` only.
- ``'chunk'``: non-overlapping chunks ``[k w, (k + 1) w)`` share one transform fitted on the whole chunk (the
  last chunk may be shorter). This is *not* VisTracker's rule: VisTracker refits at frames 0, w - 1, 2w - 1, ...
  (its counter is incremented before the test) and keeps frames without a reconstruction in its timeline, so its
  numbers are not reproduced by this mode.

``w = 1`` is per-frame alignment in both conventions.
"""
from typing import Optional, Tuple

import torch

from .array_utils import ArrayLike, restore_kind, to_tensor
from .procrustes import PointMoments, SimilarityTransform, merge_moments, point_moments, transform_from_moments

WINDOW_MODES = ('sliding', 'chunk')


def window_index(num_frames: int,
                 window: int,
                 mode: str = 'sliding',
                 device: Optional[torch.device] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Return the frames each frame's transform is fitted on.

    Args:
        num_frames: T, frames of the (ordered) sequence.
        window: w >= 1.
        mode: ``'sliding'`` or ``'chunk'`` (see module doc).

    Returns:
        ``(index, valid)``: (T, w) long frame indices and (T, w) bool, False
        where a window runs past the end of the sequence.
    """
    if mode not in WINDOW_MODES:
        raise ValueError(f'window mode must be one of {WINDOW_MODES}, got {mode!r}')
    if window < 1:
        raise ValueError(f'window must be >= 1, got {window}')
    frames = torch.arange(num_frames, device=device)
    start = frames if mode == 'sliding' else frames // window * window
    index = start[:, None] + torch.arange(window, device=device)[None]
    valid = index < num_frames
    return index.clamp_max(max(num_frames - 1, 0)), valid


def windowed_transforms(moments: PointMoments, window: int, mode: str = 'sliding') -> SimilarityTransform:
    """Fit one transform per frame from per-frame moments merged over its window.

    Args:
        moments: per-frame :class:`PointMoments` with batch shape (T,), in sequence order.
        window: w, frames per window.
        mode: ``'sliding'`` or ``'chunk'``.

    Returns:
        (T,) transforms; frame ``i``'s is the fit on all correspondences of its window.
    """
    index, valid = window_index(moments.count.shape[0], window, mode, moments.count.device)
    return transform_from_moments(merge_moments(moments.index(index), valid))


def windowed_similarity_procrustes(src: ArrayLike,
                                   dst: ArrayLike,
                                   window: int,
                                   mode: str = 'sliding',
                                   mask: Optional[ArrayLike] = None) -> Tuple[ArrayLike, SimilarityTransform]:
    """Align each frame of a sequence with the transform of its window.

    Args:
        src: (T, P, 3) predicted points of T frames in order (correspondence by index).
        dst: (T, P, 3) target points.
        window: w, frames per window.
        mode: ``'sliding'`` (StackFLOW) or ``'chunk'`` (non-overlapping chunks; see the module doc).
        mask: optional (T, P) bool of correspondences to use.

    Returns:
        ``(aligned_src, transforms)``: (T, P, 3) aligned points (input kind and
        dtype) and (T,) float64 transforms.
    """
    src_t = to_tensor(src)
    transforms = windowed_transforms(point_moments(src_t, dst, mask), window, mode)
    return restore_kind(transforms.apply(src_t), src), transforms
