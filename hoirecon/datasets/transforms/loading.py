"""Loading the colour image (and the person / full-object masks) of one HOI sample."""
import numpy as np
from mmcv.transforms import BaseTransform

from hoirecon.registry import TRANSFORMS
from ..annotations import upsample_half_mask
from ..behave_io import BehaveFormatError, load_image, load_mask


@TRANSFORMS.register_module()
class LoadHOIImage(BaseTransform):
    """Read ``results['img_path']`` as an RGB image, optionally with the masks that background swapping keeps.

    Required keys: ``img_path``; with ``with_masks`` also ``person_mask_path``, ``object_full_mask_path`` and
    ``object_full_mask_scale`` (2 for StackFLOW's half-resolution ``mask_full``). Optional: ``image_size``
    (width, height) to check the image against.

    Added keys: ``img`` (H, W, 3) uint8 RGB, ``img_shape`` and ``ori_shape`` (H, W); with ``with_masks``
    ``person_mask`` and ``object_full_mask``, (H, W) bool.

    Args:
        with_masks: Also load the person mask and the full (non-occluded) object mask.
    """

    def __init__(self, with_masks: bool = False):
        self.with_masks = with_masks

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        img = load_image(path)
        height, width = img.shape[:2]
        if 'image_size' in results and tuple(int(v) for v in results['image_size']) != (width, height):
            expected = tuple(int(v) for v in results['image_size'])
            raise BehaveFormatError(f'{path}: image is {width}x{height} pixels but its calibration.json says '
                                    f'{expected[0]}x{expected[1]}; the image or the calibration is wrong.')
        results.update(img=img, img_shape=(height, width), ori_shape=(height, width))
        if self.with_masks:
            results['person_mask'] = load_mask(results['person_mask_path'], (width, height))
            scale = int(results.get('object_full_mask_scale', 1))
            full_path = results['object_full_mask_path']
            if scale == 2:
                full = upsample_half_mask(load_mask(full_path, (width // 2, height // 2)), (width, height))
            else:
                full = load_mask(full_path, (width, height))
            results['object_full_mask'] = np.asarray(full, dtype=bool)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(with_masks={self.with_masks})'
