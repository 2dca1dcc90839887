"""Synthetic 30 fps sequences in the InterCap layout, read back only through ``hoirecon.datasets.intercap_io``.

The ground truth is the generator's in-memory motion (its SMPL-X fits and their posed vertices); everything written
is read back through the readers and compared with it.
"""
import dataclasses
import filecmp
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial import cKDTree

from hoirecon.assets import ensure_surrogate_body
from hoirecon.datasets import behave_io
from hoirecon.datasets import intercap_io as io
from hoirecon.models.body_models import SMPLX
from hoirecon.models.body_models.model_files import load_model_data, resolve_model_file
from hoirecon.models.utils import axis_angle_to_matrix
from hoirecon.objects import ObjectLibrary
from hoirecon.synthetic.appearance import Lighting
from hoirecon.synthetic.generate import SequenceSpec
from hoirecon.synthetic.intercap import (InterCapFrameMaker, generate_synthetic_intercap, intercap_cameras,
                                         posed_smplx_vertices)
from hoirecon.synthetic.render import ColoredMesh, HOIRenderer, View
from hoirecon.synthetic.writer import half_resolution_mask
from hoirecon.testing.tools import load_tool
from hoirecon.utils.offscreen import Intrinsics

TINY = dict(num_sequences=2, frames_per_sequence=10, seed=3, image_size=(160, 90), cameras=(1, 2), workers=1,
            progress=False)
CAMERAS = TINY['cameras']
FRAMES = TINY['frames_per_sequence']
#: The motion is float32 and is planned twice (by the generator and by ``truth``). numpy's and torch's SIMD kernels may
#: round a float32 sum differently by the alignment of its buffer (seen in CI under pytest-xdist: 1 ulp, 1.2e-7 m
#: on a translation of 1.9 m), so the two plans agree to a few ulps, not to the bit.
FLOAT32_MOTION = dict(rtol=1e-6, atol=1e-7)


@pytest.fixture(scope='module')
def generated(tmp_path_factory, surrogate_body_root):
    root = str(tmp_path_factory.mktemp('synthetic_intercap') / 'intercap')
    return root, generate_synthetic_intercap(root, **TINY)


@pytest.fixture(scope='module')
def truth(generated):
    """name -> the generator's SMPL-X fits, object fits and posed world vertices (float64)."""
    root, summary = generated
    maker = InterCapFrameMaker(dict(TINY, out_dir=root, image_size=list(TINY['image_size'])), render=False)
    fields = {field.name for field in dataclasses.fields(SequenceSpec)}
    out = {}
    for plan in summary['sequences']:
        spec = SequenceSpec(**{key: plan[key] for key in fields})
        motion = maker.motion(spec, FRAMES)
        fits = maker.smplx_fits(spec, motion)
        out[spec.name] = dict(fits=fits, object=maker.object_fits(motion), obj_name=spec.obj_name,
                              vertices=posed_smplx_vertices(maker.smplx, fits, maker.hand_basis))
    return out


def _hand_pose(coefficients, data, side):
    """Axis-angle fingers from PCA coefficients with the model file's basis (smplx's use_pca)."""
    components = np.asarray(data[f'hands_components{side}'], np.float64)
    return coefficients.astype(np.float64) @ components[:coefficients.shape[1]] + np.asarray(
        data[f'hands_mean{side}'], np.float64)


