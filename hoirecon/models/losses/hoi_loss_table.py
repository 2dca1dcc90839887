"""StackFLOW's training objective as a registered loss module: a table of terms, each bound to named tensors.

The reconstructor computes every prediction (decoding, projection into the crop, object keypoints) and hands the
table one dict of named tensors, :data:`LOSS_TENSORS`; the table only compares them. Which tensors a term compares is
the table's business: :data:`DEFAULT_BINDINGS` binds the 15 terms of method.md §4, and a config binds a new term
itself, without touching the reconstructor::

    losses=dict(
        betas=dict(type='MSELoss', loss_weight=0.005, reduction='sum_per_batch'),   # a default term
        offsets=None,                                                               # left out
        rel_t=dict(type='L1Loss', loss_weight=0.1, pred='rel_t', target='gt_rel_t'),   # a new term
    )
"""
from typing import Dict, Mapping, NamedTuple, Optional, Tuple

import torch
from torch import nn

from hoirecon.registry import LOSSES


class LossBinding(NamedTuple):
    """Keys of :data:`LOSS_TENSORS` that one term compares: ``loss(tensors[pred], tensors[target], tensors[weight])``.

    Attributes:
        pred: the prediction's key.
        target: the target's key, or None (regularisers, NLL).
        weight: the per-entry weight's key (aligned with the leading dims of the prediction), or None.
    """
    pred: str
    target: Optional[str] = None
    weight: Optional[str] = None

    def keys(self) -> Tuple[str, ...]:
        """The keys that are set."""
        return tuple(key for key in self if key is not None)


#: The named tensors a reconstructor hands to :class:`HOILossTable` (``B`` images, ``k`` hypotheses per image,
#: ``J = 22`` body joints, ``D`` relation latent width, ``K = 16`` object keypoints, ``A`` human anchors). Keys
#: starting with ``gt_`` are targets. Crop coordinates are :func:`~hoirecon.models.utils.to_crop_coords`:
#: ``(pixel - box_center) / box_size``, unitless, 0 at the crop centre and +-0.5 on its border. Sample tensors are
#: flattened to ``B * k`` rows, row ``b * k + i`` being hypothesis ``i`` of image ``b`` (so that
#: ``reduction='sum_per_batch'`` divides by ``B * k``, as the reference code). A key may be absent when the model
#: cannot make it (``offsets``: encoders without offsets; ``log_prob_*``: heads without a likelihood; ``*_samples``:
#: ``num_train_samples=0``); the terms that use it are then skipped.
LOSS_TENSORS: Dict[str, str] = {
    # ---- predictions, mode (z = 0)
    'betas': '(B, 10) body shape of the shape head',
    'translation': '(B, 3) camera-frame root joint J0 from the crop camera, metres',
    'pose_6d': '(B, J, 6) pose of the head, raw 6D (before Gram-Schmidt); row 0 = global orientation',
    'global_orient_6d': '(B, 6) pose_6d[:, 0]',
    'body_pose_6d': '(B, 21, 6) pose_6d[:, 1:22]',
    'relation': '(B, D) relation latent of the head',
    'rel_R': '(B, 3, 3) decoded object rotation in the HOI frame',
    'rel_t': '(B, 3) decoded object translation in the HOI frame, metres',
    'object_R': '(B, 3, 3) decoded object rotation, camera frame',
    'object_t': '(B, 3) decoded object translation, camera frame, metres',
    'joints_3d': '(B, J, 3) body joints minus the root joint, in the camera orientation (not moved), metres',
    'joints_2d': '(B, J, 2) body joints (joints_3d + translation) projected, crop coordinates',
    'offsets': '(B, A, K_o, 3) human-to-object anchor offsets decoded from relation with the GT anchors, metres',
    'object_kpts_2d': '(B, K, 2) GT object-frame keypoints posed by object_R/object_t, projected, crop coordinates',
    'log_prob_pose': '(B,) log density of the noised GT pose under the head, nats',
    'log_prob_relation': '(B,) log density of the noised GT relation under the head, nats',
    # ---- predictions, hypotheses
    'pose_6d_samples': '(B, k, J, 6) pose hypotheses, raw 6D',
    'relation_samples': '(B, k, D) relation hypotheses',
    'joints_2d_samples': '(B * k, J, 2) as joints_2d, per hypothesis',
    'object_kpts_2d_samples': '(B * k, K, 2) as object_kpts_2d, per hypothesis',
    # ---- targets
    'gt_betas': '(B, 10)',
    'gt_global_orient': '(B, 3, 3)',
    'gt_body_pose': '(B, 21, 3, 3)',
    'gt_pose_6d': '(B, J, 6) GT global orientation and body pose in 6D',
    'gt_translation': '(B, 3) camera-frame root joint J0 (hoi_t), metres',
    'gt_rel_R': '(B, 3, 3) object rotation in the GT HOI frame',
    'gt_rel_t': '(B, 3) object translation in the GT HOI frame, metres',
    'gt_relation': '(B, D) relation latent of the GT relative pose (encoded with the GT anchors)',
    'gt_human_anchors': '(B, A, 3) human anchors of the GT body in the HOI frame, metres',
    'gt_offsets': '(B, A, K_o, 3) offsets of the GT relative pose (encoders with offsets)',
    'gt_joints_3d': '(B, J, 3) GT joints minus the GT root joint, camera frame, metres',
    'gt_joints_2d': '(B, J, 2) crop coordinates',
    'gt_object_kpts_3d': '(B, K, 3) object keypoints in the object frame, metres (padding rows 0)',
    'gt_object_kpts_2d': '(B, K, 2) crop coordinates',
    'gt_object_kpts_weights': '(B, K) 1 for a keypoint, 0 for padding',
    'gt_joints_2d_samples': '(B * k, J, 2) gt_joints_2d repeated per hypothesis',
    'gt_object_kpts_2d_samples': '(B * k, K, 2) gt_object_kpts_2d repeated per hypothesis',
    'gt_object_kpts_weights_samples': '(B * k, K) gt_object_kpts_weights repeated per hypothesis',
}

