"""The BEHAVE annotation cache: exact camera-frame targets, boxes, the male-betas fit, file errors and the CLI."""
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
import torch

from hoirecon.datasets import annotations
from hoirecon.datasets.annotations import (ANNOTATION_FIELDS, annotation_files, build_annotations, image_id,
                                           load_annotations, mask_box, read_image_record, union_box)
from hoirecon.datasets.behave_io import (BehaveFormatError, load_extrinsics, load_object_fit, load_person_fit,
                                         load_sequence_info, object_vertices, world_to_camera_points)
from hoirecon.evaluation.functional import object_visibility_ratio
from hoirecon.models.body_models import SMPLH
from hoirecon.objects import ObjectLibrary
from hoirecon.testing.tools import load_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def caches(behave_annotation_dir):
    """split -> (arrays, params) of both caches."""
    return {split: load_annotations(behave_annotation_dir, split) for split in ('train', 'test')}


@pytest.fixture(scope='module')
def bodies(surrogate_body_root):
    return {gender: SMPLH(surrogate_body_root, gender=gender).double() for gender in ('male', 'female')}


def _rows(caches):
    """(arrays, index) of every image of both splits."""
    return [(arrays, i) for arrays, _ in caches.values() for i in range(len(arrays['img_id']))]


def _camera(arrays, i, root):
    info = load_sequence_info(osp.join(root, 'sequences', str(arrays['sequence'][i])))
    return load_extrinsics(osp.join(info['config_dir'], str(arrays['kinect'][i]), 'config.json'))


def _t(array):
    return torch.as_tensor(np.asarray(array, np.float64))[None]


def _pose_camera_body(model, arrays, i, betas_key='betas', transl_key='transl'):
    hands = _t(arrays['hand_pose'][i])
    return model(betas=_t(arrays[betas_key][i]), global_orient=_t(arrays['global_orient'][i]),
                 body_pose=_t(arrays['body_pose'][i]), transl=_t(arrays[transl_key][i]),
                 left_hand_pose=hands[:, :15], right_hand_pose=hands[:, 15:])


def test_cache_files_load_without_pickle(behave_annotation_dir, caches):
    for split, (arrays, params) in caches.items():
        npz_path, json_path = annotation_files(behave_annotation_dir, split)
        with np.load(npz_path, allow_pickle=False) as data:
            assert sorted(data.files) == sorted(ANNOTATION_FIELDS)
            num = len(data['img_id'])
            assert num == 8  # 2 frames x 4 kinects of one sequence
            for name, (shape, dtype) in ANNOTATION_FIELDS.items():
                assert data[name].shape == (num, ) + shape, name
                assert data[name].dtype.kind == ('U' if dtype is str else np.dtype(dtype).kind), name
        with open(json_path) as f:
            sidecar = json.load(f)
        assert sidecar == params
        assert params['split'] == split and params['kinects'] == [0, 1, 2, 3] and params['surrogate'] is True
        assert params['body_model'] == dict(type='SMPLH', model_path='surrogate', gender='male')
        assert params['num_images'] == 8 and params['synthetic'] is True


def test_image_ids_follow_stackflow():
    assert image_id('Date03_Sub04_keyboard_typing', 't0026.000', 3) == '3_4_keyboard_typing_026_3'
    assert image_id('Date01_Sub01_boxlong', 't0003.000', 0) == '1_1_boxlong_none_003_0'
    assert image_id('Date05_Sub05_yogaball_play_part2', 't0012.033', 1) == '5_5_yogaball_play_part2_012.033_1'
    with pytest.raises(ValueError, match='Date<dd>_Sub<ss>'):
        image_id('boxlong', 't0003.000', 0)