def _pose_fits(fits, global_orient, transl):
    """SMPL-X surrogate (neutral) vertices of read fits with the given orientation / translation (float64)."""
    model = SMPLX(model_path='surrogate', gender='neutral')
    data = load_model_data(resolve_model_file(ensure_surrogate_body(model_types=('smplx', )), 'smplx', 'neutral'))
    num = len(fits['betas'])

    def rot(value, count):
        return axis_angle_to_matrix(torch.from_numpy(np.asarray(value, np.float64).reshape(num, count, 3)))

    with torch.no_grad():
        return model(betas=torch.from_numpy(fits['betas']).double(), global_orient=rot(global_orient, 1)[:, 0],
                     body_pose=rot(fits['body_pose'], 21), transl=torch.from_numpy(np.asarray(transl, np.float64)),
                     left_hand_pose=rot(_hand_pose(fits['left_hand_pose'], data, 'l'), 15),
                     right_hand_pose=rot(_hand_pose(fits['right_hand_pose'], data, 'r'), 15),
                     expression=torch.from_numpy(fits['expression']).double(), jaw_pose=rot(fits['jaw_pose'], 1)[:, 0],
                     leye_pose=rot(fits['leye_pose'], 1)[:, 0],
                     reye_pose=rot(fits['reye_pose'], 1)[:, 0]).vertices.numpy()


def _template(root, name):
    return ObjectLibrary('intercap', osp.join(root, 'objs'))[io.sequence_object(name)]


def _intrinsics(camera, image):
    K = camera['K']
    return Intrinsics(K[0, 0], K[1, 1], K[0, 2], K[1, 2], image.shape[1], image.shape[0])


def test_layout_names_and_split(generated, truth):
    root, summary = generated
    names = io.list_sequences(root)
    assert sorted(names) == sorted(truth) and summary['generated_frames'] == 2 * FRAMES
    split = io.load_split(osp.join(root, 'intercap_split.json'))
    assert sorted(split['train'] + split['test']) == sorted(names) and split['train'] and split['test']
    for name in names:
        assert io.sequence_object(name) == truth[name]['obj_name']
        for cam in CAMERAS:
            assert io.list_frames(root, name, cam) == list(range(FRAMES))
            image = behave_io.load_image(io.image_path(root, name, cam, 0))
            assert image.shape == (90, 160, 3)
            assert behave_io.load_mask(io.person_mask_path(root, name, cam, 0), (160, 90)).any()
            assert behave_io.load_mask(io.object_mask_path(root, name, cam, 0)).shape == (45, 80)
            corr = behave_io.load_correspondences(io.object_coor_path(root, name, cam, 0))
            assert not corr or corr['x3d'].shape[1] == 3
        for cam in set(range(1, 7)) - set(CAMERAS):  # calibrated, not rendered
            assert not osp.exists(io.image_path(root, name, cam, 0))
    assert sorted(os.listdir(osp.join(root, 'objs')))[:10] == [f'{i:02d}.ply' for i in range(1, 11)]


def test_calibration_round_trip(generated):
    root, _ = generated
    cameras = io.load_cameras(root)
    written = intercap_cameras(TINY['seed'], TINY['image_size'])
    assert np.all(cameras[1]['R'] == np.eye(3)) and np.all(cameras[1]['T'] == 0)
    for cam, camera in cameras.items():
        ours = written[cam]
        np.testing.assert_array_equal(camera['R'], ours['R'])
        np.testing.assert_array_equal(camera['T'], ours['T'])
        intr = ours['intrinsics']
        np.testing.assert_array_equal(camera['K'], [[intr.fx, 0, intr.cx], [0, intr.fy, intr.cy], [0, 0, 1]])
        assert camera['dist'].shape == (8, ) and not camera['dist'].any()
        raw = behave_io._load_json(io.calibration_path(root, cam), 'calibration')
        assert set(raw) == {'c', 'f', 'k', 'camera_mtx', 'view_mtx', 'R', 'T'}
        np.testing.assert_allclose(np.asarray(raw['view_mtx']), np.concatenate([camera['R'], camera['T'][:, None]], 1),
                                   atol=1e-12)
        np.testing.assert_array_equal(np.asarray(raw['camera_mtx']), camera['K'])
        if cam > 1:  # a camera around the scene, looking at the person near the world origin's scene
            assert np.linalg.norm(camera['T']) > 0.5


