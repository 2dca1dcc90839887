"""Evaluation: pure functions (``functional``) and registered mmengine metrics (``metrics``).

Importing this package registers the metrics in ``hoirecon.registry.METRICS``
(the registry's ``locations`` point here). See ``docs/evaluation.md``.
"""
from . import functional  # noqa: F401
from .metrics import HOIChamferMetric, HOISequenceChamferMetric

__all__ = ['HOIChamferMetric', 'HOISequenceChamferMetric']
