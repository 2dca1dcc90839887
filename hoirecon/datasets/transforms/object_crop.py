"""The object crop of the correspondence network (CDPN's "dynamic zoom-in") and its packing.

:class:`ObjectCrop` cuts a square around the object box, resizes it to ``img_size`` pixels, and samples the dense
targets on an ``out_size x out_size`` grid over the same square; :class:`PackObjectCorrespondenceInputs` makes the
model's input and :class:`~hoirecon.structures.HOIDataSample`. The crop box convention (``(x1, y1, side)``, pixel
centres at integers) is :mod:`hoirecon.models.correspondence.coordinates`'s.
"""
from typing import Sequence

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData

from hoirecon.registry import TRANSFORMS
from hoirecon.structures import HOIDataSample


def square_crop_box(box: np.ndarray, padding: float, scale: float = 1.0, shift: Sequence[float] = (0.0, 0.0)):
    """The square crop around an xyxy box: side ``padding * scale * max(w, h)``, centre moved by ``shift`` x side.

    Args:
        box: (4,) xyxy pixel edges.
        padding: side / the box's longer side (CDPN: 1.5).
        scale: extra zoom factor (augmentation).
        shift: (2,) centre offset as fractions of the box's width and height (augmentation).

    Returns:
        (3,) float64 ``(x1, y1, side)`` pixels.
    """
    box = np.asarray(box, np.float64)
    width, height = box[2] - box[0], box[3] - box[1]
    centre = (box[:2] + box[2:]) / 2 + np.asarray(shift, np.float64) * (width, height)
    side = max(width, height, 1.0) * padding * scale
    return np.array([centre[0] - side / 2, centre[1] - side / 2, side])


