"""Body estimates beside the images (BEHAVE's k*.mocap.json, FrankMocap's layout): the reader and writer, the
transform that loads one, and the CHORE-style fit that starts from it."""
import json

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hoirecon.datasets.behave_io import BehaveFormatError
from hoirecon.datasets.body_estimates import body_estimate_path, read_body_estimate, write_body_estimate
from hoirecon.datasets.transforms import LoadBodyEstimate, PackCHOREInputs
from hoirecon.models.body_models import SMPLH
from hoirecon.models.chore import group_parts
from hoirecon.models.chore.reconstructor import place_posed_body
from hoirecon.models.utils import axis_angle_to_matrix


def random_rotations(rng, count, scale=1.0):
    return Rotation.from_rotvec(rng.normal(0, scale, (count, 3))).as_matrix()


def test_write_then_read_gives_the_rotations_back_in_smpl_layout(tmp_path):
    rng = np.random.default_rng(0)
    go, pose, betas = random_rotations(rng, 1)[0], random_rotations(rng, 21, 0.5), rng.normal(size=16)
    path = str(tmp_path / 'Date01_Sub01_box' / 't0003.000' / 'k1.mocap.json')
    write_body_estimate(path, go, pose, betas)
    raw = json.load(open(path))
    assert len(raw['pose']) == 72 and len(raw['betas']) == 10
    # SMPL's layout: the root's axis-angle first, the two SMPL hand joints (22, 23) zero for a 21-joint body
    np.testing.assert_allclose(raw['pose'][:3], Rotation.from_matrix(go).as_rotvec(), atol=1e-6)
    assert raw['pose'][66:] == [0.0] * 6
    est = read_body_estimate(path)
    np.testing.assert_allclose(est['global_orient'], go, atol=1e-5)
    np.testing.assert_allclose(est['body_pose'], pose, atol=1e-5)
    np.testing.assert_allclose(est['betas'], betas[:10], atol=1e-6)
    # an SMPL reader takes the hands too (identity here)
    smpl = read_body_estimate(path, num_body_joints=23)
    assert smpl['body_pose'].shape == (23, 3, 3)
    np.testing.assert_allclose(smpl['body_pose'][21:], np.broadcast_to(np.eye(3), (2, 3, 3)), atol=1e-6)


def test_a_real_frankmocap_file_layout_reads(tmp_path):
    """FrankMocap's own file: 72 pose values (SMPL) and 10 betas, written by another program."""
    rng = np.random.default_rng(1)
    pose = rng.normal(0, 0.3, 72)
    path = tmp_path / 'k1.mocap.json'
    path.write_text(json.dumps(dict(pose=pose.tolist(), betas=rng.normal(size=10).tolist())))
    est = read_body_estimate(str(path))
    np.testing.assert_allclose(est['body_pose'][4], Rotation.from_rotvec(pose[15:18]).as_matrix(), atol=1e-5)


def test_bad_estimate_files_name_the_file_and_the_fix(tmp_path):
    missing = str(tmp_path / 'k2.mocap.json')
    with pytest.raises(FileNotFoundError, match='export_body_estimates.py'):
        read_body_estimate(missing)
    bad = tmp_path / 'bad.mocap.json'
    bad.write_text('{"pose": [0.0, ')
    with pytest.raises(BehaveFormatError, match='bad.mocap.json: not valid JSON'):
        read_body_estimate(str(bad))
    bad.write_text(json.dumps(dict(pose=[0.0] * 72)))
    with pytest.raises(BehaveFormatError, match="no field 'betas'"):
        read_body_estimate(str(bad))
    bad.write_text(json.dumps(dict(pose=[0.0] * 30, betas=[0.0] * 10)))
    with pytest.raises(BehaveFormatError, match="'pose' has 30 values"):
        read_body_estimate(str(bad))
    with pytest.raises(ValueError, match=r'joint\(s\) \[0, 3\] .* not rotation'):  # a collapsed prediction
        write_body_estimate(str(tmp_path / 'x.json'), np.zeros((3, 3)),
                            np.concatenate([np.eye(3)[None]] * 2 + [np.zeros((1, 3, 3))] + [np.eye(3)[None]] * 18),
                            np.zeros(10))
    with pytest.raises(ValueError, match='body_pose must be'):
        write_body_estimate(str(tmp_path / 'x.json'), np.eye(3), np.zeros((5, 3, 3)), np.zeros(10))
    assert body_estimate_path('/d/Date01_Sub01_box/t0003.000/k1.color.jpg') == \
        '/d/Date01_Sub01_box/t0003.000/k1.mocap.json'
    assert body_estimate_path('/d/Frames_Cam1/color/00012.jpg') == '/d/Frames_Cam1/color/00012.mocap.json'


def test_load_body_estimate_and_pack(tmp_path):
    rng = np.random.default_rng(2)
    img_path = str(tmp_path / 'k0.color.jpg')
    write_body_estimate(body_estimate_path(img_path), np.eye(3), random_rotations(rng, 21, 0.3), np.ones(10))
    results = LoadBodyEstimate()(dict(img_path=img_path))
    assert results['estimate_body_pose'].shape == (21, 3, 3) and results['estimate_betas'].dtype == np.float32
    other = str(tmp_path / 'k3.color.jpg')
    assert 'estimate_body_pose' not in LoadBodyEstimate(missing='skip')(dict(img_path=other))
    with pytest.raises(FileNotFoundError, match='k3.mocap.json'):
        LoadBodyEstimate()(dict(img_path=other))
    with pytest.raises(ValueError, match="'error' or 'skip'"):
        LoadBodyEstimate(missing='warn')
    packed = PackCHOREInputs(meta_keys=())(dict(results, img=np.zeros((8, 8, 3), np.uint8),
                                                person_mask=np.zeros((8, 8), bool),
                                                object_full_mask=np.zeros((8, 8), bool)))
    obs = packed['data_samples'].observations
    assert tuple(obs.estimate_body_pose.shape) == (1, 21, 3, 3)
    torch.testing.assert_close(obs.estimate_betas, torch.ones(1, 10))


def test_place_posed_body_recovers_a_translation():
    body = SMPLH('surrogate', gender='male', dtype=torch.float64)
    parts = torch.as_tensor(group_parts(body.part_labels, 14))
    eye = torch.eye(3, dtype=torch.float64)
    posed = body(betas=torch.zeros(1, 10, dtype=torch.float64), global_orient=eye[None],
                 body_pose=axis_angle_to_matrix(torch.full((1, 21, 3), 0.1, dtype=torch.float64))).vertices[0]
    t = torch.tensor([0.3, -0.2, 2.5], dtype=torch.float64)
    torch.testing.assert_close(place_posed_body(posed + t, parts, posed, parts, (0, 1, 8, 9)), t)
    # no anchor part seen: the centroids of everything
    torch.testing.assert_close(place_posed_body(posed[parts == 5] + t, parts[parts == 5], posed[parts == 5],
                                                parts[parts == 5], (0, 1, 8, 9)), t)
