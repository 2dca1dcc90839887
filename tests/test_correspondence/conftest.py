"""Fixtures of the correspondence tests: the annotation cache of the tiny synthetic world (``behave_synthetic_root``
of tests/conftest.py: 2 sequences x 2 frames x 4 kinects at 128 x 96) and a tiny correspondence model config."""
import os.path as osp

import pytest


@pytest.fixture(scope='session')
def tiny_annotation_dir(behave_synthetic_root):
    """``<root>/annotations`` with the train and test annotation caches."""
    from hoirecon.datasets.annotations import annotation_files, build_annotations
    directory = osp.join(behave_synthetic_root, 'annotations')
    for split in ('train', 'test'):
        if not osp.isfile(annotation_files(directory, split)[0]):
            build_annotations(behave_synthetic_root, split, progress=False)
    return directory


@pytest.fixture(scope='session')
def tiny_model_cfg(behave_synthetic_root):
    """A ResNet-18 correspondence model small enough for unit tests (64 px crops, 16 x 16 maps)."""
    template_dir, out_size = osp.join(behave_synthetic_root, 'objects'), 16
    return dict(type='ObjectCorrespondenceNet',
                data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                                       std=[58.395, 57.12, 57.375]),
                backbone=dict(type='ResNet', depth=18, init_cfg=None),
                head=dict(type='DenseCorrespondenceHead', channels=(16, 16, 8), out_size=out_size),
                object_library=dict(dataset='behave', template_dir=template_dir),
                pnp_cfg=dict(reprojection_error=3.0))
