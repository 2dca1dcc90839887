"""Conditional normalising flows (StackFLOW's head core)."""
from .actnorm import ActNorm
from .coupling import AdditiveCoupling, ResidualBlock, ResidualMLP
from .glow import FLOW_VARIANTS, ConditionalGlow, standard_normal_log_prob
from .lu_linear import LULinear, TriangularLULinear

__all__ = [
    'ActNorm', 'AdditiveCoupling', 'ConditionalGlow', 'FLOW_VARIANTS', 'LULinear', 'ResidualBlock', 'ResidualMLP',
    'TriangularLULinear', 'standard_normal_log_prob'
]
