"""tools/misc/export_body_estimates.py: a body network's predictions written as FrankMocap-style k*.mocap.json files,
checked against the predictions tools/test.py dumps for the same checkpoint."""
import glob
import os.path as osp
import pickle

import numpy as np
import pytest

from hoirecon.datasets.body_estimates import read_body_estimate
from hoirecon.datasets.body_estimates import DumpBodyEstimates
from hoirecon.testing.tiny_model import save_plausible_tiny_checkpoint
from hoirecon.testing.tools import load_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_stackflow.py')


def test_exported_estimates_are_the_network_bodies(test_tool, behave_synthetic_root, surrogate_body_root, tmp_path):
    tool = load_tool('misc/export_body_estimates')
    checkpoint = save_plausible_tiny_checkpoint(CONFIG, str(tmp_path / 'tiny.pth'))
    out_root = tmp_path / 'estimates'
    roots = [f'train_dataloader.dataset.data_root={behave_synthetic_root}',
             f'test_dataloader.dataset.data_root={behave_synthetic_root}']
    metrics = tool.main([CONFIG, checkpoint, '--out-root', str(out_root), '--work-dir', str(tmp_path / 'w'),
                         '--cfg-options', *roots])
    files = sorted(glob.glob(str(out_root / 'sequences' / '*' / 't*' / 'k*.mocap.json')))
    assert metrics['body_estimates/written'] == len(files) > 0
    assert not glob.glob(osp.join(behave_synthetic_root, 'sequences', '*', 't*', 'k*.mocap.json'))  # nothing beside
    # the same checkpoint's predictions, dumped by tools/test.py
    dump = str(tmp_path / 'preds.pkl')
    test_tool.main([CONFIG, checkpoint, '--out', dump, '--work-dir', str(tmp_path / 't'), '--cfg-options', *roots])
    with open(dump, 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == len(files)
    for sample in predictions:
        relative = osp.relpath(sample['img_path'], behave_synthetic_root).replace('.color.jpg', '.mocap.json')
        estimate = read_body_estimate(str(out_root / relative))
        pred = sample['pred_instances']
        np.testing.assert_allclose(estimate['global_orient'], np.asarray(pred['global_orient'])[0], atol=1e-5)
        np.testing.assert_allclose(estimate['body_pose'], np.asarray(pred['body_pose'])[0], atol=1e-5)
        np.testing.assert_allclose(estimate['betas'], np.asarray(pred['betas'])[0], atol=1e-5)
    # a second run keeps the files unless --overwrite
    again = tool.main([CONFIG, checkpoint, '--out-root', str(out_root), '--work-dir', str(tmp_path / 'w'),
                       '--cfg-options', *roots])
    assert again['body_estimates/written'] == 0 and again['body_estimates/skipped'] == len(files)


def test_the_writer_needs_a_body_and_a_data_root(tmp_path):
    with pytest.raises(ValueError, match='needs data_root'):
        DumpBodyEstimates(out_root=str(tmp_path))
    writer = DumpBodyEstimates(out_root=str(tmp_path / 'o'), data_root=str(tmp_path / 'data'))
    expected = str(tmp_path / 'o' / 'a' / 'k1.mocap.json')
    assert writer.target_path(str(tmp_path / 'data' / 'a' / 'k1.color.jpg')) == expected
    with pytest.raises(ValueError, match='not under data_root'):
        writer.target_path('/elsewhere/k1.color.jpg')
    with pytest.raises(KeyError, match='predicts no parametric body'):
        DumpBodyEstimates().process({}, [dict(img_path=str(tmp_path / 'k1.color.jpg'),
                                              pred_instances=dict(object_R=np.eye(3)[None]))])
