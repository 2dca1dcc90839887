"""Optimizer wrappers registered in ``hoirecon.registry.OPTIM_WRAPPERS``."""
from .nonfinite_skip import (NONFINITE_COUNTER, NonFiniteSkipAmpOptimWrapper, NonFiniteSkipOptimWrapper,
                             grads_are_finite)

__all__ = ['NONFINITE_COUNTER', 'NonFiniteSkipAmpOptimWrapper', 'NonFiniteSkipOptimWrapper', 'grads_are_finite']
