"""StackFLOW's relation encoder: offsets between human and object anchors, compressed by a per-object PCA."""
import os
import warnings
from typing import Optional, Tuple

import torch

from hoirecon.models.utils import rigid_fit
from hoirecon.registry import RELATION_ENCODERS
from .base import BaseRelationEncoder, check_batch
from .offset_space import pairwise_offsets
from .pca_file import load_offset_pca, offset_pca_metadata


def per_object_affine(vectors: torch.Tensor, labels: torch.Tensor, bases: torch.Tensor,
                      means: torch.Tensor) -> torch.Tensor:
    """``bases[labels[b]] @ (vectors[b] - means[labels[b]])`` for every row b, one matrix product per distinct label.

    Args:
        vectors: (B, n) rows.
        labels: (B,) long index of each row's basis.
        bases: (L, m, n) one matrix per label (any float dtype; used in ``vectors``' dtype).
        means: (L, n) one centre per label.

    Returns:
        (B, m) in ``vectors``' dtype; differentiable in ``vectors``.
    """
    dtype = vectors.dtype
    unique = torch.unique(labels)
    if unique.numel() == 1:
        label = unique[0]
        return (vectors - means[label].to(dtype)) @ bases[label].to(dtype).T
    rows, parts = [], []
    for label in unique:
        index = torch.nonzero(labels == label)[:, 0]
        rows.append(index)
        parts.append((vectors[index] - means[label].to(dtype)) @ bases[label].to(dtype).T)
    order = torch.cat(rows)
    out = torch.cat(parts)
    return out[torch.argsort(order)]