def test_ids_and_paths_match_the_files(behave_synthetic_root, caches):
    for arrays, i in _rows(caches):
        sequence, frame, kinect = str(arrays['sequence'][i]), str(arrays['frame'][i]), int(arrays['kinect'][i])
        assert arrays['img_id'][i] == image_id(sequence, frame, kinect)
        assert arrays['img_path'][i] == osp.join('sequences', sequence, frame, f'k{kinect}.color.jpg')
        for key in ('img_path', 'person_mask_path', 'object_mask_path', 'object_full_mask_path', 'keypoints_path',
                    'corr_path'):
            assert osp.isfile(osp.join(behave_synthetic_root, str(arrays[key][i]))), key


def test_box_helpers():
    mask = np.zeros((10, 12), bool)
    mask[2:5, 3:6] = True
    np.testing.assert_array_equal(mask_box(mask), [2.5, 1.5, 5.5, 4.5])
    np.testing.assert_array_equal(mask_box(np.zeros((4, 4), bool)), np.zeros(4))
    np.testing.assert_array_equal(union_box(np.array([1., 2, 3, 4]), np.zeros(4), np.array([0., 3, 2, 8])),
                                  [0, 2, 3, 8])


def test_camera_frame_body_equals_transformed_world_body(behave_synthetic_root, caches, bodies):
    """Posing with the camera-frame parameters gives the world body mapped by the extrinsics (exact formula)."""
    for arrays, i in _rows(caches):
        model = bodies[str(arrays['gender'][i])]
        frame_dir = osp.join(behave_synthetic_root, 'sequences', str(arrays['sequence'][i]), str(arrays['frame'][i]))
        fit = load_person_fit(osp.join(frame_dir, 'person', 'fit02', 'person_fit.pkl'))
        rot, trans = _camera(arrays, i, behave_synthetic_root)
        world = model.forward_axis_angle(_t(fit['betas']), _t(fit['pose']), _t(fit['trans']))
        expected = world_to_camera_points(world.vertices[0].numpy(), rot, trans)
        camera = _pose_camera_body(model, arrays, i)
        np.testing.assert_allclose(camera.vertices[0].numpy(), expected, atol=1e-5)
        np.testing.assert_allclose(camera.joints[0, 0].numpy(), arrays['hoi_t'][i], atol=1e-5)
        np.testing.assert_allclose(arrays['hoi_R'][i], arrays['global_orient'][i])
        # StackFLOW's BEHAVE shortcut trans_k = R^T (trans - T) misses the root-joint term (exact only for k1 = world)
        shortcut = (fit['trans'] - trans) @ rot
        assert (np.abs(shortcut - arrays['transl'][i]).max() > 1e-3) == (not np.allclose(rot, np.eye(3)))


def test_relative_pose_composes_to_the_object_pose(behave_synthetic_root, caches):
    library = ObjectLibrary('behave', template_dir=osp.join(behave_synthetic_root, 'objects'))
    for arrays, i in _rows(caches):
        hoi_R, hoi_t = arrays['hoi_R'][i].astype(np.float64), arrays['hoi_t'][i].astype(np.float64)
        np.testing.assert_allclose(hoi_R @ arrays['rel_R'][i], arrays['object_R'][i], atol=1e-5)
        np.testing.assert_allclose(hoi_R @ arrays['rel_t'][i] + hoi_t, arrays['object_t'][i], atol=1e-5)
        name = str(arrays['object_name'][i])
        assert library.names[arrays['object_label'][i]] == name
        frame_dir = osp.join(behave_synthetic_root, 'sequences', str(arrays['sequence'][i]), str(arrays['frame'][i]))
        fit = load_object_fit(osp.join(frame_dir, name, 'fit01', f'{name}_fit.pkl'))
        template = library[name]
        world = object_vertices(template.vertices, fit['angle'], fit['trans'])
        expected = world_to_camera_points(world, *_camera(arrays, i, behave_synthetic_root))
        np.testing.assert_allclose(template.posed(arrays['object_R'][i], arrays['object_t'][i]), expected, atol=1e-5)
        num = len(template.keypoints)
        np.testing.assert_allclose(arrays['object_kpts_3d'][i][:num], template.keypoints, atol=1e-6)
        assert not arrays['object_kpts_3d'][i][num:].any()
        np.testing.assert_array_equal(arrays['object_kpts_weights'][i], np.arange(16) < num)


