"""The data sample of one HOI image: ground truth, prediction and image meta.

Fields (all per image; ``InstanceData`` holds one "instance", the person-object pair):

``gt_instances`` (filled by the dataset pipeline)
    ``betas`` (1,10), ``body_pose`` (1,21,3,3), ``global_orient`` (1,3,3), ``transl`` (1,3) [m, camera frame],
    ``object_R`` (1,3,3), ``object_t`` (1,3) [m, camera frame], ``object_label`` (1,), ``rel_R`` (1,3,3),
    ``rel_t`` (1,3) [m, HOI frame], ``hoi_R`` (1,3,3), ``hoi_t`` (1,3), 2D targets in crop coordinates, ...
``pred_instances`` (filled by the model's ``predict``)
    the same parameter names, plus optional ``*_samples`` (1,k,...) hypotheses and their ``log_prob`` (1,k)
metainfo
    ``img_id``, ``img_path``, ``object_name``, ``cam_K`` (3,3), ``box_center`` (2,) px, ``box_size`` px,
    ``visibility`` (object visible ratio), ``sequence``, ``frame``, ``kinect``, ``gender``

Both instance fields are typed properties: assigning anything else than an ``InstanceData`` raises.
"""
from typing import List, Optional

from mmengine.structures import BaseDataElement, InstanceData


class HOIDataSample(BaseDataElement):
    """Ground truth, prediction and meta information of one HOI image."""

    @property
    def gt_instances(self) -> InstanceData:
        return self._gt_instances

    @gt_instances.setter
    def gt_instances(self, value: InstanceData) -> None:
        self.set_field(value, '_gt_instances', dtype=InstanceData)

    @gt_instances.deleter
    def gt_instances(self) -> None:
        del self._gt_instances

    @property
    def pred_instances(self) -> InstanceData:
        return self._pred_instances

    @pred_instances.setter
    def pred_instances(self, value: InstanceData) -> None:
        self.set_field(value, '_pred_instances', dtype=InstanceData)

    @pred_instances.deleter
    def pred_instances(self) -> None:
        del self._pred_instances


SampleList = List[HOIDataSample]
OptSampleList = Optional[SampleList]