@RELATION_ENCODERS.register_module()
class OffsetPCA(BaseRelationEncoder):
    """Offset-PCA latent ("latent spatial relation space") of the object pose relative to the human.

    With human anchors ``h`` (A, 3) and the object's template anchors ``v`` (K, 3) placed at ``o = R_rel v + t_rel``,
    the latent is StackFLOW's ``gamma = C (x - mean)`` of the offsets ``x_ij = o_j - h_i``, computed exactly in
    anchor space as ``gamma = W (y - mean_y)`` with ``y = [h; o]`` (see :mod:`.offset_space`). Decoding gives anchors
    ``[h_hat; o_hat] = mean_y + B gamma`` (offsets ``o_hat_j - h_hat_i``) and the pose is the closed-form rigid fit
    of ``v_j`` onto ``h_i + x_hat_ij`` over all pairs, which equals the fit of ``v_j`` onto
    ``o_hat_j + mean_i(h_i - h_hat_i)`` (the cross terms sum to zero), so it costs K points instead of A*K.

    The PCA arrays become persistent float64 buffers (about 1.2 MB per object), so checkpoints carry them; the
    computation runs in the dtype of the inputs.

    Args:
        pca_file: ``.npz`` written by ``tools/fit_relation_pca.py`` (format in :mod:`.pca_file`).
        smpl_anchor_num: human anchors per body part; must match the file.
        object_anchor_num: object anchors K; must match the file.
        pca_dim: latent size; must match the file.
        missing_file: ``'error'`` (a missing ``pca_file`` raises FileNotFoundError) or ``'checkpoint'``: a missing
            file leaves empty buffers that ``load_state_dict`` sizes and fills from a checkpoint (its buffers hold
            the whole PCA), e.g. to run a shared checkpoint without its training data (``tools/demo.py`` does
            this); the encoder refuses work until then. Object names are then ``'label i'``.
    """

    has_offsets = True

    #: the PCA buffers (all persistent, so checkpoints carry them)
    BUFFERS = (('human_anchor_indices', torch.long), ('num_samples', torch.long),
               ('object_anchor_points', torch.float64), ('mean_y', torch.float64), ('decode_basis', torch.float64),
               ('encode_basis', torch.float64))

    def __init__(self,
                 pca_file: str,
                 smpl_anchor_num: int = 32,
                 object_anchor_num: int = 64,
                 pca_dim: int = 32,
                 missing_file: str = 'error') -> None:
        super().__init__()
        if missing_file not in ('error', 'checkpoint'):
            raise ValueError(f"OffsetPCA: missing_file must be 'error' or 'checkpoint', got {missing_file!r}")
        self.pca_file = os.fspath(pca_file)
        self.latent_dim = pca_dim
        self.awaiting_checkpoint = missing_file == 'checkpoint' and not os.path.isfile(self.pca_file)
        if self.awaiting_checkpoint:
            # the buffers come from the checkpoint (load_state_dict sizes them); until then the encoder refuses work
            self.metadata = dict(pca_dim=pca_dim, smpl_anchor_num=smpl_anchor_num,
                                 object_anchor_num=object_anchor_num, surrogate=None)
            self.object_names = ()
            self.num_human_anchors = 0
            for name, dtype in self.BUFFERS:
                self.register_buffer(name, torch.zeros(0, dtype=dtype), persistent=True)
            return
        arrays = load_offset_pca(self.pca_file)
        self.metadata = offset_pca_metadata(arrays)
        wanted_values = dict(pca_dim=pca_dim, smpl_anchor_num=smpl_anchor_num, object_anchor_num=object_anchor_num)
        for key, wanted in wanted_values.items():
            if self.metadata[key] != wanted:
                raise ValueError(f'OffsetPCA: {self.pca_file} was fitted with {key}={self.metadata[key]}, but '
                                 f'{key}={wanted} was asked for; set {key}={self.metadata[key]} in the config or '
                                 f'refit with tools/fit_relation_pca.py --{key.replace("_", "-")} {wanted}')
        self.object_names = tuple(str(name) for name in arrays['object_names'])
        self.num_human_anchors = len(arrays['human_anchor_indices'])
        for name, dtype in self.BUFFERS:
            self.register_buffer(name, torch.as_tensor(arrays[name], dtype=dtype), persistent=True)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        """With ``missing_file='checkpoint'``, take the PCA buffers' shapes (and so the PCA) from the checkpoint."""
        if self.awaiting_checkpoint and all(prefix + name in state_dict for name, _ in self.BUFFERS):
            for name, dtype in self.BUFFERS:
                self._buffers[name] = torch.empty(state_dict[prefix + name].shape, dtype=dtype,
                                                  device=self._buffers[name].device)
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                          error_msgs)
            self.awaiting_checkpoint = False
            self.num_human_anchors = len(self.human_anchor_indices)
            self.object_names = tuple(f'label {i}' for i in range(self.mean_y.shape[0]))
            if self.mean_y.shape[-1] != 3 * (self.num_human_anchors + self.metadata['object_anchor_num']) or \
                    self.decode_basis.shape[-1] != self.latent_dim:
                error_msgs.append(f'OffsetPCA: the checkpoint\'s PCA (mean_y {tuple(self.mean_y.shape)}, decode_basis '
                                  f'{tuple(self.decode_basis.shape)}) does not match object_anchor_num='
                                  f'{self.metadata["object_anchor_num"]}, pca_dim={self.latent_dim}')
            return
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def extra_repr(self) -> str:
        fitted = int((self.num_samples > 0).sum())
        if self.awaiting_checkpoint:
            return (f'pca_file={self.pca_file} (missing: the PCA comes from the checkpoint), '
                    f'latent_dim={self.latent_dim}')
        surrogate = ', SURROGATE body' if self.metadata['surrogate'] else ''
        return (f'pca_file={self.pca_file}, latent_dim={self.latent_dim}, anchors={self.num_human_anchors}x'
                f'{self.metadata["object_anchor_num"]}, {fitted}/{len(self.object_names)} objects fitted{surrogate}')

    # ------------------------------------------------------------------ checks and gathers
    def _check_labels(self, object_labels: torch.Tensor, batch: int, allow_unfitted: bool = False) -> None:
        if self.awaiting_checkpoint:
            raise RuntimeError(f'OffsetPCA: {self.pca_file} does not exist and no checkpoint with the PCA was loaded; '
                               'load the checkpoint first, or fit the file with tools/fit_relation_pca.py.')
        check_batch('OffsetPCA: object_labels', object_labels, (batch, ))
        if object_labels.is_floating_point() or object_labels.is_complex():
            raise ValueError(f'OffsetPCA: object_labels must be integers, got {object_labels.dtype}')
        num_objects = len(self.object_names)
        in_range = (object_labels >= 0) & (object_labels < num_objects)
        fitted = self.fitted(object_labels.clamp(0, num_objects - 1)) | allow_unfitted
        if not bool((in_range & fitted).all()):
            bad = sorted(set(object_labels[~(in_range & fitted)].tolist()))
            names = [self.object_names[i] if 0 <= i < num_objects else 'out of range' for i in bad]
            raise ValueError(f'OffsetPCA: object labels {bad} ({names}) have no PCA in {self.pca_file} (labels '
                             f'0..{num_objects - 1}; objects without training samples have none); refit with data '
                             'that contains them')

    def _check_anchors(self, human_anchors: torch.Tensor, batch: int) -> None:
        check_batch('OffsetPCA: human_anchors', human_anchors, (batch, self.num_human_anchors, 3))

    def _template_anchors(self, object_labels: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """(B, K, 3) template anchors v of each sample's object."""
        return self.object_anchor_points[object_labels].to(dtype)

    def _posed_object_anchors(self, rel_R: torch.Tensor, rel_t: torch.Tensor, object_labels: torch.Tensor,
                              human_anchors: torch.Tensor) -> torch.Tensor:
        """(B, K, 3) object anchors ``o = R_rel v + t_rel`` after checking all inputs."""
        check_batch('OffsetPCA: rel_R', rel_R, (None, 3, 3))
        batch = rel_R.shape[0]
        check_batch('OffsetPCA: rel_t', rel_t, (batch, 3))
        self._check_labels(object_labels, batch)
        self._check_anchors(human_anchors, batch)
        template = self._template_anchors(object_labels, rel_R.dtype)
        return template @ rel_R.transpose(-1, -2) + rel_t.unsqueeze(-2)

    def fitted(self, object_labels: torch.Tensor) -> torch.Tensor:
        """(B,) bool: whether each (in-range) label has a PCA (objects without training samples have none)."""
        return self.num_samples[object_labels] > 0

    def _decoded_anchors(self, latent: torch.Tensor, object_labels: torch.Tensor,
                         allow_unfitted: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        """``h_hat`` (B, A, 3) and ``o_hat`` (B, K, 3) reconstructed from (B, d) latents."""
        check_batch('OffsetPCA: latent', latent, (None, self.latent_dim))
        self._check_labels(object_labels, latent.shape[0], allow_unfitted)
        basis = self.decode_basis[object_labels].to(latent.dtype)
        anchors = self.mean_y[object_labels].to(latent.dtype) + (basis @ latent.unsqueeze(-1)).squeeze(-1)
        anchors = anchors.reshape(latent.shape[0], -1, 3)
        return anchors[:, :self.num_human_anchors], anchors[:, self.num_human_anchors:]

    # ------------------------------------------------------------------ interface
    def encode(self, rel_R: torch.Tensor, rel_t: torch.Tensor, object_labels: torch.Tensor,
               human_anchors: torch.Tensor) -> torch.Tensor:
        """(B, pca_dim) latent ``gamma = C (x - mean)`` of relative poses (see :class:`BaseRelationEncoder`).

        In training mode each row is multiplied by its own gathered basis (a (B, d, 3P) batch, the computation the
        measured runs were trained with); in eval mode (refiners, which encode the same few objects at every step)
        by one matrix product per distinct object, the same numbers up to float rounding at a fraction of the cost
        (128 frames of one object: ~145 -> ~30 ms forward + backward on 2 cores).
        """
        object_anchors = self._posed_object_anchors(rel_R, rel_t, object_labels, human_anchors)
        dtype = object_anchors.dtype
        anchors = torch.cat([human_anchors.to(dtype), object_anchors], dim=1).flatten(1)
        if self.training:
            centred = anchors - self.mean_y[object_labels].to(dtype)
            return (self.encode_basis[object_labels].to(dtype) @ centred.unsqueeze(-1)).squeeze(-1)
        return per_object_affine(anchors, object_labels, self.encode_basis, self.mean_y)

    def decode(self, latent: torch.Tensor, object_labels: torch.Tensor,
               human_anchors: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``rel_R`` (B, 3, 3), ``rel_t`` (B, 3): rigid fit of the template anchors onto ``h_i + x_hat_ij``.

        Objects without a PCA (no training sample) decode to NaN, with a warning, so that evaluation skips and
        counts those frames instead of stopping.
        """
        human_hat, object_hat = self._decoded_anchors(latent, object_labels, allow_unfitted=True)
        self._check_anchors(human_anchors, latent.shape[0])
        target = object_hat + (human_anchors.to(latent.dtype) - human_hat).mean(dim=1, keepdim=True)
        rel_R, rel_t = rigid_fit(target, self._template_anchors(object_labels, latent.dtype))
        fitted = self.fitted(object_labels)
        if not bool(fitted.all()):
            names = sorted({self.object_names[i] for i in object_labels[~fitted].tolist()})
            warnings.warn(f'OffsetPCA: no PCA for {names} in {self.pca_file} (no training samples); their '
                          'relative poses are NaN')
            rel_R = torch.where(fitted[:, None, None], rel_R, torch.full_like(rel_R, float('nan')))
            rel_t = torch.where(fitted[:, None], rel_t, torch.full_like(rel_t, float('nan')))
        return rel_R, rel_t

    def mean_latent(self, object_labels: torch.Tensor) -> torch.Tensor:
        """(B, pca_dim) zeros: the PCA is centred, so latent 0 decodes to each object's mean training offsets."""
        self._check_labels(object_labels, object_labels.shape[0], allow_unfitted=True)
        return self.decode_basis.new_zeros(object_labels.shape[0], self.latent_dim)

    def offsets(self,
                latent: torch.Tensor,
                object_labels: torch.Tensor,
                human_anchors: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, A, K, 3) decoded offsets ``x_hat = C^T gamma + mean``, metres; they depend on the latent alone
        (``human_anchors`` is accepted for the common interface and not used)."""
        human_hat, object_hat = self._decoded_anchors(latent, object_labels)
        return pairwise_offsets(human_hat, object_hat)

    def gt_offsets(self, rel_R: torch.Tensor, rel_t: torch.Tensor, object_labels: torch.Tensor,
                   human_anchors: torch.Tensor) -> torch.Tensor:
        """(B, A, K, 3) offsets ``o_j - h_i`` of relative poses, metres."""
        object_anchors = self._posed_object_anchors(rel_R, rel_t, object_labels, human_anchors)
        return pairwise_offsets(human_anchors.to(object_anchors.dtype), object_anchors)
