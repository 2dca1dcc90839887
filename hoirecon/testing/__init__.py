"""Registered toy components for engine and tool tests (imported on demand only)."""
from .step_recorder import ToyStepRecorderHook
from .toy_task import ToyDataset, ToyMetric, ToyRegressor

__all__ = ['ToyDataset', 'ToyMetric', 'ToyRegressor', 'ToyStepRecorderHook']
