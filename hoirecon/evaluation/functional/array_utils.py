"""Conversions between numpy arrays and torch tensors for the evaluation functions.

The public evaluation functions accept numpy arrays or torch tensors and return
the same kind they were given: numpy in, numpy out; a tensor in, a tensor on the
same device out.
"""
from typing import Optional, Union

import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor]


def to_tensor(array: ArrayLike,
              dtype: Optional[torch.dtype] = None,
              device: Optional[Union[str, torch.device]] = None) -> torch.Tensor:
    """Return ``array`` as a tensor (no copy when it already is one of that dtype and device).

    Args:
        array: numpy array, tensor or nested sequence.
        dtype: wanted dtype; None keeps the input's.
        device: wanted device; None keeps a tensor's device (CPU for numpy).
    """
    if isinstance(array, torch.Tensor):
        return array.to(dtype=dtype or array.dtype, device=device or array.device)
    return torch.as_tensor(np.asarray(array), dtype=dtype, device=device)


def to_numpy(array: ArrayLike, dtype: Optional[np.dtype] = None) -> np.ndarray:
    """Return ``array`` as a numpy array on the CPU, detached from any graph."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    return np.asarray(array, dtype=dtype)


def restore_kind(result: torch.Tensor, template: ArrayLike) -> ArrayLike:
    """Return ``result`` as numpy when ``template`` was numpy, else unchanged."""
    if isinstance(template, torch.Tensor):
        return result
    return result.detach().cpu().numpy()
