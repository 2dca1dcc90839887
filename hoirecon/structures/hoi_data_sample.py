"""The data sample of one HOI image: ground truth, prediction and image meta.

Fields (all per image; ``InstanceData`` holds one "instance", the person-object pair):

``gt_instances`` (filled by the dataset pipeline)
    ``betas`` (1,10), ``body_pose`` (1,21,3,3), ``global_orient`` (1,3,3), ``transl`` (1,3) [m, camera frame],
    ``object_R`` (1,3,3), ``object_t`` (1,3) [m, camera frame], ``object_label`` (1,), ``rel_R`` (1,3,3),
    ``rel_t`` (1,3) [m, HOI frame], ``hoi_R`` (1,3,3), ``hoi_t`` (1,3), 2D targets in crop coordinates, ...
``observations`` (filled by the dataset pipeline; detector outputs available at test time, read by refiners)
    ``person_kpts`` (1,25,3) OpenPose BODY_25 ``(x px, y px, confidence)``, ``corr_x3d`` (1,N,3) object frame [m],
    ``corr_x2d`` (1,N,2) [px], ``corr_w2d`` (1,N,2) 2D-3D object correspondences (weight 0 = padding);
    ``estimate_global_orient`` (1,3,3), ``estimate_body_pose`` (1,J,3,3), ``estimate_betas`` (1,10) a body estimate
    (``LoadBodyEstimate``, FrankMocap's ``mocap.json``: the CHORE-style fit's start)
``pred_instances`` (filled by the model's ``predict``)
    the same parameter names, plus optional ``*_samples`` (1,k,...) hypotheses and their ``log_prob`` (1,k);
    after a refiner, the refined reconstruction
``init_instances`` (filled by ``predict`` when the model has a refiner)
    the network's reconstruction before refinement (same keys), so one run can score both
metainfo
    ``img_id``, ``img_path``, ``object_name``, ``cam_K`` (3,3), ``box_center`` (2,) px, ``box_size`` px,
    ``visibility`` (object visible ratio), ``sequence``, ``frame``, ``kinect``, ``gender``

The instance fields are typed properties: assigning anything else than an ``InstanceData`` raises.
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

    @property
    def init_instances(self) -> InstanceData:
        return self._init_instances

    @init_instances.setter
    def init_instances(self, value: InstanceData) -> None:
        self.set_field(value, '_init_instances', dtype=InstanceData)

    @init_instances.deleter
    def init_instances(self) -> None:
        del self._init_instances

    @property
    def observations(self) -> InstanceData:
        return self._observations

    @observations.setter
    def observations(self, value: InstanceData) -> None:
        self.set_field(value, '_observations', dtype=InstanceData)

    @observations.deleter
    def observations(self) -> None:
        del self._observations


SampleList = List[HOIDataSample]
OptSampleList = Optional[SampleList]
