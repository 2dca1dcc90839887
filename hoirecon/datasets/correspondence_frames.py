"""Frames with the dense object-coordinate targets of the object box: BEHAVE (``ObjectCorrespondenceDataset``),
BEHAVE-extended and InterCap (the same targets on those datasets' frame readers)."""
from typing import List, Optional

from mmengine.logging import print_log

from hoirecon.registry import DATASETS
from .behave_extended_frames import BEHAVEExtendedDataset
from .behave_frames import BEHAVEFrameDataset
from .correspondence_targets import ensure_coordinate_targets, image_targets
from .intercap_frames import InterCapDataset


@DATASETS.register_module()
class ObjectCorrespondenceDataset(BEHAVEFrameDataset):
    """The images of :class:`BEHAVEFrameDataset` (same annotation cache, same arguments) with object-coordinate maps.

    Each data info adds, from :mod:`hoirecon.datasets.correspondence_targets` (rendered once next to the annotation
    cache): ``coord_box`` (4,) int64 ``(col, row, width, height)`` pixel box of the object's rendered silhouette,
    ``coord_map`` (h, w, 3) float16 object-frame metres of the surface seen at each pixel of that box,
    ``coord_full`` (h, w) bool silhouette (occluders ignored) and ``coord_visible`` (h, w) bool visible object.
    The object box the crop is made around is the cache's ``object_box`` (from the full object mask).

    Args:
        min_visible_pixels: drop images with fewer visible object pixels (0 keeps every image with the object in
            view; training uses a few, so that the mask and coordinates have something to learn from).
        **kwargs: :class:`BEHAVEFrameDataset` arguments (``data_root``, ``split``, ``kinects``, ``body_model``,
            ``min_visibility``, ``synthetic``, ``pipeline``, ``annotation_dir``, ...).
    """

    def __init__(self, *args, min_visible_pixels: int = 0, **kwargs):
        self.min_visible_pixels = int(min_visible_pixels)
        self.coordinate_params: Optional[dict] = None
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        source = self.FRAME_SOURCE(self.data_root)
        targets, self.coordinate_params = ensure_coordinate_targets(self.data_root, self.split, self.annotation_dir,
                                                                    source.object_library(), source.name)
        row_of = {str(img_id): i for i, img_id in enumerate(targets['img_id'])}
        for info in data_list:
            info.update(image_targets(targets, row_of[str(info['img_id'])]))
        return data_list

    def filter_data(self) -> List[dict]:
        """Keep the images whose object is in view (a non-empty object box and silhouette), with at least
        ``min_visibility`` of it visible and ``min_visible_pixels`` visible pixels."""
        kept = [info for info in self.data_list if info['object_box'][2] > info['object_box'][0]
                and info['object_box'][3] > info['object_box'][1] and info['coord_full'].any()
                and info['visibility'] >= self.min_visibility
                and int(info['coord_visible'].sum()) >= self.min_visible_pixels]
        print_log(f'{type(self).__name__} {self.split}: {len(kept)} of {len(self.data_list)} images (object in view, '
                  f'visibility >= {self.min_visibility}, >= {self.min_visible_pixels} visible object pixels).',
                  logger='current')
        return kept


@DATASETS.register_module()
class InterCapCorrespondenceDataset(ObjectCorrespondenceDataset, InterCapDataset):
    """:class:`ObjectCorrespondenceDataset` on InterCap frames (:class:`InterCapDataset`'s reader, cameras, neutral
    SMPL-X annotation cache and time order); targets in ``object_coordinates_intercap_<split>.npz``."""


@DATASETS.register_module()
class BEHAVEExtendedCorrespondenceDataset(ObjectCorrespondenceDataset, BEHAVEExtendedDataset):
    """:class:`ObjectCorrespondenceDataset` on BEHAVE-extended frames (:class:`BEHAVEExtendedDataset`'s reader and
    time order); targets in ``object_coordinates_behave_extended_<split>.npz``."""
