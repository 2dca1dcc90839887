"""BODY_25 regressor construction and StackFLOW's text format."""
import numpy as np
import pytest

from hoirecon.structures.body25 import (BODY25_JOINT_NAMES, build_body25_regressor, load_joint_regressor_txt,
                                        save_joint_regressor_txt)

VERTEX_IDS = {
    'nose': 3,
    'reye': 4,
    'leye': 5,
    'rear': 6,
    'lear': 7,
    'LBigToe': 8,
    'LSmallToe': 9,
    'LHeel': 10,
    'RBigToe': 11,
    'RSmallToe': 12,
    'RHeel': 13
}


def test_names_follow_openpose_order():
    assert len(BODY25_JOINT_NAMES) == 25
    assert BODY25_JOINT_NAMES[:9] == ('Nose', 'Neck', 'RShoulder', 'RElbow', 'RWrist', 'LShoulder', 'LElbow', 'LWrist',
                                      'MidHip')
    assert BODY25_JOINT_NAMES[19:] == ('LBigToe', 'LSmallToe', 'LHeel', 'RBigToe', 'RSmallToe', 'RHeel')


def test_build_mixes_joint_rows_and_vertices():
    rng = np.random.default_rng(0)
    j_regressor = rng.random((24, 20))
    regressor = build_body25_regressor(j_regressor, VERTEX_IDS)
    assert regressor.shape == (25, 20)
    expected_joints = {1: 12, 2: 17, 3: 19, 4: 21, 5: 16, 6: 18, 7: 20, 8: 0, 9: 2, 10: 5, 11: 8, 12: 1, 13: 4, 14: 7}
    for row, joint in expected_joints.items():
        np.testing.assert_array_equal(regressor[row], j_regressor[joint])
    vertices = rng.random((20, 3))
    keypoints = regressor @ vertices
    for row, key in ((0, 'nose'), (15, 'reye'), (16, 'leye'), (17, 'rear'), (18, 'lear'), (19, 'LBigToe'),
                     (21, 'LHeel'), (24, 'RHeel')):
        np.testing.assert_array_equal(keypoints[row], vertices[VERTEX_IDS[key]])
    with pytest.raises(ValueError, match='outside the mesh'):
        build_body25_regressor(j_regressor[:, :10], VERTEX_IDS)


def test_txt_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    regressor = np.where(rng.random((25, 40)) < 0.1, rng.random((25, 40)), 0.0)
    path = str(tmp_path / 'J_regressor_body25_smplh.txt')
    save_joint_regressor_txt(path, regressor)
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0] == '# 25 40'
    assert len(lines) == 1 + np.count_nonzero(regressor)
    np.testing.assert_array_equal(load_joint_regressor_txt(path), regressor)


def test_txt_errors_name_file_and_line(tmp_path):
    path = tmp_path / 'reg.txt'
    path.write_text('25 40\n0 1 0.5\n')
    with pytest.raises(ValueError, match=f'{path}: line 1 must be the header'):
        load_joint_regressor_txt(str(path))
    path.write_text('# 2 3\n0 1 0.5\n1 x 0.5\n')
    with pytest.raises(ValueError, match='line 3 must be "i j value"'):
        load_joint_regressor_txt(str(path))
    path.write_text('# 2 3\n0 3 0.5\n')
    with pytest.raises(ValueError, match=r'line 2 entry \(0, 3\) is outside'):
        load_joint_regressor_txt(str(path))
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        load_joint_regressor_txt(str(tmp_path / 'missing.txt'))
