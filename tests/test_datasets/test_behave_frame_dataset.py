"""BEHAVEFrameDataset: building from a config, the cache, filters, and the errors of missing data (it never
generates any: tests/test_apis/test_prepare.py)."""
import json
import os
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

from hoirecon.datasets import transforms  # noqa: F401  (registers the transforms)
from hoirecon.datasets.annotations import build_annotations, load_annotations
from hoirecon.datasets.behave_frames import SYNTHETIC_MANIFEST, BEHAVEFrameDataset, synthetic_state
from hoirecon.objects import BEHAVE_OBJECTS
from hoirecon.registry import DATASETS
from hoirecon.structures import HOIDataSample

PIPELINE = [dict(type='LoadHOIImage', with_masks=True), dict(type='HOICrop', img_size=64, augment=True),
            dict(type='ColorGain'), dict(type='PackHOIInputs')]


def test_builds_from_config_and_returns_packed_items(behave_synthetic_root, behave_annotation_dir):
    cfg = dict(type='BEHAVEFrameDataset', data_root=behave_synthetic_root, split='train', pipeline=PIPELINE)
    with DefaultScope.overwrite_default_scope('hoirecon'):
        dataset = DATASETS.build(cfg)
    arrays, _ = load_annotations(behave_annotation_dir, 'train')
    assert isinstance(dataset, BEHAVEFrameDataset) and len(dataset) == len(arrays['img_id'])
    assert dataset.metainfo['classes'] == BEHAVE_OBJECTS and dataset.metainfo['dataset_name'] == 'behave'
    assert dataset.metainfo['surrogate_body'] is True and dataset.metainfo['synthetic'] is True
    item = dataset[3]
    assert item['inputs'].shape == (3, 64, 64) and item['inputs'].dtype == torch.uint8
    sample = item['data_samples']
    assert isinstance(sample, HOIDataSample) and sample.img_id == arrays['img_id'][3]
    assert sample.gt_instances.joints_2d.shape == (1, 22, 2)
    info = dataset.get_data_info(3)
    assert osp.isabs(info['img_path']) and osp.isfile(info['img_path']) and osp.isfile(info['corr_path'])
    np.testing.assert_array_equal(info['betas_male'], arrays['betas_male'][3])
    assert info['kinect'] == arrays['kinect'][3] and isinstance(info['img_id'], str)


def test_min_visibility_and_kinects_filter(behave_synthetic_root, behave_annotation_dir):
    arrays, _ = load_annotations(behave_annotation_dir, 'test')
    threshold = float(np.median(arrays['visibility']))
    dataset = BEHAVEFrameDataset(behave_synthetic_root, split='test', min_visibility=threshold)
    assert len(dataset) == int((arrays['visibility'] >= threshold).sum()) < len(arrays['img_id'])
    assert all(dataset.get_data_info(i)['visibility'] >= threshold for i in range(len(dataset)))
    only_k2 = BEHAVEFrameDataset(behave_synthetic_root, split='test', kinects=(2, ))
    assert len(only_k2) == int((arrays['kinect'] == 2).sum())
    assert {only_k2.get_data_info(i)['kinect'] for i in range(len(only_k2))} == {2}


def test_cache_built_with_other_settings_is_refused(behave_synthetic_root, behave_annotation_dir, tmp_path):
    build_annotations(behave_synthetic_root, 'test', kinects=(1, ), annotation_dir=str(tmp_path), progress=False)
    assert len(BEHAVEFrameDataset(behave_synthetic_root, split='test', kinects=(1, ),
                                  annotation_dir=str(tmp_path))) == 2
    with pytest.raises(ValueError, match='built with other settings.*dataset_converters/behave.py'):
        BEHAVEFrameDataset(behave_synthetic_root, split='test', annotation_dir=str(tmp_path))


def test_missing_data_root_says_how_to_get_data(tmp_path):
    missing = str(tmp_path / 'no_behave_here')
    with pytest.raises(FileNotFoundError,
                       match='no_behave_here.*BEHAVE layout.*make_synthetic_dataset.py.*synthetic=dict'):
        BEHAVEFrameDataset(missing)
    assert not osp.exists(missing)


def test_never_generates_and_names_the_command_of_its_recipe(tmp_path):
    root = str(tmp_path / 'behave_synthetic')
    synthetic = dict(num_sequences=1, frames_per_sequence=1, seed=0, image_size=(64, 48), workers=0, progress=False)
    command = (f'python tools/make_synthetic_dataset.py --out {root} --num-sequences 1 --frames-per-sequence 1 '
               '--seed 0 --image-size 64 48 --workers 0`')
    with pytest.raises(FileNotFoundError, match=f'{root} does not exist.*{re.escape(command)}.*tools/train.py'):
        BEHAVEFrameDataset(root, split='train', synthetic=synthetic)
    assert not osp.exists(root)
    os.makedirs(root)  # an interrupted generation
    with open(osp.join(root, SYNTHETIC_MANIFEST), 'w') as f:
        json.dump({'complete': False}, f)
    assert synthetic_state(root) == 'incomplete'
    with pytest.raises(FileNotFoundError, match='interrupted synthetic generation.*resumes it'):
        BEHAVEFrameDataset(root, split='train', synthetic=synthetic)
    assert os.listdir(root) == [SYNTHETIC_MANIFEST]


def test_person_keypoints_from_another_root(behave_synthetic_root, behave_annotation_dir, tmp_path):
    """keypoints_root: each image's person_kpts (the refiner's evidence, packed into observations) come from
    <root>/<seq>/<frame>/k<k>.keypoints.json (OpenPose JSON); an image without its file is named."""
    plain = BEHAVEFrameDataset(behave_synthetic_root, split='test')
    written = {}
    for index in range(len(plain)):
        info = plain.get_data_info(index)
        keypoints = np.arange(75, dtype=np.float32).reshape(25, 3) + index
        people = [] if index == 0 else [dict(pose_keypoints_2d=keypoints.reshape(-1).tolist())]
        folder = tmp_path / 'kpts' / info['sequence'] / info['frame']
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f'k{info["kinect"]}.keypoints.json').write_text(json.dumps(dict(people=people)))
        written[info['img_id']] = np.zeros((25, 3)) if index == 0 else keypoints
    dataset = BEHAVEFrameDataset(behave_synthetic_root, split='test', keypoints_root=str(tmp_path / 'kpts'),
                                 pipeline=[dict(type='LoadHOIImage'), dict(type='HOICrop', img_size=64),
                                           dict(type='PackHOIInputs')])
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        np.testing.assert_array_equal(info['person_kpts'], written[info['img_id']])
        assert info['keypoints_path'].startswith(str(tmp_path / 'kpts'))
    sample = dataset[1]['data_samples']
    np.testing.assert_allclose(sample.observations.person_kpts[0].numpy(),
                               written[sample.img_id], atol=1e-4)  # no crop rotation at test time
    os.remove(dataset.get_data_info(1)['keypoints_path'])
    with pytest.raises(FileNotFoundError, match=r'keypoints\.json .*tools/detect_person_keypoints\.py'):
        dataset[1]