def test_fits_are_the_generators(generated, truth):
    root, _ = generated
    for name, gt in truth.items():
        fits = io.load_smplx_fits(osp.join(io.sequence_dir(root, name, fits=True), 'res_1.pkl'))
        for key, value in gt['fits'].items():
            np.testing.assert_allclose(fits[key], value, **FLOAT32_MOTION, err_msg=key)
        obj = io.load_object_fits(osp.join(io.sequence_dir(root, name, fits=True), 'res_2.pkl'))
        np.testing.assert_allclose(obj['angle'], gt['object']['ob_pose'], **FLOAT32_MOTION)
        np.testing.assert_allclose(obj['trans'], gt['object']['ob_trans'], **FLOAT32_MOTION)
        assert np.all(fits['betas'] == fits['betas'][0]) and not fits['expression'].any()
        assert np.abs(fits['left_hand_pose']).max() > 0  # the grasp survives the 12-component projection


def test_camera_frame_vertices_match_the_generator(generated, truth):
    root, _ = generated
    cameras = io.load_cameras(root)
    model = SMPLX(model_path='surrogate', gender='neutral')
    for name, gt in truth.items():
        fits = io.load_smplx_fits(osp.join(io.sequence_dir(root, name, fits=True), 'res_1.pkl'))
        root_joint = model.rest_root_joint(torch.from_numpy(fits['betas']).double()).numpy()
        for cam in CAMERAS:
            orient, transl = io.smplx_params_to_camera(fits['global_orient'].astype(np.float64),
                                                       fits['transl'].astype(np.float64), root_joint, cameras[cam])
            verts = _pose_fits(fits, orient, transl)
            expected = io.world_to_camera(gt['vertices'], cameras[cam])
            assert np.abs(verts - expected).max() < 1e-5, (name, cam, np.abs(verts - expected).max())
        # the object pose in the camera
        obj = io.load_object_fits(osp.join(io.sequence_dir(root, name, fits=True), 'res_2.pkl'))
        template = _template(root, name).vertices
        for cam in CAMERAS:
            for i in (0, FRAMES - 1):
                rot, trans = io.object_pose_to_camera(obj['angle'][i], obj['trans'][i], cameras[cam])
                world = behave_io.object_vertices(template, gt['object']['ob_pose'][i], gt['object']['ob_trans'][i])
                np.testing.assert_allclose(template @ rot.T + trans, io.world_to_camera(world, cameras[cam]),
                                           rtol=0, atol=1e-6)  # 1 micrometre: float32 motion, see FLOAT32_MOTION


def test_motion_is_smooth_and_in_contact(truth, generated):
    root, _ = generated
    for name, gt in truth.items():
        verts = gt['vertices']
        assert np.linalg.norm(np.diff(verts, axis=0), axis=-1).max() < 0.05  # < 1.5 m/s for any vertex at 30 fps
        template = _template(root, name).vertices
        gaps = [cKDTree(behave_io.object_vertices(template, angle, trans)).query(v)[0].min()
                for angle, trans, v in zip(gt['object']['ob_pose'], gt['object']['ob_trans'], verts)]
        assert max(gaps) < 0.02, (name, gaps)


def test_meshes_are_the_posed_fits(generated, truth):
    root, _ = generated
    model = SMPLX(model_path='surrogate', gender='neutral')
    for name, gt in truth.items():
        fits = io.load_smplx_fits(osp.join(io.sequence_dir(root, name, fits=True), 'res_1.pkl'))
        obj = io.load_object_fits(osp.join(io.sequence_dir(root, name, fits=True), 'res_2.pkl'))
        posed = _pose_fits(fits, fits['global_orient'], fits['transl'])
        template = _template(root, name)
        for i in range(FRAMES):
            body_path, obj_path = io.gt_mesh_paths(root, name, i)
            body = trimesh.load(body_path, process=False)
            assert np.abs(np.asarray(body.vertices) - posed[i]).max() < 1e-5
            np.testing.assert_array_equal(np.asarray(body.faces), model.faces)
            thing = trimesh.load(obj_path, process=False)
            expected = behave_io.object_vertices(template.vertices, obj['angle'][i], obj['trans'][i])
            assert np.abs(np.asarray(thing.vertices) - expected).max() < 1e-5
            np.testing.assert_array_equal(np.asarray(thing.faces), template.faces)


