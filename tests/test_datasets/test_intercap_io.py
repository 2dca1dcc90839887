"""Readers of the InterCap files: layout names, cameras (axis-angle R), SMPL-X / object fits, the split, errors."""
import json
import os
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hoirecon.datasets import intercap_io as io


def _write_json(path, data):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(data, f)
    return path


def _write_pickle(path, data):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        pickle.dump(data, f)
    return path


def _camera_json(seed):
    rng = np.random.default_rng(seed)
    return dict(f=[918.4 + seed, 918.5], c=[956.9, 555.9], k=rng.normal(0, 0.01, 8).tolist(),
                R=rng.normal(0, 0.5, 3).tolist(), T=rng.normal(0, 1, 3).tolist())


def _smplx_frame(rng):
    frame = {key: rng.normal(0, 0.2, (1, size)).astype(np.float32) for key, size in io.SMPLX_FIT_FIELDS.items()}
    frame.update(camera_rotation=np.eye(3)[None], camera_translation=np.zeros((1, 3)),
                 pose_embedding=np.zeros((1, 32)))
    return frame


@pytest.mark.parametrize('images, fits', [('RGBD_Images', 'Res'), ('RGBD_Individuals', 'Res_Individuals')])
def test_layout_names_sequences_and_frames(tmp_path, images, fits):
    for name in ('01_03_0', '01_03_1', '10_10_2'):
        sub, obj, seg = name.split('_')
        for frame in (0, 2, 1):
            path = tmp_path / images / sub / obj / f'Seg_{seg}' / 'Frames_Cam2' / 'color' / f'{frame:05d}.jpg'
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), np.zeros((4, 4, 3), np.uint8))
        (tmp_path / fits / sub / obj / f'Seg_{seg}').mkdir(parents=True, exist_ok=True)
    root = str(tmp_path)
    assert io.list_sequences(root) == ['01_03_0', '01_03_1', '10_10_2']
    assert io.list_frames(root, '01_03_1', 2) == [0, 1, 2]
    assert io.image_path(root, '10_10_2', 2, 1).endswith(
        osp.join(images, '10', '10', 'Seg_2', 'Frames_Cam2', 'color', '00001.jpg'))
    assert io.sequence_dir(root, '01_03_0', fits=True) == osp.join(root, fits, '01', '03', 'Seg_0')
    assert io.sequence_object('01_03_0') == 'sports' and io.sequence_object('10_10_2') == 'chair2'
    assert io.image_id('01_03_0', 4, 17) == '01_03_0_4_00017'
    # StackFLOW's derived files: the image path with RGBD_Images / color replaced
    image = osp.join('RGBD_Images', '10', '10', 'Seg_2', 'Frames_Cam2', 'color', '00001.jpg')
    assert io.person_mask_path(root, '10_10_2', 2, 1) == osp.join(
        root, image.replace('RGBD_Images', 'mask').replace('color', 'mask').replace('.jpg', '_person.jpg'))
    assert io.object_mask_path(root, '10_10_2', 2, 1) == osp.join(
        root, image.replace('RGBD_Images', 'object_coor_maps').replace('color', 'obj_full_mask'))
    assert io.object_coor_path(root, '10_10_2', 2, 1) == osp.join(
        root, image.replace('RGBD_Images', 'object_coor_maps').replace('color', 'obj_coor').replace('.jpg', '.pkl'))
    assert io.openpose_path(root, '10_10_2', 2, 1) == osp.join(
        root, image.replace('RGBD_Images', 'openpose').replace('.jpg', '_keypoints.json'))
    mesh_dir = osp.join(root, fits, '10', '10', 'Seg_2', 'Mesh')
    assert io.gt_mesh_paths(root, '10_10_2', 7) == (osp.join(mesh_dir, '00007_second.ply'),
                                                    osp.join(mesh_dir, '00007_second_obj.ply'))


def test_missing_layout_names_both_folder_names(tmp_path):
    with pytest.raises(FileNotFoundError, match='RGBD_Individuals'):
        io.list_sequences(str(tmp_path))
    with pytest.raises(ValueError, match="'01_03_0'"):
        io.parse_sequence_name('01_11_0')


def test_cameras_axis_angle_world_to_camera(tmp_path):
    root = str(tmp_path)
    for cam in range(1, 7):
        _write_json(io.calibration_path(root, cam), _camera_json(cam))
    assert io.calibration_path(root, 1).endswith(osp.join('Data', 'calibration_third', 'Color.json'))
    assert io.calibration_path(root, 6).endswith('Color_6.json')
    cameras = io.load_cameras(root)
    assert sorted(cameras) == [1, 2, 3, 4, 5, 6]
    raw = _camera_json(3)
    rot_cv, _ = cv2.Rodrigues(np.asarray(raw['R'], np.float64))  # an independent axis-angle conversion
    np.testing.assert_allclose(cameras[3]['R'], rot_cv, atol=1e-12)
    np.testing.assert_allclose(cameras[3]['K'], [[921.4, 0, 956.9], [0, 918.5, 555.9], [0, 0, 1]])
    points = np.random.default_rng(0).normal(size=(5, 3))
    projected, _ = cv2.projectPoints(points, np.asarray(raw['R']), np.asarray(raw['T']), cameras[3]['K'], None)
    cam_points = io.world_to_camera(points, cameras[3])
    np.testing.assert_allclose(cam_points[:, :2] / cam_points[:, 2:] * [921.4, 918.5] + [956.9, 555.9],
                               projected[:, 0], atol=1e-8)
    with pytest.raises(ValueError, match='1..6'):
        io.calibration_path(root, 7)


