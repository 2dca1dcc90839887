"""Activation normalisation with data-dependent initialisation (Glow)."""
from typing import Optional, Tuple

import torch
from torch import nn


class ActNorm(nn.Module):
    """Per-feature affine map ``y = exp(log_scale) * x + shift``.

    On the first call in training mode (x -> z direction) the scale and shift are
    set from the batch so that the outputs have zero mean and unit standard
    deviation per feature. The ``initialized`` buffer records this, so it is saved
    with checkpoints and a loaded model is not re-initialised.

    Args:
        features: D, number of features.
        init_std: how the first batch's spread is measured. ``'unbiased_floor'`` (StackFLOW's flows, nflows'
            ActNorm): the unbiased standard deviation, floored at 1e-3. ``'biased'``: the biased one, and a feature
            that is constant over the batch (std <= 1e-6) keeps scale 1.
    """

    INIT_STD = ('unbiased_floor', 'biased')

    def __init__(self, features: int, init_std: str = 'unbiased_floor'):
        super().__init__()
        if init_std not in self.INIT_STD:
            raise ValueError(f'ActNorm: init_std must be one of {self.INIT_STD}, got {init_std!r}.')
        self.init_std = init_std
        self.log_scale = nn.Parameter(torch.zeros(features))
        self.shift = nn.Parameter(torch.zeros(features))
        self.register_buffer('initialized', torch.tensor(False))

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        """Set scale and shift so that ``forward(x)`` is standardised per feature.

        Args:
            x: (B, D) batch, B >= 2.
        """
        if x.shape[0] < 2:
            raise ValueError(f'ActNorm: data-dependent initialisation needs a batch of at least 2 samples, got '
                             f'{x.shape[0]}; train with a larger batch or load a checkpoint first.')
        mean = x.mean(dim=0)
        if self.init_std == 'unbiased_floor':
            std = x.std(dim=0, unbiased=True).clamp(min=1e-3)
        else:
            std = x.std(dim=0, unbiased=False)
            std = torch.where(std > 1e-6, std, torch.ones_like(std))
        self.log_scale.copy_(-torch.log(std))
        self.shift.copy_(-mean / std)
        self.initialized.fill_(True)

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """x -> y. Args: x (B, D); context unused. Returns: y (B, D), log|det dy/dx| (B,)."""
        if self.training and not self.initialized:
            self.initialize(x)
        y = x * torch.exp(self.log_scale) + self.shift
        return y, self.log_scale.sum().expand(x.shape[0])

    def inverse(self, y: torch.Tensor, context: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """y -> x. Args: y (B, D); context unused. Returns: x (B, D), log|det dx/dy| (B,)."""
        x = (y - self.shift) * torch.exp(-self.log_scale)
        return x, (-self.log_scale.sum()).expand(y.shape[0])
