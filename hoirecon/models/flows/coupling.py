"""Additive coupling layer and its conditional residual-MLP shift network.

The context enters the shift network only through affine maps: the context part of the input layer and, in the
``block_context`` variant, one projection per block (StackFLOW's flows use the input layer only).
:meth:`ResidualMLP.project_context` evaluates them once, and every ``forward`` accepts those projections instead of
the context: a test-time optimiser that keeps the image fixed (the refiner) then skips the widest matrix products of
every step.
"""
import math
from typing import List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

#: The context of a shift network: the (B, C) vectors, or their projections from ``project_context``.
Context = Union[torch.Tensor, List[torch.Tensor]]


class ResidualBlock(nn.Module):
    """``h + Linear(Dropout(ReLU(BN(Linear(ReLU(BN(h))) [+ Linear(context)]))))``.

    The last linear layer starts near zero (U(+-1e-3)), so the block starts near identity.

    Args:
        hidden_features: H, width of ``h``.
        context_features: C, width of the context added after the first linear layer, or None for a block that
            does not see the context (StackFLOW's flows).
        dropout: dropout probability.
        batch_norm: use BatchNorm1d before each activation.
        batch_norm_eps: the BatchNorm1d epsilon (StackFLOW: torch's 1e-5).
    """

    def __init__(self, hidden_features: int, context_features: Optional[int], dropout: float, batch_norm: bool,
                 batch_norm_eps: float = 1e-5):
        super().__init__()
        self.norm1 = nn.BatchNorm1d(hidden_features, eps=batch_norm_eps) if batch_norm else nn.Identity()
        self.linear1 = nn.Linear(hidden_features, hidden_features)
        self.context_proj = None if context_features is None else nn.Linear(context_features, hidden_features)
        self.norm2 = nn.BatchNorm1d(hidden_features, eps=batch_norm_eps) if batch_norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(hidden_features, hidden_features)
        nn.init.uniform_(self.linear2.weight, -1e-3, 1e-3)
        nn.init.uniform_(self.linear2.bias, -1e-3, 1e-3)

    def forward(self, h: torch.Tensor, context: Optional[torch.Tensor] = None, projected: bool = False) -> torch.Tensor:
        """Args: h (B, H); context (B, C), or (B, H) = ``context_proj(context)`` with ``projected`` (ignored by a
        block without context). Returns: (B, H)."""
        t = self.linear1(torch.relu(self.norm1(h)))
        if self.context_proj is not None:
            t = t + (context if projected else self.context_proj(context))
        t = self.linear2(self.dropout(torch.relu(self.norm2(t))))
        return h + t


