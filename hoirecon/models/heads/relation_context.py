"""Conditioning vector of the human-object relation prediction."""
from typing import Optional

import torch
from torch import nn


class RelationContext(nn.Module):
    """``feature + Embedding(object) [+ Linear(pose)]``: what the relation flow/MLP is conditioned on.

    With ``pose_dim`` set, the flattened 6D pose is embedded and added: this is
    StackFLOW's *stacking* (the relation depends on the pose hypothesis). With
    ``pose_dim=None`` the relation sees the image and the object category only
    (the "independent flows" ablation). The heads differ only by this module.

    Args:
        feature_dim: C, width of the image feature and of the context.
        num_objects: number of object categories.
        pose_dim: width of the flattened pose (``num_pose_joints * 6``), or None
            to ignore the pose.
    """

    def __init__(self, feature_dim: int, num_objects: int, pose_dim: Optional[int]):
        super().__init__()
        self.object_embedding = nn.Embedding(num_objects, feature_dim)
        self.pose_embedding = None if pose_dim is None else nn.Linear(pose_dim, feature_dim)

    @property
    def uses_pose(self) -> bool:
        """Whether the context depends on the pose."""
        return self.pose_embedding is not None

    def forward(self, feature: torch.Tensor, object_labels: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        """Build the context.

        Args:
            feature: (N, C) image features.
            object_labels: (N,) int64 object categories.
            pose: (N, pose_dim) flattened 6D pose (ignored when ``uses_pose`` is False).

        Returns:
            (N, C) context.
        """
        context = feature + self.object_embedding(object_labels)
        if self.pose_embedding is not None:
            context = context + self.pose_embedding(pose)
        return context