#: StackFLOW's 15 terms (method.md §4) and the tensors each compares, in the order they are evaluated (and logged):
#: the NLL terms first, then the mode terms, then the hypotheses' terms.
DEFAULT_BINDINGS: Dict[str, LossBinding] = {
    'nll_pose': LossBinding('log_prob_pose'),
    'nll_relation': LossBinding('log_prob_relation'),
    'betas': LossBinding('betas', 'gt_betas'),
    'global_orient': LossBinding('global_orient_6d', 'gt_global_orient'),
    'body_pose': LossBinding('body_pose_6d', 'gt_body_pose'),
    'orthogonality': LossBinding('pose_6d'),
    'translation': LossBinding('translation', 'gt_translation'),
    'joints_3d': LossBinding('joints_3d', 'gt_joints_3d'),
    'joints_2d': LossBinding('joints_2d', 'gt_joints_2d'),
    'relation': LossBinding('relation', 'gt_relation'),
    'offsets': LossBinding('offsets', 'gt_offsets'),
    'object_reprojection': LossBinding('object_kpts_2d', 'gt_object_kpts_2d', 'gt_object_kpts_weights'),
    'orthogonality_samples': LossBinding('pose_6d_samples'),
    'joints_2d_samples': LossBinding('joints_2d_samples', 'gt_joints_2d_samples'),
    'object_reprojection_samples': LossBinding('object_kpts_2d_samples', 'gt_object_kpts_2d_samples',
                                               'gt_object_kpts_weights_samples'),
}

#: Names of the default terms (a config may leave any of them out).
LOSS_TERMS = tuple(DEFAULT_BINDINGS)


