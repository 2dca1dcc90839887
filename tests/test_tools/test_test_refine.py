"""tools/test.py --refine end to end: the network and the refined reconstruction scored in one run."""
import json
import os.path as osp

import cv2

from hoirecon.testing.tiny_model import save_plausible_tiny_checkpoint

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_stackflow.py')


def test_refine_reports_before_and_after(test_tool, behave_synthetic_root, surrogate_body_root, tmp_path):
    checkpoint = save_plausible_tiny_checkpoint(CONFIG, str(tmp_path / 'tiny.pth'))
    work_dir = tmp_path / 'work'
    metrics = test_tool.main([CONFIG, checkpoint, '--refine', '--work-dir', str(work_dir), '--show-dir', 'pictures',
                              '--cfg-options', 'default_hooks.visualization.max_images=3',
                              f'train_dataloader.dataset.data_root={behave_synthetic_root}',
                              f'test_dataloader.dataset.data_root={behave_synthetic_root}',
                              'test_evaluator.out_file=chamfer.json'])
    for part in ('human', 'object'):
        before, after = metrics[f'hoi_chamfer_initial/{part}_hoi'], metrics[f'hoi_chamfer/{part}_hoi']
        assert before > 0 and after > 0 and before != after
    initial = json.load(open(work_dir / 'chamfer_initial.json'))
    refined = json.load(open(work_dir / 'chamfer.json'))
    assert initial['protocol']['prediction'] == 'init_instances'
    assert refined['protocol']['prediction'] == 'pred_instances'
    assert len(initial['frames']) == len(refined['frames']) == metrics['hoi_chamfer/num_frames'] > 0
    # --show-dir: input, network, refined and turned panels per image, at most max_images of them
    pictures = sorted((work_dir / 'pictures').iterdir())
    assert len(pictures) == 3 and pictures[0].name == initial['frames'][0]['img_id'] + '.jpg'
    picture = cv2.imread(str(pictures[0]))
    assert picture.shape[1] >= 4 * 128 and picture.shape[0] >= 96  # four 128 x 96 panels side by side