def crop_image(img: np.ndarray, crop_box: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resampling of the square ``crop_box`` of an image to ``size x size`` (black outside the image)."""
    step = crop_box[2] / size
    # output pixel j (centre j) looks at x1 + (j + 0.5) step
    affine = np.array([[step, 0.0, crop_box[0] + 0.5 * step], [0.0, step, crop_box[1] + 0.5 * step]])
    return cv2.warpAffine(img, affine, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def sample_targets(results: dict, crop_box: np.ndarray, size: int) -> dict:
    """The stored per-pixel targets at the cell centres of a ``size x size`` grid over ``crop_box`` (nearest pixel).

    Returns:
        ``coord_x3d`` (S, S, 3) float32 object-frame metres (0 off the object), ``coord_full`` and
        ``coord_visible`` (S, S) float32 masks.
    """
    steps = (np.arange(size) + 0.5) / size
    cols = np.rint(crop_box[0] + steps * crop_box[2]).astype(np.int64) - int(results['coord_box'][0])
    rows = np.rint(crop_box[1] + steps * crop_box[2]).astype(np.int64) - int(results['coord_box'][1])
    height, width = results['coord_full'].shape
    col_ok, row_ok = (cols >= 0) & (cols < width), (rows >= 0) & (rows < height)
    inside = row_ok[:, None] & col_ok[None, :]
    r, c = np.clip(rows, 0, max(height - 1, 0)), np.clip(cols, 0, max(width - 1, 0))
    out = dict(coord_x3d=np.zeros((size, size, 3), np.float32), coord_full=np.zeros((size, size), np.float32),
               coord_visible=np.zeros((size, size), np.float32))
    if height and width:
        grid = np.ix_(r, c)
        out['coord_full'] = (results['coord_full'][grid] & inside).astype(np.float32)
        out['coord_visible'] = (results['coord_visible'][grid] & inside).astype(np.float32)
        out['coord_x3d'] = results['coord_map'][grid].astype(np.float32) * out['coord_full'][..., None]
    return out


@TRANSFORMS.register_module()
class ObjectCrop(BaseTransform):
    """Crop the object box square, resize it to ``img_size`` and sample the coordinate targets on ``out_size``.

    Required keys: ``img`` (H, W, 3), ``object_box`` (4,) xyxy pixels; for the targets ``coord_box``, ``coord_map``,
    ``coord_full``, ``coord_visible`` (:class:`~hoirecon.datasets.ObjectCorrespondenceDataset`; left out when
    missing, e.g. on an image without ground truth).

    Modified keys: ``img`` (img_size, img_size, 3). Added: ``crop_box`` (3,) ``(x1, y1, side)`` float64 pixels,
    ``coord_x3d`` (S, S, 3), ``coord_full`` (S, S), ``coord_visible`` (S, S) float32.

    Args:
        img_size: side of the network's input crop, pixels.
        out_size: cells per side S of the target grid (the head's output).
        padding: crop side / the box's longer side (CDPN: 1.5).
        augment: draw a box augmentation (CDPN's dynamic zoom-in): the side scaled by ``1 + U(-scale, scale)``, the
            centre shifted by ``U(-shift, shift)`` x the box's width / height.
        scale, shift: augmentation ranges.
    """

    def __init__(self, img_size: int = 128, out_size: int = 64, padding: float = 1.5, augment: bool = False,
                 scale: float = 0.25, shift: float = 0.15):
        self.img_size, self.out_size = int(img_size), int(out_size)
        self.padding, self.augment = float(padding), bool(augment)
        self.scale, self.shift = float(scale), float(shift)

    def transform(self, results: dict) -> dict:
        box = np.asarray(results['object_box'], np.float64)
        scale, shift = 1.0, (0.0, 0.0)
        if self.augment:
            scale = 1.0 + np.random.uniform(-self.scale, self.scale)
            shift = np.random.uniform(-self.shift, self.shift, size=2)
        crop_box = square_crop_box(box, self.padding, scale, shift)
        results['img'] = crop_image(results['img'], crop_box, self.img_size)
        results['img_shape'] = (self.img_size, self.img_size)
        results['crop_box'] = crop_box
        if 'coord_map' in results:
            results.update(sample_targets(results, crop_box, self.out_size))
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(img_size={self.img_size}, out_size={self.out_size}, padding={self.padding}, '
                f'augment={self.augment}, scale={self.scale}, shift={self.shift})')


#: Target / pose fields packed into ``gt_instances`` (float32, leading 1) when present.
CORRESPONDENCE_GT_FIELDS = ('object_R', 'object_t', 'coord_x3d', 'coord_full', 'coord_visible')
CORRESPONDENCE_META_KEYS = ('img_id', 'img_path', 'sequence', 'frame', 'kinect', 'object_name', 'cam_K', 'crop_box',
                            'object_box', 'visibility', 'img_shape', 'ori_shape')


@TRANSFORMS.register_module()
class PackObjectCorrespondenceInputs(BaseTransform):
    """Pack the crop as a (3, H, W) uint8 tensor and the targets as a :class:`HOIDataSample`.

    ``gt_instances``: ``object_label`` (1,) int64, ``object_R`` (1, 3, 3), ``object_t`` (1, 3) metres (camera),
    ``coord_x3d`` (1, S, S, 3) object-frame metres, ``coord_full``, ``coord_visible`` (1, S, S). Metainfo: the
    ``meta_keys`` present (``crop_box`` and ``cam_K`` are what the model needs).
    """

    def __init__(self, meta_keys: Sequence[str] = CORRESPONDENCE_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        inputs = torch.from_numpy(np.ascontiguousarray(results['img'].transpose(2, 0, 1)))
        gt = InstanceData()
        gt.object_label = torch.tensor([int(results['object_label'])], dtype=torch.long)
        for key in CORRESPONDENCE_GT_FIELDS:
            if key in results:
                gt[key] = torch.as_tensor(np.asarray(results[key], np.float32))[None]
        sample = HOIDataSample()
        sample.gt_instances = gt
        sample.set_metainfo({key: results[key] for key in self.meta_keys if key in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
