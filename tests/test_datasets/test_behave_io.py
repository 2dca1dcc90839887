"""Readers of the BEHAVE files: round trips, errors that name the file, exact world <-> camera conversions."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hoirecon.datasets import behave_io as io
from hoirecon.synthetic.writer import (calibration_dict, write_json, write_keypoints, write_mask, write_object_fit,
                                       write_person_fit, write_pickle, write_sequence_info)
from hoirecon.utils.offscreen import Intrinsics


def random_rigid(seed: int):
    rng = np.random.default_rng(seed)
    return Rotation.random(random_state=seed).as_matrix(), rng.normal(size=3)


# ----------------------------------------------------------------------------- calibration
def test_intrinsics_round_trip(tmp_path):
    intr = Intrinsics(fx=245.1, fy=244.9, cx=254.7, cy=194.8, width=512, height=384)
    path = write_json(str(tmp_path / 'intrinsics' / '1' / 'calibration.json'), calibration_dict(intr))
    loaded = io.load_intrinsics(path)
    assert (loaded['fx'], loaded['fy'], loaded['cx'], loaded['cy']) == (245.1, 244.9, 254.7, 194.8)
    assert (loaded['width'], loaded['height']) == (512, 384)
    assert np.array_equal(loaded['dist'], np.zeros(8))
    np.testing.assert_array_equal(io.intrinsic_matrix(loaded), [[245.1, 0, 254.7], [0, 244.9, 194.8], [0, 0, 1]])


def test_intrinsics_errors_name_the_file(tmp_path):
    path = write_json(str(tmp_path / 'calibration.json'), {'depth': {}})
    with pytest.raises(io.BehaveFormatError, match=r"calibration\.json: missing key 'color'"):
        io.load_intrinsics(path)
    write_json(path, {'color': {'fx': 1, 'fy': 1, 'cx': 1, 'cy': 1, 'width': 0, 'height': 5}})
    with pytest.raises(io.BehaveFormatError, match="'width' is 0"):
        io.load_intrinsics(path)
    with open(path, 'w') as f:
        f.write('{"color": ')
    with pytest.raises(io.BehaveFormatError, match='not valid JSON') as err:
        io.load_intrinsics(path)
    assert path in str(err.value)
    with pytest.raises(FileNotFoundError, match='missing.json'):
        io.load_intrinsics(str(tmp_path / 'missing.json'))


def test_extrinsics_round_trip_and_bad_rotation(tmp_path):
    rot, trans = random_rigid(0)
    path = write_json(str(tmp_path / 'config.json'), {'rotation': rot.reshape(-1).tolist(),
                                                      'translation': trans.tolist()})
    loaded_rot, loaded_trans = io.load_extrinsics(path)
    np.testing.assert_array_equal(loaded_rot, rot)
    np.testing.assert_array_equal(loaded_trans, trans)
    write_json(path, {'rotation': (2 * rot).reshape(-1).tolist(), 'translation': trans.tolist()})
    with pytest.raises(io.BehaveFormatError, match='not a rotation matrix'):
        io.load_extrinsics(path)
    write_json(path, {'rotation': [1, 0, 0], 'translation': [0, 0, 0]})
    with pytest.raises(io.BehaveFormatError, match=r"'rotation' has shape \(3,\), expected \(3, 3\)"):
        io.load_extrinsics(path)


def test_sequence_info_resolves_relative_paths(tmp_path):
    seq_dir = str(tmp_path / 'sequences' / 'Date03_Sub06_stool_sit')
    write_sequence_info(seq_dir, 3, 'stool', 'female')
    info = io.load_sequence_info(seq_dir)
    assert info['cat'] == 'stool' and info['gender'] == 'female' and info['kinects'] == [0, 1, 2, 3]
    assert info['config_dir'] == str(tmp_path / 'calibs' / 'Date03' / 'config')
    assert info['intrinsic_dir'] == str(tmp_path / 'calibs' / 'intrinsics')
    write_json(osp.join(seq_dir, 'info.json'), {'config': 'x', 'intrinsic': 'y', 'cat': 'stool'})
    with pytest.raises(io.BehaveFormatError, match="missing key 'gender'"):
        io.load_sequence_info(seq_dir)


def test_split_rejects_overlap(tmp_path):
    path = write_json(str(tmp_path / 'split.json'), {'train': ['a', 'b'], 'test': ['c']})
    assert io.load_split(path) == {'train': ['a', 'b'], 'test': ['c']}
    write_json(path, {'train': ['a', 'b'], 'test': ['b']})
    with pytest.raises(io.BehaveFormatError, match='both train and test'):
        io.load_split(path)
    write_json(path, {'train': 'a'})
    with pytest.raises(io.BehaveFormatError, match="'train' must be a list"):
        io.load_split(path)


# ----------------------------------------------------------------------------- fits
def test_fits_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    pose, betas, trans = rng.normal(size=156), rng.normal(size=10), rng.normal(size=3)
    frame = str(tmp_path / 't0003.000')
    faces = np.array([[0, 1, 2]])
    write_person_fit(frame, pose, betas, trans, rng.normal(size=(3, 3)), faces)
    fit = io.load_person_fit(osp.join(frame, 'person', 'fit02', 'person_fit.pkl'))
    assert fit['pose'].dtype == np.float32 and fit['pose'].shape == (156, )
    np.testing.assert_allclose(fit['pose'], pose, rtol=1e-6)
    np.testing.assert_allclose(fit['betas'], betas, rtol=1e-6)
    write_object_fit(frame, 'chairwood', [0.1, 0.2, 0.3], [1, 2, 3], rng.normal(size=(3, 3)), faces)
    path = io.find_object_fit(frame, 'chairwood')
    assert path.endswith(osp.join('chairwood', 'fit01', 'chairwood_fit.pkl'))
    np.testing.assert_allclose(io.load_object_fit(path)['angle'], [0.1, 0.2, 0.3], rtol=1e-6)


def test_object_fit_found_under_detectron_name(tmp_path):
    frame = str(tmp_path / 't0003.000')
    write_pickle(osp.join(frame, 'chair', 'fit01', 'chair_fit.pkl'), {'angle': np.zeros(3), 'trans': np.ones(3)})
    assert io.find_object_fit(frame, 'chairblack').endswith(osp.join('chair', 'fit01', 'chair_fit.pkl'))
    with pytest.raises(FileNotFoundError, match="'stool' not found"):
        io.find_object_fit(frame, 'stool')


def test_corrupt_and_misshaped_fits_name_the_file(tmp_path):
    path = str(tmp_path / 'person' / 'fit02' / 'person_fit.pkl')
    write_pickle(path, {'pose': np.zeros(156), 'betas': np.zeros(10), 'trans': np.zeros(3)})
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])  # truncated download
    with pytest.raises(io.BehaveFormatError, match='cannot unpickle') as err:
        io.load_person_fit(path)
    assert path in str(err.value)
    write_pickle(path, {'pose': np.zeros(72), 'betas': np.zeros(10), 'trans': np.zeros(3)})
    with pytest.raises(io.BehaveFormatError, match=r"key 'pose' has shape \(72,\), expected \(156,\)") as err:
        io.load_person_fit(path)
    assert path in str(err.value)
    write_pickle(path, {'pose': np.full(156, np.nan), 'betas': np.zeros(10), 'trans': np.zeros(3)})
    with pytest.raises(io.BehaveFormatError, match='NaN'):
        io.load_person_fit(path)
    write_pickle(path, [1, 2, 3])
    with pytest.raises(io.BehaveFormatError, match='as a dict'):
        io.load_person_fit(path)
    with pytest.raises(FileNotFoundError, match='object fit'):
        io.load_object_fit(str(tmp_path / 'nope.pkl'))


# ----------------------------------------------------------------------------- per-image files
def test_mask_round_trip_through_jpeg(tmp_path):
    mask = np.zeros((96, 128), bool)
    mask[10:60, 20:90] = True
    mask[30:40, 40:50] = False
    path = write_mask(str(tmp_path / 'k0.person_mask.jpg'), mask)
    loaded = io.load_mask(path, expected_size=(128, 96))
    assert (loaded & mask).sum() / (loaded | mask).sum() > 0.99
    with pytest.raises(io.BehaveFormatError, match='128x96 pixels, expected 64x48'):
        io.load_mask(path, expected_size=(64, 48))
    with open(path, 'wb') as f:
        f.write(b'not a jpeg')
    with pytest.raises(io.BehaveFormatError, match='cannot decode the mask'):
        io.load_mask(path)


def test_find_frame_file_fallbacks_and_missing(tmp_path):
    frame = str(tmp_path)
    write_mask(osp.join(frame, 'k2.obj_mask.png'), np.ones((4, 4), bool))
    assert io.find_frame_file(frame, 2, 'obj_rend_mask').endswith('k2.obj_mask.png')
    with pytest.raises(FileNotFoundError, match='person_mask file of kinect 1 missing') as err:
        io.find_frame_file(frame, 1, 'person_mask')
    assert 'k1.person_mask.jpg' in str(err.value)
    with pytest.raises(KeyError, match='unknown frame file kind'):
        io.find_frame_file(frame, 1, 'depth')


def test_keypoints_and_correspondences(tmp_path):
    keypoints = np.random.default_rng(2).uniform(0, 100, size=(25, 3))
    path = write_keypoints(str(tmp_path / 'k0.color.json'), keypoints)
    np.testing.assert_allclose(io.load_body_keypoints(path), keypoints, atol=1e-3)
    write_json(path, {'body_joints': [0.0] * 74})
    with pytest.raises(io.BehaveFormatError, match=r"'body_joints' has shape \(74,\), expected \(25, 3\)"):
        io.load_body_keypoints(path)
    corr = str(tmp_path / 'k0.obj_coor.pkl')
    write_pickle(corr, {})
    assert io.load_correspondences(corr) == {}
    write_pickle(corr, {'x3d': np.zeros((5, 3)), 'x2d': np.zeros((5, 2)), 'w2d': np.ones((5, 2))})
    assert io.load_correspondences(corr)['w2d'].shape == (5, 2)
    write_pickle(corr, {'x3d': np.zeros((5, 3)), 'x2d': np.zeros((4, 2)), 'w2d': np.ones((5, 2))})
    with pytest.raises(io.BehaveFormatError, match=r"'x2d' has shape \(4, 2\), expected \(5, 2\)"):
        io.load_correspondences(corr)


def test_frame_folder_names(tmp_path):
    assert io.frame_folder_name(3) == 't0003.000'
    assert io.frame_folder_name(12.5) == 't0012.500'
    for name in ('t0004.000', 't0003.000', 'info'):
        (tmp_path / name).mkdir()
    (tmp_path / 'info.json').write_text(json.dumps({}))
    assert io.list_frame_folders(str(tmp_path)) == ['t0003.000', 't0004.000']


# ----------------------------------------------------------------------------- conversions
def test_object_pose_to_camera_matches_vertex_transform():
    cam_rot, cam_trans = random_rigid(3)
    angle, trans = np.array([0.3, -1.2, 0.5]), np.array([0.1, 0.4, 2.0])
    template = np.random.default_rng(4).normal(size=(50, 3))
    world = io.object_vertices(template, angle, trans)
    rot_k, trans_k = io.object_pose_to_camera(angle, trans, cam_rot, cam_trans)
    np.testing.assert_allclose(template @ rot_k.T + trans_k, io.world_to_camera_points(world, cam_rot, cam_trans),
                               atol=1e-12)


def test_smplh_params_to_camera_is_exact(surrogate_body_root):
    from hoirecon.models.body_models import SMPLH
    model = SMPLH(model_path=surrogate_body_root, gender='male', dtype=torch.float64)
    rng = np.random.default_rng(5)
    betas = torch.from_numpy(rng.normal(size=(1, 10)))
    pose = 0.3 * rng.normal(size=156)
    trans = np.array([0.2, -0.4, 2.5])
    cam_rot, cam_trans = random_rigid(6)
    root = model.rest_root_joint(betas)[0].numpy()
    pose_k, trans_k = io.smplh_params_to_camera(pose, trans, root, cam_rot, cam_trans)
    world = model.forward_axis_angle(betas, torch.from_numpy(pose)[None], torch.from_numpy(trans)[None])
    camera = model.forward_axis_angle(betas, torch.from_numpy(pose_k)[None], torch.from_numpy(trans_k)[None])
    expected = io.world_to_camera_points(world.vertices[0].numpy(), cam_rot, cam_trans)
    np.testing.assert_allclose(camera.vertices[0].numpy(), expected, atol=1e-9)
    np.testing.assert_array_equal(pose_k[3:], pose[3:])
    naive = cam_rot.T @ (trans - cam_trans)  # StackFLOW's BEHAVE formula drops the J0 terms
    assert np.linalg.norm(naive - trans_k) > 1e-3


def test_stackflow_coordinate_maps_become_correspondences(tmp_path):
    """A StackFLOW coordinate map ({u, l, h, w, coor}, rendered at half resolution with fx, fy, cx, cy halved) of a
    posed plane, built from the half-resolution camera rays: its rows project with the FULL camera onto their x2d."""
    K_full = np.array([[980.0, 0, 1020.0], [0, 975.0, 770.0], [0, 0, 1]])
    K_half = K_full * [[0.5], [0.5], [1]]
    R = Rotation.from_rotvec([0.2, -0.3, 0.1]).as_matrix()
    t = np.array([0.1, -0.05, 2.2])
    u, l, h, w = 370, 500, 12, 16  # box of the map in the half-resolution image (rows, columns)
    coor = np.zeros((h, w, 3), np.float32)
    normal = R[:, 2]  # the object's z = 0 plane, in the camera: normal . (x - t) = 0
    for i in range(h):
        for j in range(w):
            if (i + j) % 5 == 0:
                continue  # off the object: zeros
            ray = np.linalg.solve(K_half, [l + j, u + i, 1.0])
            point = ray * (normal @ t) / (normal @ ray)
            coor[i, j] = R.T @ (point - t)  # object frame
    path = write_pickle(str(tmp_path / 'k1.obj_coor.pkl'), dict(u=u, l=l, h=h, w=w, coor=coor))
    rows = io.load_correspondences(path)
    assert len(rows['x3d']) == int(np.any(coor != 0, axis=-1).sum()) and np.all(rows['w2d'] == 1)
    cam = rows['x3d'].astype(np.float64) @ R.T + t
    projected = cam[:, :2] / cam[:, 2:] * K_full[[0, 1], [0, 1]] + K_full[:2, 2]
    np.testing.assert_allclose(projected, rows['x2d'], atol=2e-3)
    assert rows['x2d'][:, 0].min() >= 2 * l and rows['x2d'][:, 1].max() <= 2 * (u + h)
    with pytest.raises(ValueError, match=r"'coor' must be an \(h, w, 3\)"):
        io.load_correspondences(write_pickle(str(tmp_path / 'bad.pkl'), dict(u=0, l=0, h=1, w=1, coor=np.zeros(3))))
