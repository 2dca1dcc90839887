"""Typed containers passed between datasets, models and metrics."""
from .hoi_data_sample import HOIDataSample, OptSampleList, SampleList

__all__ = ['HOIDataSample', 'SampleList', 'OptSampleList']
