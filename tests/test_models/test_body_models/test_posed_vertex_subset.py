"""posed_vertex_subset: the refiner's few-vertex skinning equals the full model at those vertices."""
import pytest
import torch

from hoirecon.models.utils import axis_angle_to_matrix
from hoirecon.registry import BODY_MODELS


@pytest.mark.parametrize('model_type', ['SMPL', 'SMPLH'])
def test_subset_equals_full_forward(surrogate_body_root, model_type):
    body = BODY_MODELS.build(dict(type=model_type, model_path='surrogate', gender='female')).double()
    gen = torch.Generator().manual_seed(0)
    betas = torch.randn(3, 10, generator=gen, dtype=torch.float64)
    rotations = axis_angle_to_matrix(0.4 * torch.randn(3, 22, 3, generator=gen, dtype=torch.float64))
    ids = torch.tensor([0, 17, 411, 3021, 6889, 5000])
    vertices, joints = body.posed_vertex_subset(betas, rotations, ids)
    rest = torch.eye(3, dtype=torch.float64).expand(3, body.num_joints - 22, 3, 3)
    if model_type == 'SMPL':
        full = body(betas=betas, global_orient=rotations[:, 0], body_pose=torch.cat([rotations[:, 1:], rest], 1))
    else:
        full = body(betas=betas, global_orient=rotations[:, 0], body_pose=rotations[:, 1:])
    torch.testing.assert_close(vertices, full.vertices[:, ids], rtol=0, atol=1e-12)
    torch.testing.assert_close(joints, full.joints[:, :body.num_joints], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match='rotations must be'):
        body.posed_vertex_subset(betas, rotations[:, :, :2], ids)
