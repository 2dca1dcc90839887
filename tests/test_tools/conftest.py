"""Fixtures of the tool tests: the scripts of tools/ loaded as modules (they are not part of the package)."""
import glob
import os.path as osp

import cv2
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from hoirecon.testing.tools import load_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: The tiny random-weight model of the demo tests.
DEMO_CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_stackflow.py')


@pytest.fixture(scope='module')
def train_tool():
    return load_tool('train')


@pytest.fixture(scope='module')
def test_tool():
    return load_tool('test')


@pytest.fixture(scope='module')
def demo():
    return load_tool('demo')


@pytest.fixture(scope='module')
def compare_results_tool():
    return load_tool('analysis/compare_results')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory, surrogate_body_root):
    cfg = Config.fromfile(DEMO_CONFIG)
    torch.manual_seed(0)
    from hoirecon.registry import MODELS
    with DefaultScope.overwrite_default_scope('hoirecon'):
        model = MODELS.build(cfg.model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


@pytest.fixture(scope='module')
def frame(behave_synthetic_root):
    """Files of the test image of the tiny world whose object is most visible."""
    best = None
    for mask in glob.glob(osp.join(behave_synthetic_root, 'sequences', '*', 't*', 'k*.obj_rend_mask.jpg')):
        area = int((cv2.imread(mask, 0) > 127).sum())
        if best is None or area > best[0]:
            best = (area, mask)
    mask = best[1]
    frame_dir, kinect = osp.dirname(mask), osp.basename(mask)[:2]
    seq, frame_name = frame_dir.split(osp.sep)[-2:]
    obj = seq.split('_')[2]
    return dict(image=osp.join(frame_dir, f'{kinect}.color.jpg'),
                person=osp.join(frame_dir, f'{kinect}.person_mask.jpg'),
                object=mask, keypoints=osp.join(frame_dir, f'{kinect}.color.json'), name=obj,
                corr=osp.join(behave_synthetic_root, 'epro_pnp', seq, frame_name, f'{kinect}.obj_coor.pkl'),
                calibration=osp.join(behave_synthetic_root, 'calibs', 'intrinsics', kinect[1:], 'calibration.json'))
