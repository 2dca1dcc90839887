"""The on-disk layouts the annotation cache reads, by name (``layout='behave'``, ``'behave_extended'``,
``'intercap'``).

A frame source (:class:`~hoirecon.datasets.annotations.BEHAVEFrameSource` and its 30 fps twin
:class:`~hoirecon.datasets.behave_extended_frames.BEHAVEExtendedFrameSource`, and
:class:`~hoirecon.datasets.intercap_frames.InterCapFrameSource`) lists a split's sequences, reads a
sequence's world-frame fits and calibration, and one image's files. The cache builder, the PCA fit
(:func:`hoirecon.apis.fit_relation_pca`) and ``tools/dataset_converters/behave.py`` take one by its name.
"""
from typing import Dict

from .annotations import BEHAVEFrameSource
from .behave_extended_frames import BEHAVEExtendedFrameSource
from .intercap_frames import InterCapFrameSource

#: layout name -> frame source class.
FRAME_SOURCES: Dict[str, type] = {source.name: source for source in (BEHAVEFrameSource, BEHAVEExtendedFrameSource,
                                                                     InterCapFrameSource)}


def frame_source(layout: str, data_root: str):
    """The frame source of ``layout`` for ``data_root``; a ValueError lists the known layouts."""
    if layout not in FRAME_SOURCES:
        raise ValueError(f'unknown dataset layout {layout!r}; known: {sorted(FRAME_SOURCES)}.')
    return FRAME_SOURCES[layout](data_root)
