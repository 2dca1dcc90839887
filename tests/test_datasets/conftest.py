"""Fixtures of the dataset tests: the annotation cache of the tiny synthetic world (``behave_synthetic_root``, in
tests/conftest.py)."""
import os.path as osp

import pytest


@pytest.fixture(scope='session')
def behave_annotation_dir(behave_synthetic_root):
    """``<root>/annotations`` with the train and test caches built by :func:`build_annotations`."""
    from hoirecon.datasets.annotations import build_annotations
    for split in ('train', 'test'):
        build_annotations(behave_synthetic_root, split, progress=False)
    return osp.join(behave_synthetic_root, 'annotations')
