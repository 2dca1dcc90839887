"""What a refiner needs of a model, as one explicit object (instead of the model itself)."""
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn

from hoirecon.models.heads.base_head import LogProbFn

#: ``(rel_R (B, 3, 3), rel_t (B, 3) metres, labels (B,), human_anchors (B, A, 3) metres) -> (B, D)`` relation latent.
EncodeFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Tensor]], torch.Tensor]
#: ``(latent (B, D), labels (B,), human_anchors (B, A, 3)) -> (B, A, K, 3)`` decoded offsets, metres.
OffsetsFn = Callable[[torch.Tensor, torch.Tensor, Optional[torch.Tensor]], torch.Tensor]
#: ``(rel_R (B, 3, 3), rel_t (B, 3), labels (B,), human_anchors (B, A, 3)) -> (B, A, K, 3)`` offsets of given poses.
GTOffsetsFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Tensor]], torch.Tensor]


@dataclass
class RefinementProblem:
    """The model side of a refinement of B person-object instances: body model, priors and relation encoding.

    Built in one place, :meth:`hoirecon.models.HOIReconstructor.refinement_problem`; a refiner reads nothing else
    of the model (and changes none of its parameters). Any object with these fields will do, e.g. a toy problem in
    a test.

    Attributes:
        body_model: the predicted body (``posed_vertex_subset``, ``body25_regressor``, ``rest_root_joint`` and
            ``forward``, used through :mod:`hoirecon.models.utils.hoi_frame`).
        labels: (B,) long object categories; their device is the problem's device.
        human_anchor_indices: (A,) long body vertex ids of the relation encoder's human anchors (may be empty).
        encode_relation: the relation encoder's ``encode``, see :data:`EncodeFn`.
        log_prob: the flows' log-density of a pose and relation given the instances' image crops and objects
            (image-conditioned: the image part is computed once), a
            :data:`~hoirecon.models.heads.base_head.LogProbFn` returning ``pose``, ``relation`` (B,) log densities
            (nats) and the latents ``pose_z`` (B, J * 6), ``relation_z`` (B, D); None for a head without
            a likelihood.
        offsets: decoded human-object offsets of a latent (:data:`OffsetsFn`), or None for encoders without offsets.
        gt_offsets: offsets of given relative poses (:data:`GTOffsetsFn`), or None likewise.
        dtype: floating dtype of the problem's computations (that of the image features).
        head_name: name of the head, for messages.
        relation_encoder_name: name of the relation encoder, for messages.
    """
    body_model: nn.Module
    labels: torch.Tensor
    human_anchor_indices: torch.Tensor
    encode_relation: EncodeFn
    log_prob: Optional[LogProbFn] = None
    offsets: Optional[OffsetsFn] = None
    gt_offsets: Optional[GTOffsetsFn] = None
    dtype: torch.dtype = torch.float32
    head_name: str = 'the head'
    relation_encoder_name: str = 'the relation encoder'

    @property
    def has_likelihood(self) -> bool:
        """Whether the posterior terms can be computed (:attr:`log_prob` is set)."""
        return self.log_prob is not None

    @property
    def has_offsets(self) -> bool:
        """Whether the offsets term can be computed (:attr:`offsets` and :attr:`gt_offsets` are set)."""
        return self.offsets is not None and self.gt_offsets is not None

    @property
    def batch_size(self) -> int:
        """B, the number of instances."""
        return int(self.labels.shape[0])

    @property
    def device(self) -> torch.device:
        return self.labels.device
