"""Conditional normalising flows (StackFLOW's head core)."""
from .actnorm import ActNorm
from .coupling import AdditiveCoupling, ResidualBlock, ResidualMLP
from .glow import ConditionalGlow, standard_normal_log_prob
from .lu_linear import LULinear

__all__ = [
    'ActNorm', 'AdditiveCoupling', 'ConditionalGlow', 'LULinear', 'ResidualBlock', 'ResidualMLP',
    'standard_normal_log_prob'
]