class ResidualMLP(nn.Module):
    """Conditional residual MLP: ``Linear([x, context]) -> blocks -> Linear``.

    The context is concatenated to the input; with ``block_context`` it is also added inside every block.

    Args:
        in_features: width of the input ``x``.
        out_features: width of the output.
        context_features: C, width of the context.
        hidden_features: H, hidden width.
        num_blocks: number of :class:`ResidualBlock`.
        dropout: dropout probability inside the blocks.
        batch_norm: use batch norm inside the blocks.
        block_context: also add a projection of the context inside every block (hoirecon's earlier variant;
            StackFLOW's flows: False).
        batch_norm_eps: the blocks' BatchNorm1d epsilon.
        output_init: ``'uniform'`` (StackFLOW: weight and bias U(+-0.01 / sqrt(H)), a new coupling is close to the
            identity) or ``'zeros'`` (exactly the identity).
    """

    def __init__(self, in_features: int, out_features: int, context_features: int, hidden_features: int,
                 num_blocks: int, dropout: float, batch_norm: bool, block_context: bool = False,
                 batch_norm_eps: float = 1e-5, output_init: str = 'uniform'):
        super().__init__()
        if output_init not in ('uniform', 'zeros'):
            raise ValueError(f"ResidualMLP: output_init must be 'uniform' or 'zeros', got {output_init!r}.")
        self.in_features = in_features
        self.input_layer = nn.Linear(in_features + context_features, hidden_features)
        self.blocks = nn.ModuleList(
            ResidualBlock(hidden_features, context_features if block_context else None, dropout, batch_norm,
                          batch_norm_eps) for _ in range(num_blocks))
        self.output_layer = nn.Linear(hidden_features, out_features)
        if output_init == 'zeros':
            nn.init.zeros_(self.output_layer.weight)
            nn.init.zeros_(self.output_layer.bias)
        else:
            bound = 0.01 / math.sqrt(hidden_features)
            nn.init.uniform_(self.output_layer.weight, -bound, bound)
            nn.init.uniform_(self.output_layer.bias, -bound, bound)

    def forward(self, x: torch.Tensor, context: Context) -> torch.Tensor:
        """Args: x (B, in_features), context (B, C) or its :meth:`project_context`. Returns: (B, out_features)."""
        if isinstance(context, torch.Tensor):
            h = self.input_layer(torch.cat((x, context), dim=-1))
            for block in self.blocks:
                h = block(h, context)
        else:
            h = F.linear(x, self.input_layer.weight[:, :self.in_features]) + context[0]
            projections = context[1:] if len(context) > 1 else [None] * len(self.blocks)
            for block, projection in zip(self.blocks, projections):
                h = block(h, projection, projected=True)
        return self.output_layer(h)

    def context_maps(self) -> List[Tuple[torch.Tensor, torch.Tensor]]:
        """The affine maps ``(A (H, C), a (H,))`` through which the context enters: the input layer's context
        columns with its bias, then each block's ``context_proj`` (none without ``block_context``)."""
        maps = [(self.input_layer.weight[:, self.in_features:], self.input_layer.bias)]
        return maps + [(block.context_proj.weight, block.context_proj.bias) for block in self.blocks
                       if block.context_proj is not None]

    def project_context(self, context: torch.Tensor) -> List[torch.Tensor]:
        """``[A c + a]`` for every map of :meth:`context_maps`: (B, H) tensors that ``forward`` accepts as context."""
        return [F.linear(context, weight, bias) for weight, bias in self.context_maps()]


class AdditiveCoupling(nn.Module):
    """``y_a = x_a``, ``y_b = x_b + shift(x_a, context)``; volume preserving (log|det| = 0).

    With ``parity=0`` the features ``x[..., 0::2]`` (the ``mask[::2]`` side) are
    the unchanged conditioning half ``x_a`` and ``x[..., 1::2]`` are shifted;
    ``parity=1`` swaps the halves. :class:`ConditionalGlow` alternates parities.

    Args:
        features: D >= 2.
        context_features: C.
        parity: 0 or 1, which half is left unchanged.
        hidden_features, num_blocks, dropout, batch_norm, shift_net_options: of the :class:`ResidualMLP` shift
            net (``block_context``, ``batch_norm_eps``, ``output_init``).
    """

    def __init__(self, features: int, context_features: int, parity: int, hidden_features: int, num_blocks: int,
                 dropout: float, batch_norm: bool, **shift_net_options):
        super().__init__()
        if features < 2:
            raise ValueError(f'AdditiveCoupling needs features >= 2 to split them in two halves, got {features}.')
        if parity not in (0, 1):
            raise ValueError(f'AdditiveCoupling: parity must be 0 or 1, got {parity!r}.')
        index = torch.arange(features)
        self.register_buffer('identity_index', index[parity::2], persistent=False)
        self.register_buffer('transform_index', index[1 - parity::2], persistent=False)
        self.shift_net = ResidualMLP(len(self.identity_index), len(self.transform_index), context_features,
                                     hidden_features, num_blocks, dropout, batch_norm, **shift_net_options)

    def _shift(self, x: torch.Tensor, context: Context) -> torch.Tensor:
        return self.shift_net(x.index_select(-1, self.identity_index), context)

    def forward(self, x: torch.Tensor, context: Context) -> Tuple[torch.Tensor, torch.Tensor]:
        """x -> y. Args: x (B, D), context (B, C) or its projections. Returns: y (B, D), zeros (B,)."""
        y = x.index_add(-1, self.transform_index, self._shift(x, context))
        return y, x.new_zeros(x.shape[0])

    def inverse(self, y: torch.Tensor, context: Context) -> Tuple[torch.Tensor, torch.Tensor]:
        """y -> x (the unchanged half gives the same shift). Returns: x (B, D), zeros (B,)."""
        x = y.index_add(-1, self.transform_index, -self._shift(y, context))
        return x, y.new_zeros(y.shape[0])