@LOSSES.register_module()
class HOILossTable(nn.Module):
    """A table of weighted loss terms over named prediction / target tensors.

    ``forward(tensors)`` evaluates every configured term whose tensors are present and returns
    ``{'loss_<term>': scalar}`` (mmengine sums every key containing ``loss``): the default terms in the order of
    :data:`DEFAULT_BINDINGS`, then the config's own terms in config order. The table has no parameters or buffers.

    Args:
        terms: ``{term: LOSSES config}``. A term of :data:`DEFAULT_BINDINGS` takes its default tensors; any term may
            name them with the extra keys ``pred``, ``target``, ``weight`` (keys of :data:`LOSS_TENSORS`), and a
            new term must name at least ``pred``. A term set to None is left out (how a derived config removes a
            term of its base).

    Raises:
        KeyError: a new term without ``pred``, or a key that is not in :data:`LOSS_TENSORS`.
    """

    def __init__(self, terms: Mapping[str, Optional[dict]]):
        super().__init__()
        self.bindings: Dict[str, LossBinding] = {}
        built = {}
        for name, cfg in self._in_order(terms):
            cfg = dict(cfg)
            given = {field: cfg.pop(field) for field in LossBinding._fields if field in cfg}
            self.bindings[name] = self._binding(name, given)
            built[name] = LOSSES.build(cfg)
        self.terms = nn.ModuleDict(built)
        #: per-term factor on the configured weight (1 by default); a schedule (e.g. :class:`~hoirecon.engine.hooks.
        #: LossWarmupHook`) changes it during training
        self.scales: Dict[str, float] = {}

    def set_scale(self, term: str, factor: float) -> None:
        """Multiply term ``term``'s configured weight by ``factor`` from now on (1 restores it)."""
        if term not in self.bindings:
            raise KeyError(f'HOILossTable.set_scale: no configured term {term!r}; configured: {list(self.bindings)}.')
        self.scales[term] = float(factor)

    @staticmethod
    def _in_order(terms: Mapping[str, Optional[dict]]):
        """The configured (not None) terms: the default ones in evaluation order, then the others in config order."""
        names = [n for n in DEFAULT_BINDINGS if n in terms] + [n for n in terms if n not in DEFAULT_BINDINGS]
        return [(name, terms[name]) for name in names if terms[name] is not None]

    @staticmethod
    def _binding(name: str, given: Dict[str, Optional[str]]) -> LossBinding:
        if name in DEFAULT_BINDINGS:
            binding = DEFAULT_BINDINGS[name]._replace(**given)
        elif given.get('pred') is None:
            raise KeyError(f"HOILossTable: unknown loss term '{name}' and no tensors bound to it. Known terms: "
                           f'{list(DEFAULT_BINDINGS)}. To add a term, name its tensors in its config, e.g. '
                           f"{name}=dict(type='L1Loss', loss_weight=0.01, pred='joints_2d', target='gt_joints_2d'"
                           f"[, weight=...]), with keys of LOSS_TENSORS: {list(LOSS_TENSORS)}.")
        else:
            binding = LossBinding(**given)
        unknown = [key for key in binding.keys() if key not in LOSS_TENSORS]
        if unknown:
            raise KeyError(f"HOILossTable: term '{name}' binds unknown tensors {unknown}; known tensors (see "
                           f'hoirecon.models.losses.hoi_loss_table.LOSS_TENSORS): {list(LOSS_TENSORS)}.')
        return binding

    def __contains__(self, term: str) -> bool:
        return term in self.bindings

    @property
    def required_tensors(self) -> frozenset:
        """Keys of :data:`LOSS_TENSORS` that some configured term reads."""
        return frozenset(key for binding in self.bindings.values() for key in binding.keys())

    def needs(self, *keys: str) -> bool:
        """Whether some configured term reads any of ``keys`` (the model computes only those)."""
        return not self.required_tensors.isdisjoint(keys)

    def forward(self, tensors: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Evaluate the table.

        Args:
            tensors: named tensors, keys and shapes of :data:`LOSS_TENSORS`; a term with an absent tensor is skipped.

        Returns:
            ``{'loss_<term>': weighted scalar}``.
        """
        losses = {}
        for name, binding in self.bindings.items():
            if any(key not in tensors for key in binding.keys()):
                continue
            value = self.terms[name](*(None if key is None else tensors[key] for key in binding))
            scale = self.scales.get(name, 1.0)
            losses[f'loss_{name}'] = value if scale == 1.0 else value * scale
        return losses

    def extra_repr(self) -> str:
        return ', '.join(f'{name}: {tuple(binding.keys())}' for name, binding in self.bindings.items())
