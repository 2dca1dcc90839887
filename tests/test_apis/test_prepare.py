"""prepare_experiment: what a config needs on disk, and nothing more when a checkpoint is tested."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from hoirecon.apis.prepare import checkpoint_has_relation_pca, prepare_experiment, synthetic_dataset_configs
from hoirecon.datasets.behave_frames import SYNTHETIC_MANIFEST, BEHAVEFrameDataset, synthetic_state
from hoirecon.models.relation_encoders.offset_pca import OffsetPCA


def _cfg(tmp_path):
    return Config(dict(
        train_dataloader=dict(dataset=dict(data_root=str(tmp_path / 'no_data'))),
        model=dict(relation_encoder=dict(type='OffsetPCA', pca_file=str(tmp_path / 'missing_pca.npz')),
                   body_model=dict(type='SMPLH', model_path='surrogate'))))


def test_testing_a_checkpoint_takes_the_pca_from_it_instead_of_fitting(tmp_path):
    with_pca = str(tmp_path / 'with_pca.pth')
    torch.save({'state_dict': {f'relation_encoder.{name}': torch.zeros(2, dtype=dtype)
                               for name, dtype in OffsetPCA.BUFFERS}, 'meta': {}}, with_pca)
    without = str(tmp_path / 'without.pth')
    torch.save({'state_dict': {'backbone.conv1.weight': torch.zeros(2)}, 'meta': {}}, without)
    assert checkpoint_has_relation_pca(with_pca) and not checkpoint_has_relation_pca(without)
    assert not checkpoint_has_relation_pca(str(tmp_path / 'nothere.pth'))

    cfg = _cfg(tmp_path)
    prepare_experiment(cfg, with_pca)  # no training data, no PCA file: nothing to fit, nothing raised
    assert cfg.model.relation_encoder.missing_file == 'checkpoint'
    for checkpoint in (without, None):  # training, or a checkpoint without the PCA: it must be fitted, and cannot
        with pytest.raises(FileNotFoundError, match='no training data to fit it from'):
            prepare_experiment(_cfg(tmp_path), checkpoint)


def test_generates_the_synthetic_worlds_of_the_datasets_the_run_builds(tmp_path):
    tiny = dict(num_sequences=1, frames_per_sequence=1, seed=0, image_size=(64, 48), workers=0, progress=False)
    train_root, test_root = str(tmp_path / 'train_world'), str(tmp_path / 'test_world')
    cfg = Config(dict(
        train_dataloader=dict(dataset=dict(type='RepeatDataset', times=2,
                                           dataset=dict(data_root=train_root, synthetic=tiny))),
        val_dataloader=None,
        test_dataloader=dict(dataset=dict(data_root=test_root, synthetic=tiny)),
        model=dict(relation_encoder=dict(type='DirectRelativePose'))))
    assert [d['data_root'] for d in synthetic_dataset_configs(cfg)] == [train_root, test_root]

    prepare_experiment(cfg, checkpoint=str(tmp_path / 'any.pth'))  # testing builds the test dataset only
    assert synthetic_state(test_root) == 'complete' and synthetic_state(train_root) == 'missing'
    manifest_time = osp.getmtime(osp.join(test_root, SYNTHETIC_MANIFEST))
    prepare_experiment(cfg)  # training builds all three
    assert synthetic_state(train_root) == 'complete'
    assert osp.getmtime(osp.join(test_root, SYNTHETIC_MANIFEST)) == manifest_time, 'a complete world is kept'
    dataset = BEHAVEFrameDataset(train_root, split='train', synthetic=tiny)  # the dataset reads what prepare made
    assert 0 < len(dataset) <= 4 and dataset.metainfo['synthetic'] is True