def test_projected_object_fills_the_object_box(behave_synthetic_root, caches):
    library = ObjectLibrary('behave', template_dir=osp.join(behave_synthetic_root, 'objects'))
    checked = 0
    for arrays, i in _rows(caches):
        posed = library[str(arrays['object_name'][i])].posed(arrays['object_R'][i], arrays['object_t'][i])
        uv = posed @ arrays['cam_K'][i].T
        uv = uv[:, :2] / uv[:, 2:]
        width, height = arrays['image_size'][i]
        inside = (uv[:, 0] > -0.5) & (uv[:, 0] < width - 0.5) & (uv[:, 1] > -0.5) & (uv[:, 1] < height - 0.5)
        box = arrays['object_box'][i]
        assert arrays['visibility'][i] <= 1.0 and arrays['visibility'][i] >= 0.0
        np.testing.assert_array_equal(arrays['hoi_box'][i], union_box(arrays['person_box'][i], box))
        if not inside.any():
            continue
        uv = uv[inside]
        # every projected vertex lies in the box (1 px for rasterisation and JPEG edges) ...
        assert np.all(uv >= box[:2] - 1.0) and np.all(uv <= box[2:] + 1.0)
        # ... and the box is tight around them (unless the object leaves the image)
        np.testing.assert_allclose(np.concatenate([uv.min(0), uv.max(0)]), box, atol=1.5)
        checked += 1
    assert checked >= 8


def test_male_betas_reproduce_the_female_body(caches, bodies):
    """The fitted male body matches the female body: mean vertex error < 2 cm (measured ~3-4 mm).

    The surrogate's female body differs from the male one by gendered lengths and girths, which its 10-component
    shape space (PCA over random anthropometries) mostly spans, so a few millimetres remain.
    """
    genders = {g for arrays, _ in caches.values() for g in arrays['gender']}
    assert genders == {'male', 'female'}, 'the fixture must hold a female and a male subject'
    for arrays, i in _rows(caches):
        if arrays['gender'][i] == 'male':
            np.testing.assert_array_equal(arrays['betas_male'][i], arrays['betas'][i])
            continue
        assert not np.allclose(arrays['betas_male'][i], arrays['betas'][i])
        female = _pose_camera_body(bodies['female'], arrays, i)
        male = _pose_camera_body(bodies['male'], arrays, i, 'betas_male', 'transl_male')
        np.testing.assert_allclose(male.joints[0, 0].numpy(), arrays['hoi_t'][i], atol=1e-5)
        fitted_error = (male.vertices - female.vertices).norm(dim=-1).mean().item()
        unfitted = _pose_camera_body(bodies['male'], arrays, i)
        unfitted_error = (unfitted.vertices - unfitted.joints[:, :1] - female.vertices + female.joints[:, :1]).norm(
            dim=-1).mean().item()
        assert fitted_error < 0.02
        assert fitted_error < unfitted_error


def test_joints_3d_are_the_male_model_joints(caches, bodies):
    for arrays, i in _rows(caches):
        male = _pose_camera_body(bodies['male'], arrays, i, 'betas_male', 'transl_male')
        np.testing.assert_allclose(male.joints[0, :22].numpy(), arrays['joints_3d'][i], atol=1e-5)


@pytest.fixture
def root_copy(behave_synthetic_root, tmp_path):
    """A writable copy of the synthetic dataset (data only, the body models are shared)."""
    copy = str(tmp_path / 'behave')
    shutil.copytree(behave_synthetic_root, copy, ignore=shutil.ignore_patterns('annotations', 'body_models'))
    return copy


def _first_frame(root, split):
    with open(osp.join(root, 'split.json')) as f:
        sequence = json.load(f)[split][0]
    return sequence, osp.join(root, 'sequences', sequence, 't0003.000')


