"""Fixtures of the dataset tests: one tiny synthetic BEHAVE world and its annotation cache per test session."""
import os.path as osp

import pytest

#: Seed 6 plans a female training sequence and a male test sequence (the male-betas fit needs a female subject).
TINY_SYNTHETIC_BEHAVE = dict(num_sequences=2, frames_per_sequence=2, seed=6, image_size=(128, 96))


@pytest.fixture(scope='session')
def behave_synthetic_root(tmp_path_factory):
    """Root of a 2-sequence x 2-frame x 4-kinect synthetic BEHAVE dataset at 128x96 pixels."""
    from hoirecon.synthetic.generate import generate_synthetic_behave
    root = str(tmp_path_factory.mktemp('behave_synthetic') / 'behave')
    generate_synthetic_behave(root, workers=0, progress=False, **TINY_SYNTHETIC_BEHAVE)
    return root


@pytest.fixture(scope='session')
def behave_annotation_dir(behave_synthetic_root):
    """``<root>/annotations`` with the train and test caches built by :func:`build_annotations`."""
    from hoirecon.datasets.annotations import build_annotations
    for split in ('train', 'test'):
        build_annotations(behave_synthetic_root, split, progress=False)
    return osp.join(behave_synthetic_root, 'annotations')
