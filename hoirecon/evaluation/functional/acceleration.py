"""Acceleration of mesh sequences: how much a reconstruction jitters from frame to frame (video metrics).

The acceleration of frame t is the second difference ``x[t+1] - 2 x[t] + x[t-1]`` of every vertex (camera frame,
no alignment, so that jitter of the placement counts too), in millimetres per frame squared. It exists for a frame
whose two neighbours are the next and previous frames of the video (``frame_index`` differs by exactly 1) and all
three are valid; otherwise it is NaN.
"""
from typing import Optional

import numpy as np


def second_differences(vertices: np.ndarray, frame_index: Optional[np.ndarray] = None,
                       valid: Optional[np.ndarray] = None) -> np.ndarray:
    """Per-vertex accelerations of a sequence.

    Args:
        vertices: (T, V, 3) float vertices of T frames in time order, metres.
        frame_index: (T,) integer frame numbers (default ``0 .. T-1``: consecutive).
        valid: (T,) bool, frames that may be used (default all).

    Returns:
        (T, V, 3) float64 second differences in millimetres per frame squared; NaN for the first and last frame,
        a frame whose neighbours are not at ``frame_index +- 1`` and a frame next to an invalid one.
    """
    vertices = np.asarray(vertices, np.float64)
    if vertices.ndim != 3 or vertices.shape[-1] != 3:
        raise ValueError(f'second_differences: vertices must be (T, V, 3), got {vertices.shape}.')
    num = len(vertices)
    index = np.arange(num) if frame_index is None else np.asarray(frame_index, np.int64)
    ok = np.ones(num, bool) if valid is None else np.asarray(valid, bool)
    if index.shape != (num, ) or ok.shape != (num, ):
        raise ValueError(f'second_differences: frame_index and valid must be ({num},), got {index.shape} and '
                         f'{ok.shape}.')
    out = np.full(vertices.shape, np.nan)
    if num < 3:
        return out
    middle = ((index[1:-1] - index[:-2] == 1) & (index[2:] - index[1:-1] == 1) & ok[:-2] & ok[1:-1] & ok[2:])
    accel = (vertices[2:] - 2.0 * vertices[1:-1] + vertices[:-2]) * 1000.0
    out[1:-1][middle] = accel[middle]
    return out


def acceleration_error(pred: np.ndarray, gt: np.ndarray, frame_index: Optional[np.ndarray] = None,
                       valid: Optional[np.ndarray] = None) -> np.ndarray:
    """(T,) mean over vertices of ``|accel(pred) - accel(gt)|`` (mm / frame^2; NaN where undefined).

    Args:
        pred, gt: (T, V, 3) predicted and true vertices (the same vertices in the same order), metres.
        frame_index, valid: as :func:`second_differences`.
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f'acceleration_error: pred {pred.shape} and gt {gt.shape} differ.')
    diff = second_differences(pred, frame_index, valid) - second_differences(gt, frame_index, valid)
    return np.linalg.norm(diff, axis=-1).mean(axis=-1)


def acceleration_magnitude(vertices: np.ndarray, frame_index: Optional[np.ndarray] = None,
                           valid: Optional[np.ndarray] = None) -> np.ndarray:
    """(T,) mean over vertices of ``|accel|`` (mm / frame^2; NaN where undefined): jitter without a reference."""
    return np.linalg.norm(second_differences(vertices, frame_index, valid), axis=-1).mean(axis=-1)
