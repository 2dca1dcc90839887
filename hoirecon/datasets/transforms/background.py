"""Background replacement outside the person and object (StackFLOW swaps in VOC2012 images)."""
import os
import os.path as osp

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from hoirecon.registry import TRANSFORMS
from ..behave_io import load_image

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')


@TRANSFORMS.register_module()
class BackgroundSwap(BaseTransform):
    """With probability ``prob``, replace the pixels outside (person mask | full object mask) by a random image.

    The background image (any size) is resized to the image; pixels of the person and of the whole object keep
    their values. Randomness comes from ``np.random``. Works before or after :class:`HOICrop` (which warps the
    masks with the image).

    Required keys: ``img`` (H, W, 3) uint8, ``person_mask`` and ``object_full_mask`` (H, W) bool (from
    ``LoadHOIImage(with_masks=True)``). Modified: ``img``. Added: ``background_path`` ('' when not swapped).

    Args:
        bg_dir: Folder of background images (.jpg/.jpeg/.png/.bmp), e.g. VOC2012 ``JPEGImages``.
        prob: Probability of a swap.
    """

    def __init__(self, bg_dir: str, prob: float = 0.5):
        if not osp.isdir(bg_dir):
            raise FileNotFoundError(f'BackgroundSwap: background folder {bg_dir} not found. StackFLOW swaps in PASCAL '
                                    'VOC 2012 images (VOCtrainval_11-May-2012.tar, folder '
                                    'VOCdevkit/VOC2012/JPEGImages): unpack it there, point the config\'s '
                                    'background_dir (or BackgroundSwap.bg_dir) '
                                    'to any folder of images, or set background_dir = None to train without the swap '
                                    '(docs/datasets.md, "Caveats").')
        self.paths = sorted(osp.join(bg_dir, name) for name in os.listdir(bg_dir)
                            if name.lower().endswith(IMAGE_EXTENSIONS))
        if not self.paths:
            raise FileNotFoundError(f'BackgroundSwap: no images ({", ".join(IMAGE_EXTENSIONS)}) in {bg_dir}.')
        self.bg_dir, self.prob = bg_dir, prob

    def transform(self, results: dict) -> dict:
        results['background_path'] = ''
        if np.random.rand() >= self.prob:
            return results
        missing = [key for key in ('person_mask', 'object_full_mask') if key not in results]
        if missing:
            raise KeyError(f'BackgroundSwap needs {missing} in the results: use LoadHOIImage(with_masks=True).')
        path = self.paths[np.random.randint(len(self.paths))]
        img = results['img']
        background = cv2.resize(load_image(path), (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
        keep = results['person_mask'] | results['object_full_mask']
        results['img'] = np.where(keep[..., None], img, background)
        results['background_path'] = path
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(bg_dir={self.bg_dir!r}, prob={self.prob}, {len(self.paths)} images)'
