"""tools/test.py on synthetic 30 fps sequences: the windowed metric, and with --refine the per-frame post-optimisation
then sequence smoothing (SequenceTestLoop), each stage scored in one run."""
import json
import os.path as osp

import numpy as np
import pytest

from hoirecon.testing.tiny_model import save_plausible_tiny_checkpoint

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_stackflow_sequences.py')


@pytest.fixture(scope='module')
def sequence_checkpoint(tmp_path_factory, surrogate_body_root):
    return save_plausible_tiny_checkpoint(CONFIG, str(tmp_path_factory.mktemp('sequence_ckpt') / 'tiny.pth'))


def test_refine_scores_network_per_frame_and_smoothed(test_tool, sequence_checkpoint, behave_extended_synthetic_root,
                                                      tmp_path):
    work_dir = tmp_path / 'work'
    metrics = test_tool.main([CONFIG, sequence_checkpoint, '--refine', '--work-dir', str(work_dir), '--cfg-options',
                              f'test_dataloader.dataset.data_root={behave_extended_synthetic_root}'])
    stages = ('initial', 'frame', '')
    for window in (1, 3):
        values = {stage: metrics[f"hoi_seq_w{window}{'_' + stage if stage else ''}/object_hoi"] for stage in stages}
        assert all(v > 0 for v in values.values())
        assert values['initial'] != values['frame'] != values['']  # three different reconstructions
        assert metrics[f'hoi_seq_w{window}/num_frames'] == 12  # camera 0 of the merged two-part test sequence
    # each stage in its own file, with the field it scored
    for stage, field in zip(stages, ('init_instances', 'frame_instances', 'pred_instances')):
        result = json.load(open(work_dir / f"sequence_w3{'_' + stage if stage else ''}.json"))
        assert result['protocol']['prediction'] == field and result['protocol']['window'] == 3
        frames = result['frames']
        assert [f['img_id'] for f in frames] == sorted(f['img_id'] for f in frames)
        # acceleration exists for the 10 inner frames of the 12
        assert sum(np.isfinite(f['accel_error_mm']['human']) for f in frames) == 10
    # smoothing lowers the jitter of the per-frame post-optimisation
    for part in ('human', 'object'):
        assert metrics[f'hoi_seq_w1/{part}_accel'] < metrics[f'hoi_seq_w1_frame/{part}_accel']
        assert metrics[f'hoi_seq_w1/{part}_accel_error'] < metrics[f'hoi_seq_w1_frame/{part}_accel_error']


def test_without_refine_the_sequence_loop_scores_the_network(
        test_tool, sequence_checkpoint, behave_extended_synthetic_root, tmp_path):
    metrics = test_tool.main([CONFIG, sequence_checkpoint, '--work-dir', str(tmp_path), '--cfg-options',
                              f'test_dataloader.dataset.data_root={behave_extended_synthetic_root}'])
    assert not any('_initial/' in key or '_frame/' in key for key in metrics)
    assert metrics['hoi_seq_w1/num_frames'] == metrics['hoi_seq_w3/num_frames'] == 12
    # w = 1 aligns each frame alone, w = 3 three frames with one transform: never better than w = 1
    assert metrics['hoi_seq_w3/human_hoi'] >= metrics['hoi_seq_w1/human_hoi'] - 1e-6


def test_frames_out_of_order_are_refused(test_tool, sequence_checkpoint, behave_extended_synthetic_root, tmp_path):
    with pytest.raises(RuntimeError, match='not consecutive'):
        test_tool.main([CONFIG, sequence_checkpoint, '--refine', '--work-dir', str(tmp_path), '--cfg-options',
                        f'test_dataloader.dataset.data_root={behave_extended_synthetic_root}',
                        f'test_dataloader.dataset.annotation_dir={tmp_path / "cache"}',
                        'test_dataloader.dataset.kinects=[0,1]', 'test_dataloader.sampler.shuffle=True'])
