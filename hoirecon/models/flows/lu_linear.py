"""Invertible linear maps with an LU parametrisation (Glow's 1x1 convolution for vectors).

:class:`LULinear` is Glow's (a permutation and a random orthogonal start); :class:`TriangularLULinear` is the one of
StackFLOW's flows (nflows': no permutation, a bias, identity start, softplus diagonal).
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
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


class TriangularLULinear(nn.Module):
    """``y = L U x + b`` (StackFLOW's flows: nflows' ``LULinear`` with identity initialisation).

    ``L`` is unit lower triangular, ``U`` upper triangular with the positive diagonal ``softplus(u) + eps``; the
    strict triangles are stored row by row (``numpy.tril_indices`` / ``triu_indices`` order) in the vectors
    ``lower_entries`` and ``upper_entries`` of length D (D - 1) / 2. There is no permutation. At initialisation
    ``L = U = I`` and ``b = 0``, so a new layer is the identity. ``log|det| = sum(log(softplus(u) + eps))``.

    Args:
        features: D, number of features.
        eps: floor of the diagonal of ``U`` (nflows: 1e-3).
    """

    def __init__(self, features: int, eps: float = 1e-3):
        super().__init__()
        self.features, self.eps = features, eps
        num = features * (features - 1) // 2
        self.lower_entries = nn.Parameter(torch.zeros(num))
        self.upper_entries = nn.Parameter(torch.zeros(num))
        # softplus(u) + eps = 1 at initialisation
        self.unconstrained_upper_diag = nn.Parameter(torch.full((features,), math.log(math.expm1(1.0 - eps))))
        self.bias = nn.Parameter(torch.zeros(features))
        rows, cols = torch.tril_indices(features, features, -1)
        self.register_buffer('lower_index', rows * features + cols, persistent=False)
        rows, cols = torch.triu_indices(features, features, 1)
        self.register_buffer('upper_index', rows * features + cols, persistent=False)

    def upper_diag(self) -> torch.Tensor:
        """(D,) the diagonal of ``U``, ``softplus(u) + eps`` > 0."""
        return F.softplus(self.unconstrained_upper_diag) + self.eps

    def _factors(self) -> Tuple[torch.Tensor, torch.Tensor]:
        d = self.features
        eye = torch.eye(d, dtype=self.lower_entries.dtype, device=self.lower_entries.device)
        lower = eye.reshape(-1).index_put((self.lower_index, ), self.lower_entries).reshape(d, d)
        upper = torch.diag(self.upper_diag()).reshape(-1)
        upper = upper.index_put((self.upper_index, ), self.upper_entries).reshape(d, d)
        return lower, upper

    def weight(self) -> torch.Tensor:
        """The (D, D) matrix ``W = L U``."""
        lower, upper = self._factors()
        return lower @ upper

    def logabsdet(self) -> torch.Tensor:
        """Scalar ``log|det W|``."""
        return torch.log(self.upper_diag()).sum()

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """x -> y = W x + b. Args: x (B, D); context unused. Returns: y (B, D), log|det W| (B,)."""
        return x @ self.weight().T + self.bias, self.logabsdet().expand(x.shape[0])

    def inverse(self, y: torch.Tensor, context: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """y -> x = U^-1 L^-1 (y - b). Args: y (B, D); context unused. Returns: x (B, D), -log|det W| (B,)."""
        lower, upper = self._factors()
        rhs = (y - self.bias).T
        x = torch.linalg.solve_triangular(lower, rhs, upper=False, unitriangular=True)
        x = torch.linalg.solve_triangular(upper, x, upper=True).T
        return x, (-self.logabsdet()).expand(y.shape[0])
