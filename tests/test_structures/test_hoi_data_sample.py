import pytest
import torch
from mmengine.structures import InstanceData

from hoirecon.structures import HOIDataSample


def test_fields_are_typed_and_round_trip():
    sample = HOIDataSample(metainfo=dict(img_id='1_1_stool_sit_003_1', object_name='stool'))
    gt = InstanceData(betas=torch.zeros(1, 10), object_R=torch.eye(3)[None])
    sample.gt_instances = gt
    sample.pred_instances = InstanceData(betas=torch.ones(1, 10))
    assert sample.img_id == '1_1_stool_sit_003_1'
    assert torch.equal(sample.gt_instances.object_R, torch.eye(3)[None])
    assert sample.to_dict()['pred_instances']['betas'].shape == (1, 10)
    with pytest.raises(AssertionError):
        sample.gt_instances = {'betas': torch.zeros(1, 10)}
    del sample.pred_instances
    assert 'pred_instances' not in sample
