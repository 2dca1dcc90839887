"""tools/detect_person_keypoints.py: BlazePose keypoints of a split in the files keypoints_root reads; without the
optional extra, one line saying how to install it."""
import importlib.util
import json
import os.path as osp

import pytest

from hoirecon.testing.tools import load_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'configs', 'stackflow_synthetic.py')
HAS_DETECTOR = importlib.util.find_spec('mediapipe') is not None


@pytest.mark.skipif(HAS_DETECTOR, reason='the keypoints extra is installed (its own test below runs instead)')
def test_without_the_extra_it_says_how_to_install_it(behave_synthetic_root, tmp_path):
    with pytest.raises(SystemExit, match=r'pip install -e "\.\[keypoints\]"'):
        load_tool('detect_person_keypoints').main([
            CONFIG, '--out', str(tmp_path), '--cfg-options',
            f'test_dataloader.dataset.data_root={behave_synthetic_root}'])


@pytest.mark.skipif(not HAS_DETECTOR, reason='needs the optional keypoints extra (pip install -e ".[keypoints]")')
def test_writes_one_file_per_image_that_the_dataset_reads(behave_synthetic_root, tmp_path):
    from hoirecon.datasets.behave_frames import BEHAVEFrameDataset
    out = tmp_path / 'kpts'
    summary = load_tool('detect_person_keypoints').main([CONFIG, '--out', str(out), '--limit', '2', '--cfg-options',
                                                         f'test_dataloader.dataset.data_root={behave_synthetic_root}'])
    assert summary['images'] == 2
    dataset = BEHAVEFrameDataset(behave_synthetic_root, split='test', indices=2, keypoints_root=str(out))
    for index in range(2):
        info = dataset.get_data_info(index)
        people = json.load(open(info['keypoints_path']))['people']
        assert info['person_kpts'].shape == (25, 3) and len(people) <= 1
