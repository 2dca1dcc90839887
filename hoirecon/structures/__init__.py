"""Typed containers passed between datasets, models and metrics, and the SMPL-family facts (pure numpy / Python,
nothing of hoirecon but :mod:`hoirecon.utils`): joint sets and landmark vertex ids (:mod:`.body_skeletons`), BODY_25
keypoints and their regressor file format (:mod:`.body25`)."""
from .hoi_data_sample import HOIDataSample, OptSampleList, SampleList

__all__ = ['HOIDataSample', 'SampleList', 'OptSampleList']
