"""tools/analysis/phosa_pose_accuracy.py on the tiny world with a CPU-tiny fit: one row per image, both errors."""
import json
import os.path as osp

from hoirecon.testing.tools import load_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_rows_and_summary(behave_synthetic_root, surrogate_body_root, tmp_path):
    out = tmp_path / 'acc.json'
    summary = load_tool('analysis/phosa_pose_accuracy').main([
        osp.join(REPO_ROOT, 'configs', 'baselines', 'phosa_synthetic.py'), '--num-images', '2', '--out', str(out),
        '--cfg-options', f'test_dataloader.dataset.data_root={behave_synthetic_root}',
        f'phosa.object_library.template_dir={behave_synthetic_root}/objects', 'phosa.num_starts=2',
        'phosa.object_steps=2', 'phosa.joint_steps=1', 'phosa.num_candidates=1', 'phosa.object_size=16',
        'phosa.joint_size=16', 'phosa.num_search=64', 'phosa.local_samples=8', 'phosa.fine_size=32',
        'phosa.fine_samples=4', f'phosa.search_cache={tmp_path / "cache"}', '--mask', 'full'])
    assert summary['images'] == len(summary['rows']) == 2 and summary['mask'] == 'full'
    for row in summary['rows']:
        assert 0 <= row['rotation_up_to_symmetry_deg'] <= row['rotation_deg'] + 1e-9 <= 180 + 1e-9
        assert row['symmetries'] >= 1 and 0 <= row['iou'] <= 1
        # the true pose, rendered in the fit's square, explains the whole silhouette it was rendered from
        assert 0.7 <= row['truth_iou'] <= 1
    assert json.load(open(out))['share_below_10_deg'] == summary['share_below_10_deg']
