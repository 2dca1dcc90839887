"""``CHOREFrameDataset``: the BEHAVE-layout images that have both the person and the object in view (CHORE's
fields need both meshes and both masks); the field targets are computed per sample by
:class:`~hoirecon.datasets.transforms.CHOREQueryTargets`."""
from typing import List

from mmengine.logging import print_log

from hoirecon.registry import DATASETS
from .behave_frames import BEHAVEFrameDataset


def _nonempty(box) -> bool:
    return box[2] > box[0] and box[3] > box[1]


@DATASETS.register_module()
class CHOREFrameDataset(BEHAVEFrameDataset):
    """The images of :class:`BEHAVEFrameDataset` (same annotation cache, same arguments) whose person box and object
    box are both non-empty and whose object visibility is at least ``min_visibility``.

    The targets are not cached: computing them takes milliseconds per image (docs/chore.md, "Timings"), and fresh
    query points every epoch are what CHORE trains with.
    """

    def filter_data(self) -> List[dict]:
        kept = [info for info in self.data_list if _nonempty(info['person_box']) and _nonempty(info['object_box'])
                and info['visibility'] >= self.min_visibility]
        print_log(f'{type(self).__name__} {self.split}: {len(kept)} of {len(self.data_list)} images (person and '
                  f'object in view, visibility >= {self.min_visibility}).', logger='current')
        return kept
