"""Conditional Glow: a normalising flow p(x | context) with a standard-normal base."""
import math
from typing import List, Optional, Tuple

import torch
from torch import nn

from hoirecon.registry import MODELS
from .actnorm import ActNorm
from .coupling import AdditiveCoupling
from .lu_linear import LULinear, TriangularLULinear

#: Per flow layer: None (layers that ignore the context) or the coupling's projected context tensors.
ProjectedContext = List[Optional[List[torch.Tensor]]]

#: The layer choices of each ``variant`` of :class:`ConditionalGlow` (docs/fidelity.md, row 6).
FLOW_VARIANTS = {
    # StackFLOW's flows (ProHMR's fork of nflows): the context enters the shift nets' input layer only; BatchNorm eps
    # 1e-5; LU linear with a bias, identity start and softplus(u) + 1e-3 diagonal; ActNorm started with the unbiased
    # std floored at 1e-3; shift-net output layer U(+-0.01 / sqrt(H)).
    'stackflow': dict(actnorm=dict(init_std='unbiased_floor'), linear=TriangularLULinear,
                      shift_net=dict(block_context=False, batch_norm_eps=1e-5, output_init='uniform')),
    # hoirecon's first flow: the context also added inside every residual block (+ C x H parameters per block),
    # BatchNorm eps 1e-3, Glow's permuted LU without bias from a random orthogonal matrix, zero output layer.
    'block_context': dict(actnorm=dict(init_std='biased'), linear=LULinear,
                          shift_net=dict(block_context=True, batch_norm_eps=1e-3, output_init='zeros')),
}


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last dim. Args: z (..., D). Returns: (...)."""
    return -0.5 * (z**2).sum(dim=-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)


@MODELS.register_module()
class ConditionalGlow(nn.Module):
    """Conditional Glow flow (StackFLOW's pose and relation flows).

    The map ``f: x -> z`` is ``num_layers`` times ActNorm -> LU linear ->
    :class:`AdditiveCoupling` (parities alternating 0, 1, 0, ...), whose shift nets
    see the context. ``variant`` picks the layers (:data:`FLOW_VARIANTS`): ``'stackflow'`` is the paper's flow,
    ``'block_context'`` hoirecon's first one (kept for its checkpoints and the synthetic default it was measured
    with). With a standard-normal base,
    ``log p(x | c) = log N(f(x); 0, I) + log|det df/dx|``; sampling runs the
    layers backwards from ``z ~ N(0, I)``. Only ActNorm and LULinear change
    volume, so the log-determinant does not depend on the context.

    In training mode the map depends on the batch (batch norm statistics) and on
    dropout, and the first training call of :meth:`log_prob` initialises ActNorm
    from the data; in eval mode the map is deterministic and exactly invertible.

    Args:
        features: D, dimension of x (>= 2).
        context_features: C, dimension of the conditioning vector.
        num_layers: number of ActNorm/LULinear/coupling triples.
        hidden_features: width of the coupling shift nets.
        num_blocks_per_layer: residual blocks per shift net.
        dropout: dropout probability in the shift nets.
        batch_norm: batch norm in the shift nets.
        variant: ``'stackflow'`` or ``'block_context'`` (:data:`FLOW_VARIANTS`).
    """

    def __init__(self,
                 features: int,
                 context_features: int,
                 num_layers: int = 4,
                 hidden_features: int = 1024,
                 num_blocks_per_layer: int = 2,
                 dropout: float = 0.5,
                 batch_norm: bool = True,
                 variant: str = 'stackflow'):
        super().__init__()
        if variant not in FLOW_VARIANTS:
            raise ValueError(f'ConditionalGlow: variant must be one of {sorted(FLOW_VARIANTS)}, got {variant!r}.')
        if features < 2:
            raise ValueError(f'ConditionalGlow: features must be >= 2 (coupling splits them), got {features}.')
        if context_features < 1 or num_layers < 1:
            raise ValueError(f'ConditionalGlow: context_features ({context_features}) and num_layers ({num_layers}) '
                             'must be >= 1.')
        self.features = features
        self.context_features = context_features
        self.variant = variant
        choice = FLOW_VARIANTS[variant]
        layers = []
        for i in range(num_layers):
            layers += [
                ActNorm(features, **choice['actnorm']),
                choice['linear'](features),
                AdditiveCoupling(features, context_features, i % 2, hidden_features, num_blocks_per_layer, dropout,
                                 batch_norm, **choice['shift_net']),
            ]
        self.layers = nn.ModuleList(layers)

    def _check_context(self, context: torch.Tensor) -> None:
        if context.dim() != 2 or context.shape[1] != self.context_features:
            raise ValueError(f'ConditionalGlow: context must have shape (B, {self.context_features}), '
                             f'got {tuple(context.shape)}.')

    def transform(self, x: torch.Tensor, context: torch.Tensor,
                  projected: Optional[ProjectedContext] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Data to latent. Args: x (B, D), context (B, C) (unused with ``projected``, the output of
        :meth:`project_context`). Returns: z (B, D), log|det dz/dx| (B,)."""
        logabsdet = x.new_zeros(x.shape[0])
        for index, layer in enumerate(self.layers):
            x, step = layer(x, context if projected is None else projected[index])
            logabsdet = logabsdet + step
        return x, logabsdet

    def _couplings(self):
        return [(i, layer) for i, layer in enumerate(self.layers) if isinstance(layer, AdditiveCoupling)]

    def project_context(self, context: torch.Tensor) -> ProjectedContext:
        """The context's images under every coupling layer's affine context maps, computed once.

        ``transform(x, None, projected=flow.project_context(c))`` equals ``transform(x, c)`` up to float rounding
        and skips the (B, C) x (C, H) products; use it when many ``x`` are scored against one context (the
        refiner's posterior terms).

        Args:
            context: (B, C).

        Returns:
            per layer, None (context-free layers) or a list of (B, H) tensors.
        """
        self._check_context(context)
        projected: ProjectedContext = [None] * len(self.layers)
        for index, layer in self._couplings():
            projected[index] = layer.shift_net.project_context(context)
        return projected

    def project_context_direction(self, weight: torch.Tensor) -> ProjectedContext:
        """The linear part of the context maps applied to a context direction: ``A_i @ weight`` per map.

        With a context ``c = c0 + W p`` that moves with ``p`` (the relation flow's context moves with the pose),
        ``project_context(c)`` is ``project_context(c0)`` plus ``p @ (A_i W)^T`` per map: the refiner precomputes
        both and pays a (B, P) x (P, H) product per map instead of (B, C) x (C, H).

        Args:
            weight: (C, P).

        Returns:
            per layer, None or a list of (H, P) tensors.
        """
        if weight.dim() != 2 or weight.shape[0] != self.context_features:
            raise ValueError(f'ConditionalGlow.project_context_direction: weight must be (C={self.context_features}, '
                             f'P), got {tuple(weight.shape)}.')
        projected: ProjectedContext = [None] * len(self.layers)
        for index, layer in self._couplings():
            projected[index] = [matrix @ weight for matrix, _ in layer.shift_net.context_maps()]
        return projected

    def inverse(self, z: torch.Tensor, context: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Latent to data. Args: z (B, D), context (B, C). Returns: x (B, D), log|det dx/dz| (B,)."""
        logabsdet = z.new_zeros(z.shape[0])
        for layer in reversed(self.layers):
            z, step = layer.inverse(z, context)
            logabsdet = logabsdet + step
        return z, logabsdet

    def log_prob(self, x: torch.Tensor, context: Optional[torch.Tensor],
                 projected: Optional[ProjectedContext] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Log density of x given the context, and its latent.

        Args:
            x: (B, D) points.
            context: (B, C) conditioning vectors; may be None when ``projected`` is given.
            projected: the context's :meth:`project_context` (then ``context`` is not used).

        Returns:
            ``log_prob`` (B,) in nats and ``z`` (B, D).
        """
        if projected is None:
            self._check_context(context)
            batch = context.shape[0]
        else:
            batch = next(p[0].shape[0] for p in projected if p is not None)
        if x.dim() != 2 or x.shape != (batch, self.features):
            raise ValueError(f'ConditionalGlow.log_prob: x must have shape (B, {self.features}) with B = '
                             f'{batch} (the context batch), got {tuple(x.shape)}.')
        z, logabsdet = self.transform(x, context, projected)
        return standard_normal_log_prob(z) + logabsdet, z

    def sample(self,
               context: torch.Tensor,
               num_samples: Optional[int] = None,
               z: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Draw (or map given) latents to samples, with their log density.

        Args:
            context: (B, C) conditioning vectors.
            num_samples: k samples per context; defaults to ``z.shape[1]`` if ``z``
                is given, else 1.
            z: optional (B, k, D) latents; drawn from N(0, I) on the context's
                device and dtype when None.

        Returns:
            ``x`` (B, k, D) and ``log_prob`` (B, k) = log p(x | context), nats.
        """
        self._check_context(context)
        batch = context.shape[0]
        if z is None:
            k = 1 if num_samples is None else num_samples
            z = torch.randn(batch, k, self.features, dtype=context.dtype, device=context.device)
        else:
            k = z.shape[1] if num_samples is None and z.dim() == 3 else num_samples
            if z.shape != (batch, k, self.features):
                raise ValueError(f'ConditionalGlow.sample: z must have shape (B={batch}, num_samples={k}, '
                                 f'D={self.features}), got {tuple(z.shape)}.')
        if k < 1:
            raise ValueError(f'ConditionalGlow.sample: num_samples must be >= 1, got {k}.')
        flat_context = context.unsqueeze(1).expand(batch, k, self.context_features).reshape(batch * k, -1)
        x, logabsdet = self.inverse(z.reshape(batch * k, self.features), flat_context)
        # p(x) = N(z) |det dz/dx| = N(z) / |det dx/dz|
        log_prob = standard_normal_log_prob(z) - logabsdet.view(batch, k)
        return x.view(batch, k, self.features), log_prob

    def mode(self, context: torch.Tensor) -> torch.Tensor:
        """Point estimate: the sample at z = 0. Args: context (B, C). Returns: (B, D)."""
        z = context.new_zeros(context.shape[0], 1, self.features)
        return self.sample(context, z=z)[0][:, 0]