def test_written_masks_match_masks_rendered_from_the_fits(generated):
    root, _ = generated
    cameras = io.load_cameras(root)
    lighting = Lighting(direction=np.array([0.0, 1.0, 0.0]), color=np.ones(3), intensity=2.0, fill_intensity=1.0,
                        ambient=np.full(3, 0.3))
    model = SMPLX(model_path='surrogate', gender='neutral')
    counts = np.zeros((2, 2))  # (person, object) x (intersection, union)
    renderer = None
    try:
        for name in io.list_sequences(root):
            fits = io.load_smplx_fits(osp.join(io.sequence_dir(root, name, fits=True), 'res_1.pkl'))
            obj = io.load_object_fits(osp.join(io.sequence_dir(root, name, fits=True), 'res_2.pkl'))
            verts = _pose_fits(fits, fits['global_orient'], fits['transl'])
            template = _template(root, name)
            image = behave_io.load_image(io.image_path(root, name, CAMERAS[0], 0))
            if renderer is None:
                renderer = HOIRenderer(image.shape[1], image.shape[0])
            views = [View(_intrinsics(cameras[cam], image), cameras[cam]['R'], cameras[cam]['T']) for cam in CAMERAS]
            for i in io.list_frames(root, name, CAMERAS[0]):
                body = ColoredMesh(verts[i], model.faces, np.full((len(verts[i]), 4), 200, np.uint8))
                thing = ColoredMesh(behave_io.object_vertices(template.vertices, obj['angle'][i], obj['trans'][i]),
                                    template.faces, np.full((len(template.vertices), 4), 200, np.uint8))
                for cam, render in zip(CAMERAS, renderer.render(body, thing, None, lighting, views)):
                    written = (behave_io.load_mask(io.person_mask_path(root, name, cam, i)),
                               behave_io.load_mask(io.object_mask_path(root, name, cam, i)))
                    ours = (render.person_mask, half_resolution_mask(render.object_full))
                    for row, (a, b) in enumerate(zip(ours, written)):
                        counts[row] += [(a & b).sum(), (a | b).sum()]
    finally:
        if renderer is not None:
            renderer.close()
    iou = counts[:, 0] / counts[:, 1]
    assert iou.min() > 0.95, iou


def test_correspondences_are_on_the_object(generated, truth):
    root, _ = generated
    cameras = io.load_cameras(root)
    name = sorted(truth)[0]
    gt = truth[name]
    image = behave_io.load_image(io.image_path(root, name, CAMERAS[0], 0))
    for cam in CAMERAS:
        intr = _intrinsics(cameras[cam], image)
        corr = behave_io.load_correspondences(io.object_coor_path(root, name, cam, 0))
        if not corr:
            continue
        rot, trans = io.object_pose_to_camera(gt['object']['ob_pose'][0], gt['object']['ob_trans'][0], cameras[cam])
        points = corr['x3d'] @ rot.T + trans
        pixels = points[:, :2] / points[:, 2:] * [intr.fx, intr.fy] + [intr.cx, intr.cy]
        assert np.median(np.linalg.norm(pixels - corr['x2d'], axis=1)) < 1.5  # half-resolution blocks


