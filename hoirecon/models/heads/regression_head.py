"""Deterministic pose/relation regression head (the "no flow" ablation)."""
from typing import Dict, Optional

import torch
from torch import nn

from hoirecon.models.utils import matrix_to_rot6d
from hoirecon.registry import HEADS
from .base_head import BaseHOIHead
from .head_inputs import check_head_inputs
from .relation_context import RelationContext


def _mlp(in_features: int, hidden_features: int, out_features: int) -> nn.Sequential:
    """Linear-ReLU-Linear."""
    return nn.Sequential(nn.Linear(in_features, hidden_features), nn.ReLU(), nn.Linear(hidden_features, out_features))


@HEADS.register_module()
class RegressionHead(BaseHOIHead):
    """Pose and relation from two MLPs, with the flow heads' interface.

    ``theta = MLP(feature)`` and ``gamma = MLP(RelationContext(feature, object, theta))``
    (Linear-ReLU-Linear each). The pose output layer starts with small weights
    (xavier, gain 0.02) and the identity rotation as bias, so the initial poses
    are valid rotations. There is no likelihood: it does not implement
    :meth:`~BaseHOIHead.log_prob`, so :attr:`has_likelihood` is False and
    ``log_prob`` raises ``NotImplementedError`` (reconstructors skip the NLL
    terms, the refiner its posterior terms); the "samples" of :meth:`forward`
    are the prediction repeated k times with ``log_prob`` zeros.

    Args:
        feature_dim: C, width of the image feature.
        num_objects: number of object categories (embedding size).
        relation_dim: D, width of the relation latent.
        num_pose_joints: J, rotations in the pose.
        hidden_dim: hidden width of both MLPs.
        condition_relation_on_pose: add the embedded pose to the relation context
            (as :class:`StackedFlowHead`).
        init_cfg: mmengine initialisation config.
    """

    def __init__(self,
                 feature_dim: int = 2048,
                 num_objects: int = 20,
                 relation_dim: int = 32,
                 num_pose_joints: int = 22,
                 hidden_dim: int = 1024,
                 condition_relation_on_pose: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.feature_dim = feature_dim
        self.num_objects = num_objects
        self.relation_dim = relation_dim
        self.num_pose_joints = num_pose_joints
        pose_dim = num_pose_joints * 6
        self.pose_mlp = _mlp(feature_dim, hidden_dim, pose_dim)
        nn.init.xavier_uniform_(self.pose_mlp[2].weight, gain=0.02)
        with torch.no_grad():
            self.pose_mlp[2].bias.copy_(matrix_to_rot6d(torch.eye(3)).repeat(num_pose_joints))
        self.relation_context = RelationContext(feature_dim, num_objects,
                                                pose_dim if condition_relation_on_pose else None)
        self.relation_mlp = _mlp(feature_dim, hidden_dim, relation_dim)

    def forward(self,
                feature: torch.Tensor,
                object_labels: torch.Tensor,
                num_samples: int = 0) -> Dict[str, torch.Tensor]:
        """Predict pose and relation.

        Args:
            feature: (B, C) image features.
            object_labels: (B,) int64 object categories.
            num_samples: k >= 0; the k "samples" are copies of the prediction.

        Returns:
            dict with ``pose_6d`` (B, J, 6), ``relation`` (B, D); if k > 0 also
            ``pose_6d_samples`` (B, k, J, 6), ``relation_samples`` (B, k, D) (the
            prediction repeated) and ``log_prob`` (B, k) zeros (no likelihood).
        """
        check_head_inputs(type(self).__name__, feature, object_labels, self.feature_dim, self.num_objects, num_samples)
        batch = feature.shape[0]
        pose = self.pose_mlp(feature)
        relation = self.relation_mlp(self.relation_context(feature, object_labels, pose))
        pose_6d = pose.view(batch, self.num_pose_joints, 6)
        output = dict(pose_6d=pose_6d, relation=relation)
        if num_samples > 0:
            output.update(pose_6d_samples=pose_6d.unsqueeze(1).expand(-1, num_samples, -1, -1),
                          relation_samples=relation.unsqueeze(1).expand(-1, num_samples, -1),
                          log_prob=feature.new_zeros(batch, num_samples))
        return output
