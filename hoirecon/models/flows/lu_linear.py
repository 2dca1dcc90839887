"""Invertible linear map with an LU parametrisation (Glow's 1x1 convolution for vectors)."""
from typing import Optional, Tuple

import torch
from torch import nn


class LULinear(nn.Module):
    """``y = W x`` with ``W = P L (U + diag(s))``.

    ``P`` is a fixed permutation (buffer), ``L`` unit lower triangular, ``U``
    strictly upper triangular and ``s = sign_s * exp(log_abs_s)`` with a fixed
    sign (buffer), so ``log|det W| = sum(log|s|)`` costs O(D). Initialised as
    Glow does: a random orthogonal matrix (from the global torch RNG),
    LU-decomposed; the inverse uses two triangular solves.

    Args:
        features: D, number of features.
    """

    def __init__(self, features: int):
        super().__init__()
        orthogonal, _ = torch.linalg.qr(torch.randn(features, features, dtype=torch.float64))
        permutation, lower, upper = torch.linalg.lu(orthogonal)
        diag = torch.diagonal(upper)
        self.register_buffer('permutation', permutation.float())
        self.register_buffer('sign_s', torch.sign(diag).float())
        self.lower = nn.Parameter(torch.tril(lower, -1).float())
        self.upper = nn.Parameter(torch.triu(upper, 1).float())
        self.log_abs_s = nn.Parameter(torch.log(diag.abs()).float())

    def _factors(self) -> Tuple[torch.Tensor, torch.Tensor]:
        eye = torch.eye(self.lower.shape[0], dtype=self.lower.dtype, device=self.lower.device)
        lower = torch.tril(self.lower, -1) + eye
        upper = torch.triu(self.upper, 1) + torch.diag(self.sign_s * torch.exp(self.log_abs_s))
        return lower, upper

    def weight(self) -> torch.Tensor:
        """The (D, D) matrix ``W``."""
        lower, upper = self._factors()
        return self.permutation @ lower @ upper

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """x -> y = W x. Args: x (B, D); context unused. Returns: y (B, D), log|det W| (B,)."""
        y = x @ self.weight().T
        return y, self.log_abs_s.sum().expand(x.shape[0])

    def inverse(self, y: torch.Tensor, context: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """y -> x = U^-1 L^-1 P^T y. Args: y (B, D); context unused. Returns: x (B, D), -log|det W| (B,)."""
        lower, upper = self._factors()
        rhs = (y @ self.permutation).T
        x = torch.linalg.solve_triangular(lower, rhs, upper=False, unitriangular=True)
        x = torch.linalg.solve_triangular(upper, x, upper=True).T
        return x, (-self.log_abs_s.sum()).expand(y.shape[0])