def test_keypoints_are_the_posed_fits_projected(generated, truth):
    """OpenPose-like BODY_25 at StackFLOW's path: confident detections lie near the projected joints of the fits."""
    root, _ = generated
    cameras = io.load_cameras(root)
    model = SMPLX(model_path='surrogate', gender='neutral')
    errors = []
    for name, gt in truth.items():
        image = behave_io.load_image(io.image_path(root, name, CAMERAS[0], 0))
        with torch.no_grad():
            joints = model.body25(torch.from_numpy(gt['vertices'])).numpy()
        for cam in CAMERAS:
            intr = _intrinsics(cameras[cam], image)
            for i in range(FRAMES):
                keypoints = behave_io.load_body_keypoints(io.openpose_path(root, name, cam, i))
                points = io.world_to_camera(joints[i], cameras[cam])
                pixels = points[:, :2] / points[:, 2:] * [intr.fx, intr.fy] + [intr.cx, intr.cy]
                confident = keypoints[:, 2] > 0.5
                errors += np.linalg.norm(keypoints[confident, :2] - pixels[confident], axis=1).tolist()
    assert len(errors) > 100 and np.median(errors) < 4.0, (len(errors), np.median(errors))


def test_resume_rewrites_deleted_frames_identically(generated, tmp_path):
    root, _ = generated
    name = io.list_sequences(root)[0]
    frame = 4
    paths = [io.image_path(root, name, cam, frame) for cam in CAMERAS] + [
        io.person_mask_path(root, name, CAMERAS[1], frame), io.object_coor_path(root, name, CAMERAS[0], frame),
        io.gt_mesh_paths(root, name, frame)[0], io.openpose_path(root, name, CAMERAS[0], frame)]
    kept = tmp_path / 'kept'
    kept.mkdir()
    for i, path in enumerate(paths):
        shutil.copyfile(path, kept / f'{i}{osp.splitext(path)[1]}')
        os.remove(path)
    res_1 = osp.join(io.sequence_dir(root, name, fits=True), 'res_1.pkl')
    with open(res_1, 'rb') as f:
        fits_before = f.read()
    summary = generate_synthetic_intercap(root, **TINY)
    assert summary['generated_frames'] == 1 and summary['skipped_frames'] == 2 * FRAMES - 1
    for i, path in enumerate(paths):
        assert filecmp.cmp(path, kept / f'{i}{osp.splitext(path)[1]}', shallow=False), path
    with open(res_1, 'rb') as f:
        assert f.read() == fits_before
    assert not [f for f in os.listdir(osp.dirname(paths[0])) if '.tmp-' in f]
    summary = generate_synthetic_intercap(root, **TINY)
    assert summary['generated_frames'] == 0
    with pytest.raises(ValueError, match='other parameters'):
        generate_synthetic_intercap(root, **dict(TINY, seed=4))


def test_world_is_camera_one(generated, truth):
    """Camera 1's frame is the world: its camera-frame fit is the world fit, and the person is in front of it."""
    root, _ = generated
    camera = io.load_cameras(root)[1]
    for gt in truth.values():
        assert np.all(io.world_to_camera(gt['vertices'][0], camera) == gt['vertices'][0])
        assert np.median(gt['vertices'][0][:, 2]) > 0.5


def _load_tool():
    return load_tool('make_synthetic_sequences')


def test_tool_options_per_layout():
    tool = _load_tool()
    args = tool.parse_args(['--out', 'x'])
    assert args.layout == 'behave_extended' and args.num_sequences == 6 and args.frames_per_sequence == 150
    assert tuple(args.image_size) == (512, 384) and args.cameras is None
    args = tool.parse_args(['--out', 'x', '--layout', 'intercap', '--cameras', '1', '3', '--objects', 'cup'])
    assert tuple(args.image_size) == (480, 270) and args.cameras == [1, 3] and args.test_fraction == 0.2
    assert args.keypoint_noise == 2.0
    for wrong in (['--layout', 'intercap', '--kinects', '0'], ['--layout', 'intercap', '--corr-points', '9'],
                  ['--cameras', '2'], ['--objects', 'cup'], ['--layout', 'intercap', '--objects', 'stool']):
        with pytest.raises(SystemExit):
            tool.parse_args(['--out', 'x'] + wrong)
