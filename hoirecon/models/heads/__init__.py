"""Prediction heads (registered in :data:`hoirecon.registry.HEADS`)."""
from .base_head import BaseHOIHead, LogProbFn
from .camera_shape_head import CameraShapeHead
from .flow_heads import DEFAULT_FLOW_CFG, IndependentFlowHead, StackedFlowHead, TwoFlowHead
from .regression_head import RegressionHead
from .relation_context import RelationContext

__all__ = [
    'BaseHOIHead', 'CameraShapeHead', 'DEFAULT_FLOW_CFG', 'IndependentFlowHead', 'LogProbFn', 'RegressionHead',
    'RelationContext', 'StackedFlowHead', 'TwoFlowHead'
]