def test_camera_errors_name_file_and_field(tmp_path):
    path = _write_json(str(tmp_path / 'Color.json'), dict(_camera_json(1), R=[0.1, 0.2]))
    with pytest.raises(ValueError, match=r"Color.json: key 'R' has shape \(2,\), expected \(3,\)"):
        io.load_camera(path)
    with pytest.raises(FileNotFoundError, match='InterCap calibration not found'):
        io.load_camera(str(tmp_path / 'missing.json'))


def test_smplx_fits_keep_the_parameters_and_drop_the_camera(tmp_path):
    rng = np.random.default_rng(1)
    frames = [_smplx_frame(rng) for _ in range(4)]
    path = _write_pickle(str(tmp_path / 'res_1.pkl'), frames)
    fits = io.load_smplx_fits(path)
    assert sorted(fits) == sorted(io.SMPLX_FIT_FIELDS)
    assert fits['body_pose'].shape == (4, 63) and fits['left_hand_pose'].shape == (4, 12)
    np.testing.assert_array_equal(fits['transl'][2], frames[2]['transl'][0])
    del frames[3]['jaw_pose']
    _write_pickle(path, frames)
    with pytest.raises(ValueError, match=r"res_1.pkl \[frame 3\]: missing key 'jaw_pose'"):
        io.load_smplx_fits(path)


@pytest.mark.parametrize('as_list', [False, True])
def test_object_fits(tmp_path, as_list):
    rng = np.random.default_rng(2)
    pose, trans = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    data = ([dict(ob_pose=p, ob_trans=t) for p, t in zip(pose, trans)] if as_list
            else dict(ob_pose=pose, ob_trans=trans))
    fits = io.load_object_fits(_write_pickle(str(tmp_path / 'res_2.pkl'), data))
    np.testing.assert_allclose(fits['angle'], pose, rtol=1e-6)
    np.testing.assert_allclose(fits['trans'], trans, rtol=1e-6)


def test_object_pose_to_camera_matches_posed_points():
    rng = np.random.default_rng(3)
    camera = dict(R=Rotation.random(random_state=3).as_matrix(), T=rng.normal(size=3))
    angle, trans = rng.normal(size=3), rng.normal(size=3)
    template = rng.normal(size=(20, 3))
    world = template @ Rotation.from_rotvec(angle).as_matrix().T + trans
    rot_c, trans_c = io.object_pose_to_camera(angle, trans, camera)
    np.testing.assert_allclose(template @ rot_c.T + trans_c, io.world_to_camera(world, camera), atol=1e-12)


def test_body_params_to_camera_is_exact(surrogate_body_root):
    """The J0 rule of SMPL-family models, checked with the surrogate SMPL-H (SMPL-X rotates about J0 the same way)."""
    from hoirecon.models.body_models import SMPLH
    model = SMPLH(model_path=surrogate_body_root, gender='male', dtype=torch.float64)
    rng = np.random.default_rng(4)
    betas = torch.from_numpy(rng.normal(size=(1, 10)))
    pose = 0.3 * rng.normal(size=156)
    transl = np.array([0.1, 0.3, 2.0])
    camera = dict(R=Rotation.random(random_state=4).as_matrix(), T=rng.normal(size=3))
    orient_c, transl_c = io.smplx_params_to_camera(pose[:3], transl, model.rest_root_joint(betas)[0].numpy(), camera)
    pose_c = np.concatenate([orient_c, pose[3:]])
    world = model.forward_axis_angle(betas, torch.from_numpy(pose)[None], torch.from_numpy(transl)[None])
    cam = model.forward_axis_angle(betas, torch.from_numpy(pose_c)[None], torch.from_numpy(transl_c)[None])
    np.testing.assert_allclose(cam.vertices[0].numpy(), io.world_to_camera(world.vertices[0].numpy(), camera),
                               atol=1e-9)


def test_split_is_seeded_disjoint_and_eighty_percent(tmp_path):
    names = [f'{s:02d}_{o:02d}_{k}' for s in range(1, 11) for o in range(1, 11) for k in range(2)]
    split = io.split_sequences(names[::-1])
    assert split == io.split_sequences(names)  # independent of the listing order
    assert len(split['train']) == 160 and len(split['test']) == 40
    assert not set(split['train']) & set(split['test']) and set(split['train']) | set(split['test']) == set(names)
    assert split != io.split_sequences(names, seed=8)
    path = _write_json(str(tmp_path / 'intercap_split.json'), split)
    assert io.load_split(path) == split
    _write_json(path, dict(train=['01_01_0'], test=['01_01_0']))
    with pytest.raises(ValueError, match='both train and test'):
        io.load_split(path)
