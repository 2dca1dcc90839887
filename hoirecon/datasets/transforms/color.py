"""Per-channel colour gain (StackFLOW's colour augmentation)."""
import numpy as np
from mmcv.transforms import BaseTransform

from hoirecon.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ColorGain(BaseTransform):
    """Multiply each RGB channel by its own gain drawn uniformly from ``[low, high]`` (``np.random``).

    Required keys: ``img`` (H, W, 3) uint8. Modified: ``img`` (clipped to [0, 255], uint8). Added:
    ``color_gain`` (3,) float32.

    Args:
        low, high: Range of the gains (StackFLOW: 0.8, 1.2).
    """

    def __init__(self, low: float = 0.8, high: float = 1.2):
        if not 0 <= low <= high:
            raise ValueError(f'ColorGain needs 0 <= low <= high, got low={low}, high={high}.')
        self.low, self.high = low, high

    def transform(self, results: dict) -> dict:
        gains = np.random.uniform(self.low, self.high, 3).astype(np.float32)
        img = results['img'].astype(np.float32) * gains
        results['img'] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        results['color_gain'] = gains
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(low={self.low}, high={self.high})'