def test_missing_and_corrupt_files_are_named(root_copy):
    _, frame_dir = _first_frame(root_copy, 'test')
    fit = osp.join(frame_dir, 'person', 'fit02', 'person_fit.pkl')
    os.remove(fit)
    with pytest.raises(FileNotFoundError, match='person_fit.pkl'):
        build_annotations(root_copy, 'test', progress=False)
    _, frame_dir = _first_frame(root_copy, 'train')
    mask = osp.join(frame_dir, 'k2.person_mask.jpg')
    with open(mask, 'wb') as f:
        f.write(b'not a jpeg')
    with pytest.raises(BehaveFormatError, match='k2.person_mask.jpg'):
        build_annotations(root_copy, 'train', progress=False)
    with pytest.raises(ValueError, match='unknown split'):
        build_annotations(root_copy, 'val', progress=False)


def test_full_mask_falls_back_to_half_resolution_mask_full(root_copy, caches):
    sequence, frame_dir = _first_frame(root_copy, 'train')
    full_record = read_image_record(root_copy, sequence, 't0003.000', 1, (128, 96))
    os.remove(osp.join(frame_dir, 'k1.obj_rend_full.jpg'))
    half_record = read_image_record(root_copy, sequence, 't0003.000', 1, (128, 96))
    assert half_record['object_full_mask_scale'] == 2
    assert half_record['object_full_mask_path'] == osp.join('object_coor_maps', sequence, 't0003.000',
                                                            'k1.mask_full.jpg')
    np.testing.assert_allclose(half_record['object_box'], full_record['object_box'], atol=2.0)
    assert abs(half_record['visibility'] - full_record['visibility']) < 0.15


def test_visibility_is_the_evaluation_protocol_ratio(root_copy, monkeypatch):
    """The cache stores evaluation.functional.object_visibility_ratio of the two masks, not clipped at 1."""
    sequence, frame_dir = _first_frame(root_copy, 'train')

    def mask(kinect, kind):
        return cv2.imread(osp.join(frame_dir, f'k{kinect}.obj_rend_{kind}.jpg'), cv2.IMREAD_GRAYSCALE)

    kinect = max(range(4), key=lambda k: int((mask(k, 'full') > 127).sum()))
    calls = []

    def spy(*args, **kwargs):
        calls.append(args)
        return object_visibility_ratio(*args, **kwargs)

    monkeypatch.setattr(annotations, 'object_visibility_ratio', spy)
    record = read_image_record(root_copy, sequence, 't0003.000', kinect, (128, 96))
    assert len(calls) == 1
    assert record['visibility'] == object_visibility_ratio(mask(kinect, 'mask'), mask(kinect, 'full')) > 0
    # a visible mask a little larger than the full one (JPEG or half-resolution edges) keeps its ratio above 1
    grown = cv2.dilate(mask(kinect, 'full'), np.ones((3, 3), np.uint8))
    cv2.imwrite(osp.join(frame_dir, f'k{kinect}.obj_rend_mask.jpg'), grown)
    record = read_image_record(root_copy, sequence, 't0003.000', kinect, (128, 96))
    assert record['visibility'] == object_visibility_ratio(mask(kinect, 'mask'), mask(kinect, 'full')) > 1.0


def test_cli_builds_the_requested_kinects(root_copy, tmp_path):
    cli = load_tool('dataset_converters/behave')
    out = str(tmp_path / 'annotations_k1')
    paths = cli.main(['--data-root', root_copy, '--split', 'test', '--kinects', '1', '--out', out, '--workers', '1'])
    assert paths == [annotation_files(out, 'test')[0]]
    arrays, params = load_annotations(out, 'test')
    assert params['kinects'] == [1] and set(arrays['kinect']) == {1} and len(arrays['img_id']) == 2
    with pytest.raises(SystemExit):
        cli.parse_args(['--data-root', root_copy, '--kinects', '7'])
