"""A tiny ``HOIReconstructor`` config (32-wide features, 2-layer flows, surrogate body) for model tests, and a
plausible random-weight checkpoint of a config for the tool tests."""
import copy
from typing import Dict, Optional

#: Width of the tiny model's image feature.
TINY_FEATURE_DIM = 32


def tiny_reconstructor_cfg(losses: Dict[str, dict],
                           head_type: str = 'StackedFlowHead',
                           relation_encoder: Optional[dict] = None,
                           **kwargs) -> dict:
    """MODELS config of a small StackFLOW-family model that builds and runs in a fraction of a second on a CPU.

    Args:
        losses: the loss table (copied), e.g. the ``model.losses`` of ``configs/_base_/models/stackflow.py``.
        head_type: ``'StackedFlowHead'``, ``'IndependentFlowHead'`` or ``'RegressionHead'``.
        relation_encoder: RELATION_ENCODERS config; default ``DirectRelativePose`` (needs no PCA file).
        **kwargs: other ``HOIReconstructor`` arguments (``refiner``, ``num_test_hypotheses``, ...).
    """
    head = dict(type=head_type, feature_dim=TINY_FEATURE_DIM, num_objects=20, num_pose_joints=22)
    if head_type == 'RegressionHead':
        head['hidden_dim'] = 32
    else:
        head['flow_cfg'] = dict(num_layers=2, hidden_features=32, num_blocks_per_layer=1, dropout=0.0)
    return dict(
        type='HOIReconstructor',
        data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375]),
        backbone=dict(type='ResNet', depth=18, out_channels=TINY_FEATURE_DIM),
        shape_head=dict(type='CameraShapeHead', feature_dim=TINY_FEATURE_DIM, hidden_dim=32,
                        init_cam_translation=(0.5, 0., 0.)),
        head=head,
        relation_encoder=relation_encoder or dict(type='DirectRelativePose'),
        body_model=dict(type='SMPLH', model_path='surrogate', gender='male'),
        losses=copy.deepcopy(losses), **kwargs)


def save_plausible_tiny_checkpoint(config: str, path: str) -> str:
    """Build ``config``'s (tiny) model with random weights, data-initialise its flows' ActNorm on near-identity poses
    (z = 0 then decodes to a plausible body; an untouched random flow maps z = 0 to the all-zero 6D pose, a body
    collapsed to a point) and save it as a checkpoint at ``path``."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from hoirecon.models.utils import matrix_to_rot6d
    from hoirecon.registry import MODELS
    cfg = Config.fromfile(config)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('hoirecon'):
        model = MODELS.build(cfg.model)
    identity_6d = matrix_to_rot6d(torch.eye(3)).expand(16, 22, 6)
    model.head.train()
    model.head.log_prob(torch.randn(16, model.head.feature_dim), torch.arange(16) % 20,
                        identity_6d + 0.05 * torch.randn(16, 22, 6), 0.1 * torch.randn(16, model.head.relation_dim))
    model.eval()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path
