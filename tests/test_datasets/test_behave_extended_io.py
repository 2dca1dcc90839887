"""Readers of BEHAVE-extended (30 fps): the npz fits, StackFLOW's merges and trims, paths and image ids, errors."""
import os
import os.path as osp

import numpy as np
import pytest

from hoirecon.datasets import behave_extended_io as io


def _times(start, num):
    return np.array([f't{start + i / 30:08.3f}' for i in range(num)])


def _write(root, name, smpl_times, object_times, seed=0):
    rng = np.random.default_rng(seed)
    folder = osp.join(root, io.PARAMS_FOLDER, name)
    os.makedirs(folder, exist_ok=True)
    n, m = len(smpl_times), len(object_times)
    smpl = dict(poses=rng.normal(size=(n, 156)).astype(np.float32), betas=rng.normal(size=(n, 10)).astype(np.float32),
                trans=rng.normal(size=(n, 3)).astype(np.float32), frame_times=smpl_times)
    obj = dict(angles=rng.normal(size=(m, 3)).astype(np.float32), trans=rng.normal(size=(m, 3)).astype(np.float32),
               frame_times=object_times)
    np.savez(osp.join(folder, 'smpl_fit_all.npz'), **smpl)
    np.savez(osp.join(folder, 'object_fit_all.npz'), **obj)
    return smpl, obj


def test_frame_times_and_reading(tmp_path):
    times = _times(3.0, 5)
    assert list(times[:2]) == ['t0003.000', 't0003.033']
    smpl, obj = _write(str(tmp_path), 'Date01_Sub01_boxlong_hand', times, times)
    fits = io.load_sequence_fits(str(tmp_path), 'Date01_Sub01_boxlong_hand')
    np.testing.assert_array_equal(fits['smpl']['poses'], smpl['poses'])
    np.testing.assert_array_equal(fits['object']['angles'], obj['angles'])
    assert list(fits['smpl']['frame_times']) == list(times)
    assert io.frame_seconds('t0003.033') == pytest.approx(3.033)


def test_two_part_sequences_are_merged_and_listed_once(tmp_path):
    root = str(tmp_path)
    first, second = 'Date03_Sub04_boxtiny', 'Date03_Sub04_boxtiny_part2'
    s1, o1 = _write(root, first, _times(3.0, 4), _times(3.0, 4), seed=1)
    s2, o2 = _write(root, second, _times(10.0, 3), _times(10.0, 3), seed=2)
    _write(root, 'Date01_Sub01_chair2', _times(3.0, 2), _times(3.0, 2))  # ends in '2' but is not a second part
    fits = io.load_sequence_fits(root, first)
    np.testing.assert_array_equal(fits['smpl']['trans'], np.concatenate([s1['trans'], s2['trans']]))
    np.testing.assert_array_equal(fits['object']['trans'], np.concatenate([o1['trans'], o2['trans']]))
    assert len(fits['smpl']['frame_times']) == 7
    assert io.list_sequences(root) == ['Date01_Sub01_chair2', first]


def test_the_two_known_length_mismatches_are_trimmed_like_stackflow(tmp_path):
    root = str(tmp_path)
    times = _times(3.0, 50)
    smpl, _ = _write(root, 'Date02_Sub02_backpack_twohand', times, times[:40])
    fits = io.load_sequence_fits(root, 'Date02_Sub02_backpack_twohand')
    np.testing.assert_array_equal(fits['smpl']['poses'], smpl['poses'][:40])
    smpl, _ = _write(root, 'Date06_Sub07_backpack_back', times, times[30:])
    fits = io.load_sequence_fits(root, 'Date06_Sub07_backpack_back')
    np.testing.assert_array_equal(fits['smpl']['betas'], smpl['betas'][30:])
    assert list(fits['smpl']['frame_times']) == list(fits['object']['frame_times'])


def test_unknown_mismatch_names_the_folder(tmp_path):
    root = str(tmp_path)
    _write(root, 'Date01_Sub01_stool', _times(3.0, 6), _times(3.0, 5))
    with pytest.raises(ValueError, match=r'Date01_Sub01_stool: smpl_fit_all.npz and object_fit_all.npz list '
                                         r'different frames \(6 vs 5'):
        io.load_sequence_fits(root, 'Date01_Sub01_stool')


def test_bad_files_name_file_and_field(tmp_path):
    root = str(tmp_path)
    folder = osp.join(root, io.PARAMS_FOLDER, 'Date01_Sub01_stool')
    os.makedirs(folder)
    np.savez(osp.join(folder, 'smpl_fit_all.npz'), poses=np.zeros((2, 72)), betas=np.zeros((2, 10)),
             trans=np.zeros((2, 3)), frame_times=_times(3.0, 2))
    with pytest.raises(ValueError, match=r"smpl_fit_all.npz: key 'poses' has shape \(2, 72\), expected \(2, 156\)"):
        io.load_smpl_fit_all(osp.join(folder, 'smpl_fit_all.npz'))
    _write(root, 'Date01_Sub01_boxlong', _times(3.0, 2), _times(3.0, 2))
    os.remove(osp.join(root, io.PARAMS_FOLDER, 'Date01_Sub01_boxlong', 'object_fit_all.npz'))
    with pytest.raises(FileNotFoundError, match='BEHAVE-extended object fits'):
        io.load_sequence_fits(root, 'Date01_Sub01_boxlong')
    with pytest.raises(FileNotFoundError, match='behave-30fps-params-v1'):
        io.list_sequences(str(tmp_path / 'nowhere'))


def test_paths_and_image_ids():
    root = '/r'
    assert io.image_path(root, 'Date03_Sub04_boxtiny', 't0003.033', 2) == \
        '/r/raw_images/Date03_Sub04_boxtiny/t0003.033/k2.color.jpg'
    assert io.person_mask_path(root, 'S', 't0003.033', 0).endswith('person_mask/S/t0003.033/k0.person_mask.jpg')
    assert io.object_mask_path(root, 'S', 't0003.033', 1).endswith(
        'object_coor_maps_extend/S/t0003.033/k1.mask_full.jpg')
    assert io.correspondences_path(root, 'S', 't0003.033', 3).endswith('k3.obj_coor.pkl')
    assert io.image_id('Date03_Sub04_boxtiny', 't0003.033', 0) == '3_4_boxtiny_none_003.033_0'
    assert io.image_id('Date03_Sub04_yogaball_play', 't0012.100', 3) == '3_4_yogaball_play_012.100_3'
    with pytest.raises(ValueError, match='0..3'):
        io.image_path(root, 'S', 't0003.033', 4)
    with pytest.raises(ValueError, match="'t0003.033'"):
        io.frame_seconds('3.033')
