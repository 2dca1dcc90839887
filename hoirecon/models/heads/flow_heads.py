"""StackFLOW's probabilistic heads: a pose flow and a relation flow, stacked or independent."""
from typing import Dict, Optional

import torch

from hoirecon.models.flows import ConditionalGlow
from hoirecon.models.utils.rotation import (matrix_to_pytorch3d_rot6d, matrix_to_rot6d, pytorch3d_rot6d_to_matrix,
                                            rot6d_to_matrix)
from hoirecon.registry import HEADS
from .base_head import BaseHOIHead, LogProbFn
from .head_inputs import check_head_inputs, repeat_per_sample
from .relation_context import RelationContext

#: ConditionalGlow settings of StackFLOW (method.md §3); ``flow_cfg`` entries override them.
DEFAULT_FLOW_CFG = dict(num_layers=4, hidden_features=1024, num_blocks_per_layer=2, dropout=0.5, batch_norm=True)
#: The 6D layouts the pose flow can model (``rot6d_convention``).
ROT6D_CONVENTIONS = ('hoirecon', 'pytorch3d')


class TwoFlowHead(BaseHOIHead):
    """Pose flow ``p(theta | feature)`` and relation flow ``p(gamma | RelationContext(feature, object, theta))``.

    The one implementation of both flow heads; registered under two names that differ by the class attribute
    :attr:`condition_relation_on_pose` only: :class:`StackedFlowHead` (relation conditioned on the pose, True)
    and :class:`IndependentFlowHead` (relation conditioned on image and object only, False). Their parameters
    and state-dict keys are those of this class. Both flows are :class:`ConditionalGlow` with a standard-normal
    base; the point estimate ("mode") maps z = 0 through both flows, the relation
    flow seeing the mode pose.

    theta is the body pose as ``num_pose_joints`` rotations in 6D (global orient
    first, the :mod:`hoirecon.models.utils.rotation` column layout), flattened to
    ``num_pose_joints * 6`` numbers; gamma is the relation latent of the relation
    encoder (e.g. the 32-d offset-PCA code).

    The pose flow's own numbers may follow another 6D layout (``rot6d_convention='pytorch3d'``: the first two ROWS
    of each matrix, as StackFLOW's official flows, so that converted checkpoints run unchanged,
    ``tools/model_converters/stackflow_to_hoirecon.py``). The head then converts at its boundary: ``pose_6d`` in
    and out is always hoirecon's layout (the same rotations), while the flow and the relation context's pose
    embedding see the flow's numbers. Log densities are those of the flow's numbers.

    Training-mode notes (from :class:`ConditionalGlow`): the flows' ActNorm layers
    initialise on the first training-mode :meth:`log_prob` call, so call it on the
    first batch before relying on samples; batch norm needs more than one row
    (``forward`` runs ``B * (1 + num_samples)`` rows, :meth:`log_prob` ``B``).

    Args:
        feature_dim: C, width of the image feature.
        num_objects: number of object categories (embedding size).
        relation_dim: D, width of the relation latent.
        num_pose_joints: J, rotations in the pose (22 = global orient + 21 body joints).
        flow_cfg: overrides of :data:`DEFAULT_FLOW_CFG` for both flows.
        rot6d_convention: the 6D layout of the pose flow's numbers, ``'hoirecon'`` (first two columns; the
            default) or ``'pytorch3d'`` (first two rows: StackFLOW's official checkpoints).
        init_cfg: mmengine initialisation config.
    """
    #: True stacks the flows (the relation context embeds the pose); set by the registered names.
    condition_relation_on_pose: bool = True

    def __init__(self,
                 feature_dim: int = 2048,
                 num_objects: int = 20,
                 relation_dim: int = 32,
                 num_pose_joints: int = 22,
                 flow_cfg: Optional[dict] = None,
                 rot6d_convention: str = 'hoirecon',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        if rot6d_convention not in ROT6D_CONVENTIONS:
            raise ValueError(f'{type(self).__name__}: rot6d_convention must be one of {ROT6D_CONVENTIONS}, got '
                             f'{rot6d_convention!r}.')
        self.rot6d_convention = rot6d_convention
        self.feature_dim = feature_dim
        self.num_objects = num_objects
        self.relation_dim = relation_dim
        self.num_pose_joints = num_pose_joints
        self.pose_dim = num_pose_joints * 6
        flow_cfg = {**DEFAULT_FLOW_CFG, **(flow_cfg or {})}
        self.pose_flow = ConditionalGlow(self.pose_dim, feature_dim, **flow_cfg)
        self.relation_context = RelationContext(feature_dim, num_objects,
                                                self.pose_dim if self.condition_relation_on_pose else None)
        self.relation_flow = ConditionalGlow(relation_dim, feature_dim, **flow_cfg)

    def flow_to_pose(self, flow_pose: torch.Tensor) -> torch.Tensor:
        """The pose flow's numbers as hoirecon 6D. Args: flow_pose (..., J * 6). Returns: (..., J, 6).

        With ``rot6d_convention='pytorch3d'`` each rotation is decoded as pytorch3d does (Gram-Schmidt on the rows)
        and re-encoded in hoirecon's layout (orthonormal columns); otherwise the numbers are only reshaped."""
        pose = flow_pose.reshape(*flow_pose.shape[:-1], self.num_pose_joints, 6)
        if self.rot6d_convention == 'pytorch3d':
            pose = matrix_to_rot6d(pytorch3d_rot6d_to_matrix(pose))
        return pose

    def pose_to_flow(self, pose_6d: torch.Tensor) -> torch.Tensor:
        """hoirecon 6D poses as the pose flow's numbers. Args: pose_6d (..., J, 6). Returns: (..., J * 6).

        With ``rot6d_convention='pytorch3d'``: the first two rows of each decoded matrix (an orthonormal vector of
        the flow's layout); otherwise the numbers are only flattened."""
        if self.rot6d_convention == 'pytorch3d':
            pose_6d = matrix_to_pytorch3d_rot6d(rot6d_to_matrix(pose_6d))
        return pose_6d.reshape(*pose_6d.shape[:-2], self.pose_dim)

    def forward(self,
                feature: torch.Tensor,
                object_labels: torch.Tensor,
                num_samples: int = 0) -> Dict[str, torch.Tensor]:
        """Point estimate and, optionally, ``num_samples`` random hypotheses.

        The mode and the samples go through each flow in one batch
        (``z = [0, z_1..z_k]``); every relation hypothesis is conditioned on its
        own pose (the mode relation on the mode pose).

        Args:
            feature: (B, C) image features.
            object_labels: (B,) int64 object categories.
            num_samples: k >= 0 random hypotheses, z ~ N(0, I).

        Returns:
            dict with ``pose_6d`` (B, J, 6) and ``relation`` (B, D) at z = 0; if
            k > 0 also ``pose_6d_samples`` (B, k, J, 6), ``relation_samples``
            (B, k, D) and ``log_prob`` (B, k) = log p(theta_i | feature) +
            log p(gamma_i | context_i) in nats.
        """
        check_head_inputs(type(self).__name__, feature, object_labels, self.feature_dim, self.num_objects, num_samples)
        batch, hypotheses = feature.shape[0], num_samples + 1
        pose_z = self._mode_and_random_latents(batch, num_samples, self.pose_dim, feature)
        pose, pose_log_prob = self.pose_flow.sample(feature, z=pose_z)  # (B, 1 + k, J * 6), (B, 1 + k)
        flat_pose = pose.reshape(batch * hypotheses, self.pose_dim)
        context = self.relation_context(repeat_per_sample(feature, hypotheses),
                                        repeat_per_sample(object_labels, hypotheses), flat_pose)
        relation_z = self._mode_and_random_latents(batch, num_samples, self.relation_dim, feature)
        relation_z = relation_z.reshape(batch * hypotheses, 1, self.relation_dim)  # one draw per pose hypothesis
        relation, relation_log_prob = self.relation_flow.sample(context, z=relation_z)
        pose = self.flow_to_pose(pose)  # (B, 1 + k, J, 6)
        relation = relation.view(batch, hypotheses, self.relation_dim)
        output = dict(pose_6d=pose[:, 0], relation=relation[:, 0])
        if num_samples > 0:
            output.update(pose_6d_samples=pose[:, 1:],
                          relation_samples=relation[:, 1:],
                          log_prob=pose_log_prob[:, 1:] + relation_log_prob.view(batch, hypotheses)[:, 1:])
        return output

    @staticmethod
    def _mode_and_random_latents(batch: int, num_samples: int, dim: int, like: torch.Tensor) -> torch.Tensor:
        """(B, 1 + k, dim) latents: zeros for the mode, then k standard-normal draws."""
        z = torch.randn(batch, num_samples + 1, dim, dtype=like.dtype, device=like.device)
        z[:, 0] = 0
        return z

    def log_prob(self, feature: torch.Tensor, object_labels: torch.Tensor, pose_6d: torch.Tensor,
                 relation: torch.Tensor) -> Dict[str, torch.Tensor]:
        """:meth:`BaseHOIHead.log_prob` (e.g. of the ground truth, for the NLL losses); the relation flow is
        conditioned on the GIVEN pose (stacked head). The refiner's posterior terms use ``z ** 2`` of the latents."""
        name = type(self).__name__
        check_head_inputs(name, feature, object_labels, self.feature_dim, self.num_objects)
        batch = feature.shape[0]
        if pose_6d.shape != (batch, self.num_pose_joints, 6):
            raise ValueError(f'{name}.log_prob: pose_6d must have shape (B, num_pose_joints, 6) = '
                             f'({batch}, {self.num_pose_joints}, 6), got {tuple(pose_6d.shape)}.')
        if relation.shape != (batch, self.relation_dim):
            raise ValueError(f'{name}.log_prob: relation must have shape (B, relation_dim) = '
                             f'({batch}, {self.relation_dim}), got {tuple(relation.shape)}.')
        flat_pose = self.pose_to_flow(pose_6d)
        pose_log_prob, pose_z = self.pose_flow.log_prob(flat_pose, feature)
        context = self.relation_context(feature, object_labels, flat_pose)
        relation_log_prob, relation_z = self.relation_flow.log_prob(relation, context)
        return dict(pose=pose_log_prob, relation=relation_log_prob, pose_z=pose_z, relation_z=relation_z)

    def image_conditioned_log_prob(self, feature: torch.Tensor, object_labels: torch.Tensor) -> LogProbFn:
        """:meth:`log_prob` with the image and object fixed, for scoring many poses/relations of the same images.

        Both flows' context projections are computed once (the relation context is affine in the pose:
        ``c = c0 + W_pose theta``, so its projections are ``P(c0) + theta (A W_pose)^T``); each call then costs
        narrow products only. The result equals :meth:`log_prob` up to float rounding. The precomputed tensors
        carry no gradient (the refiner optimises poses and relations, not the network).

        Args:
            feature: (B, C) image features.
            object_labels: (B,) int64 object categories.

        Returns:
            a function ``(pose_6d (B, J, 6), relation (B, D)) -> dict`` with the keys of :meth:`log_prob`.
        """
        check_head_inputs(type(self).__name__, feature, object_labels, self.feature_dim, self.num_objects)
        batch = feature.shape[0]
        with torch.no_grad():
            pose_projected = self.pose_flow.project_context(feature)
            zero_pose = feature.new_zeros(batch, self.pose_dim)
            relation_base = self.relation_flow.project_context(self.relation_context(feature, object_labels,
                                                                                     zero_pose))
            embedding = self.relation_context.pose_embedding
            relation_direction = None if embedding is None else \
                self.relation_flow.project_context_direction(embedding.weight)

        def log_prob(pose_6d: torch.Tensor, relation: torch.Tensor) -> Dict[str, torch.Tensor]:
            flat_pose = self.pose_to_flow(pose_6d).reshape(batch, self.pose_dim)
            pose_log_prob, pose_z = self.pose_flow.log_prob(flat_pose, None, projected=pose_projected)
            projected = relation_base
            if relation_direction is not None:
                projected = [None if base is None else
                             [b + flat_pose @ d.T for b, d in zip(base, direction)]
                             for base, direction in zip(relation_base, relation_direction)]
            relation_log_prob, relation_z = self.relation_flow.log_prob(relation, None, projected=projected)
            return dict(pose=pose_log_prob, relation=relation_log_prob, pose_z=pose_z, relation_z=relation_z)

        return log_prob


@HEADS.register_module()
class StackedFlowHead(TwoFlowHead):
    """StackFLOW's head: the relation flow is conditioned on the pose flow's sample.

    Relation context = ``feature + Linear(J * 6 -> C)(theta) + Embedding(object)``.
    See :class:`TwoFlowHead` for the arguments and the interface.
    """
    condition_relation_on_pose = True


@HEADS.register_module()
class IndependentFlowHead(TwoFlowHead):
    """Ablation: the relation flow ignores the pose (context = ``feature + Embedding(object)``).

    See :class:`TwoFlowHead` for the arguments and the interface.
    """
    condition_relation_on_pose = False
