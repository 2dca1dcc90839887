"""Fixtures of the CHORE-style field tests: the annotation cache of the tiny synthetic world (``behave_synthetic_root``
of tests/conftest.py: 2 sequences x 2 frames x 4 kinects at 128 x 96) and a tiny pipeline / model."""
import os.path as osp

import pytest

SURROGATE_SMPLH = dict(type='SMPLH', model_path='surrogate', gender='male')


@pytest.fixture(scope='session')
def chore_annotation_dir(behave_synthetic_root):
    """``<root>/annotations`` with the train annotation cache."""
    from hoirecon.datasets.annotations import annotation_files, build_annotations
    directory = osp.join(behave_synthetic_root, 'annotations')
    if not osp.isfile(annotation_files(directory, 'train')[0]):
        build_annotations(behave_synthetic_root, 'train', progress=False)
    return directory


def chore_pipeline(root, img_size=64, num_points=256, seed=None, augment=False):
    return [dict(type='LoadHOIImage', with_masks=True),
            dict(type='HOICrop', img_size=img_size, augment=augment, rot_prob=0.0),
            dict(type='CHOREQueryTargets', body_model=SURROGATE_SMPLH,
                 object_library=dict(dataset='behave', template_dir=osp.join(root, 'objects')),
                 num_points=num_points, seed=seed, exact_below=0.1),  # the configs' settings
            dict(type='PackCHOREInputs')]


@pytest.fixture(scope='session')
def chore_dataset(behave_synthetic_root, chore_annotation_dir):
    from mmengine.registry import init_default_scope

    import hoirecon.datasets  # noqa: F401
    from hoirecon.registry import DATASETS
    init_default_scope('hoirecon')
    return DATASETS.build(dict(type='CHOREFrameDataset', data_root=behave_synthetic_root, split='train',
                               body_model=SURROGATE_SMPLH, pipeline=chore_pipeline(behave_synthetic_root, seed=0)))


@pytest.fixture(scope='session')
def tiny_chore_model_cfg():
    """A CHOREFieldNet small enough for unit tests (ResNet-18 stem + 1 stage, one 32-unit hidden layer)."""
    return dict(type='CHOREFieldNet', data_preprocessor=dict(type='BaseDataPreprocessor'),
                encoder=dict(depth=18, num_stages=1), hidden=(32, ), depth_ref=2.6)
