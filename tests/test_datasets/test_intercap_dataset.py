"""InterCapDataset on a tiny generated synthetic InterCap tree, checked against the written meshes and masks."""
import os.path as osp
import shutil

import numpy as np
import pytest
import torch

from hoirecon.datasets import InterCapDataset
from hoirecon.datasets import intercap_io as io
from hoirecon.datasets.annotations import (BodyModelSet, annotation_files, build_annotations, load_annotations,
                                           projected_box)
from hoirecon.datasets.behave_io import load_mask
from hoirecon.datasets.frame_sources import frame_source
from hoirecon.datasets.intercap_frames import SUBJECT_GENDER, InterCapFrameSource
from hoirecon.evaluation.functional.visibility import object_visibility_ratio_from_person
from hoirecon.models.body_models import SMPLX
from hoirecon.objects import ObjectLibrary
from hoirecon.objects.io import read_mesh
from hoirecon.testing.tools import load_tool

#: Two 8-frame sequences (one train, one test) seen by cameras 1 and 2 at 96 x 54 pixels.
TINY_INTERCAP = dict(num_sequences=2, frames_per_sequence=8, seed=0, image_size=(96, 54), cameras=(1, 2),
                     test_fraction=0.5)


@pytest.fixture(scope='module')
def intercap_root(tmp_path_factory):
    from hoirecon.synthetic.intercap import generate_synthetic_intercap
    root = str(tmp_path_factory.mktemp('intercap_synthetic') / 'intercap')
    generate_synthetic_intercap(root, workers=1, progress=False, **TINY_INTERCAP)
    return root


@pytest.fixture(scope='module')
def dataset(intercap_root, tmp_path_factory):
    cache = str(tmp_path_factory.mktemp('intercap_cache'))
    return InterCapDataset(intercap_root, split='test', kinects=(1, 2), annotation_dir=cache)


def test_frames_come_by_sequence_camera_and_time(dataset, intercap_root):
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    test = io.load_split(osp.join(intercap_root, 'intercap_split.json'))['test']
    assert len(infos) == 2 * 8 and {info['sequence'] for info in infos} == set(test)
    keys = [(info['sequence'], info['kinect'], info['frame_index']) for info in infos]
    assert keys == sorted(keys)
    for camera in (1, 2):
        run = [info for info in infos if info['kinect'] == camera]
        assert [info['frame_index'] for info in run] == list(range(8))
        assert [info['frame'] for info in run] == [f'{i:05d}' for i in range(8)]
        assert [info['img_id'] for info in run] == [io.image_id(test[0], camera, i) for i in range(8)]
        assert all(info['img_path'] == io.image_path(intercap_root, test[0], camera, i) for i, info in enumerate(run))
    assert dataset.metainfo['dataset_name'] == 'intercap' and len(dataset.metainfo['classes']) == 10
    assert all(info['gender'] == 'neutral' for info in infos)
    assert all(info['object_name'] == io.sequence_object(info['sequence']) for info in infos)
    assert all(info['object_label'] == dataset.metainfo['classes'].index(info['object_name']) for info in infos)


def test_camera_frame_smplx_bodies_and_objects_match_the_written_meshes(dataset, intercap_root):
    model = SMPLX(model_path='surrogate', gender='neutral', dtype=torch.float64)
    cameras = io.load_cameras(intercap_root)
    library = ObjectLibrary('intercap', osp.join(intercap_root, 'objs'))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    rotations = torch.stack([torch.cat([torch.as_tensor(info['global_orient'])[None],
                                        torch.as_tensor(info['body_pose']), torch.as_tensor(info['hand_pose'])])
                             for info in infos]).double()
    with torch.no_grad():
        posed = model(betas=torch.as_tensor(np.stack([info['betas'] for info in infos])).double(),
                      global_orient=rotations[:, 0], body_pose=rotations[:, 1:22],
                      left_hand_pose=rotations[:, 22:37], right_hand_pose=rotations[:, 37:],
                      transl=torch.as_tensor(np.stack([info['transl'] for info in infos])).double())
        # the training model is the neutral SMPL-X itself: betas_male / transl_male pose the same body
        same = model(betas=torch.as_tensor(np.stack([info['betas_male'] for info in infos])).double(),
                     global_orient=rotations[:, 0], body_pose=rotations[:, 1:22], left_hand_pose=rotations[:, 22:37],
                     right_hand_pose=rotations[:, 37:],
                     transl=torch.as_tensor(np.stack([info['transl_male'] for info in infos])).double())
    for n, info in enumerate(infos):
        body_ply, object_ply = io.gt_mesh_paths(intercap_root, info['sequence'], info['frame_index'])
        camera = cameras[info['kinect']]
        expected = io.world_to_camera(read_mesh(body_ply)[0], camera)
        assert np.abs(posed.vertices[n].numpy() - expected).max() < 1e-5
        assert np.abs(same.vertices[n].numpy() - expected).max() < 1e-5
        np.testing.assert_allclose(posed.joints[n, 0].numpy(), info['hoi_t'], atol=1e-5)
        np.testing.assert_allclose(info['joints_3d'], posed.joints[n, :22].numpy(), atol=1e-5)
        template = library[info['object_name']].vertices.astype(np.float64)
        placed = template @ info['object_R'].astype(np.float64).T + info['object_t']
        assert np.abs(placed - io.world_to_camera(read_mesh(object_ply)[0], camera)).max() < 1e-5
        np.testing.assert_allclose(info['cam_K'], camera['K'])
        np.testing.assert_array_equal(info['image_size'], TINY_INTERCAP['image_size'])


def test_visibility_boxes_keypoints_and_correspondences_follow_the_files(dataset):
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        width, height = (int(v) for v in info['image_size'])
        person = load_mask(info['person_mask_path'], (width, height))
        half = load_mask(info['object_full_mask_path'], (width // 2, height // 2))
        assert info['object_full_mask_scale'] == 2 and info['object_mask_path'] == ''
        expected = object_visibility_ratio_from_person(half, person, 2)
        assert info['visibility'] == pytest.approx(expected, abs=1e-6, nan_ok=True)
        rows, cols = np.nonzero(person)
        np.testing.assert_allclose(info['person_box'], [cols.min() - 0.5, rows.min() - 0.5, cols.max() + 0.5,
                                                        rows.max() + 0.5])
        assert info['keypoints_path'].endswith(f"{info['frame']}_keypoints.json")
        assert (info['person_kpts'][:, 2] > 0).sum() >= 10
        assert info['corr_path'].endswith(osp.join(f"Frames_Cam{info['kinect']}", 'obj_coor', f"{info['frame']}.pkl"))


def test_a_missing_full_mask_counts_as_visible_and_a_missing_image_is_left_out(intercap_root, tmp_path):
    root = str(tmp_path / 'copy')
    shutil.copytree(intercap_root, root, symlinks=True)
    source = frame_source('intercap', root)
    assert isinstance(source, InterCapFrameSource)
    name = source.split_sequences('test')[0]
    for path in (io.object_mask_path(root, name, 1, 3), io.image_path(root, name, 2, 5)):
        shutil.os.remove(path)
    cache = str(tmp_path / 'cache')
    build_annotations(root, 'test', kinects=(1, 2), annotation_dir=cache, progress=False, source=source)
    arrays, params = load_annotations(cache, 'test', 'intercap')
    assert params['dataset'] == 'intercap' and params['missing_images'] == 1 and len(arrays['img_id']) == 15
    assert params['body_model']['type'] == 'SMPLX' and params['body_model']['gender'] == 'neutral'
    assert io.image_id(name, 2, 5) not in set(arrays['img_id'])
    row = list(arrays['img_id']).index(io.image_id(name, 1, 3))
    assert arrays['visibility'][row] == 1.0 and arrays['object_full_mask_path'][row] == ''
    template = ObjectLibrary('intercap', osp.join(root, 'objs'))[arrays['object_name'][row]].vertices
    placed = template @ arrays['object_R'][row].T.astype(np.float64) + arrays['object_t'][row]
    size = tuple(int(v) for v in arrays['image_size'][row])
    np.testing.assert_allclose(arrays['object_box'][row], projected_box(placed, arrays['cam_K'][row], size))
    assert osp.basename(annotation_files(cache, 'test', 'intercap')[0]) == 'intercap_test.npz'


def test_gender_rules_and_training_body_models(intercap_root):
    source = InterCapFrameSource(intercap_root)
    assert source.sequence_gender('03_01_0') == 'neutral'  # a synthetic tree: neutral fits
    real = InterCapFrameSource(osp.join(intercap_root, 'no_such_root'))
    assert real.sequence_gender('03_01_0') == 'female' and real.sequence_gender('09_02_1') == 'male'
    assert InterCapFrameSource(intercap_root, fit_gender='male').sequence_gender('03_01_0') == 'male'
    assert sorted(SUBJECT_GENDER) == [f'{s:02d}' for s in range(1, 11)]
    assert BodyModelSet(dict(type='SMPLX', model_path='surrogate', gender='neutral')).training_gender == 'neutral'
    with pytest.raises(ValueError, match="SMPL-X with gender 'neutral'"):
        BodyModelSet(dict(type='SMPLX', model_path='surrogate', gender='male'))
    with pytest.raises(ValueError, match="SMPL-H with gender 'male'"):
        BodyModelSet(dict(type='SMPL', model_path='surrogate', gender='male'))


def test_the_hand_pca_becomes_axis_angle_with_the_model_files_mean(intercap_root, monkeypatch):
    from hoirecon.datasets import intercap_frames
    from hoirecon.synthetic.intercap import hand_pca_to_axis_angle, load_hand_basis
    source = InterCapFrameSource(intercap_root)
    name = source.split_sequences('train')[0]
    seq = source.read_sequence(name, (1, ))
    fits = io.load_smplx_fits(osp.join(io.sequence_dir(intercap_root, name, fits=True), 'res_1.pkl'))
    basis = load_hand_basis(osp.join(intercap_root, 'body_models'))
    assert seq.pose.shape == (8, 165) and seq.frames[0] == '00000'
    np.testing.assert_allclose(seq.pose[:, 75:120], hand_pca_to_axis_angle(fits['left_hand_pose'], basis['left']),
                               atol=1e-12)
    np.testing.assert_allclose(seq.pose[:, 120:], hand_pca_to_axis_angle(fits['right_hand_pose'], basis['right']),
                               atol=1e-12)
    np.testing.assert_array_equal(seq.pose[:, 66:75], 0.0)  # jaw and eyes at rest in the synthetic fits
    # the surrogate's hand means are zero: a file with a mean adds it (flat_hand_mean=False), hand_mean=False not
    load = intercap_frames.load_model_data
    mean = np.linspace(-0.3, 0.3, 45)
    monkeypatch.setattr(intercap_frames, 'load_model_data',
                        lambda path: dict(load(path), hands_meanl=mean, hands_meanr=-mean))
    with_mean = InterCapFrameSource(intercap_root).read_sequence(name, (1, ))
    flat = InterCapFrameSource(intercap_root, hand_mean=False).read_sequence(name, (1, ))
    np.testing.assert_allclose(with_mean.pose[:, 75:120] - seq.pose[:, 75:120], np.broadcast_to(mean, (8, 45)),
                               atol=1e-12)
    np.testing.assert_allclose(with_mean.pose[:, 120:] - seq.pose[:, 120:], np.broadcast_to(-mean, (8, 45)),
                               atol=1e-12)
    np.testing.assert_allclose(flat.pose, seq.pose, atol=1e-12)


def test_gendered_fits_get_neutral_betas_with_the_root_joint_kept(intercap_root, tmp_path):
    # the real release's fits are gendered: forced here on the synthetic tree (fit_gender), the female SMPL-X shape
    # is refitted to the neutral training model, whose root joint stays at the fit's (hoi_t)
    source = InterCapFrameSource(intercap_root, fit_gender='female')
    build_annotations(intercap_root, 'test', kinects=(1, ), annotation_dir=str(tmp_path), progress=False,
                      source=source, workers=1)
    arrays, params = load_annotations(str(tmp_path), 'test', 'intercap')
    assert [shape['gender'] for shape in params['betas_fit']['shapes']] == ['female']
    assert sorted(params['body_model_files']) == ['female', 'neutral'] and set(arrays['gender']) == {'female'}
    assert not np.allclose(arrays['betas_male'], arrays['betas'])
    neutral = SMPLX(model_path='surrogate', gender='neutral', dtype=torch.float64)
    with torch.no_grad():
        root = neutral.rest_root_joint(torch.as_tensor(arrays['betas_male']).double()).numpy()
    np.testing.assert_allclose(arrays['transl_male'] + root, arrays['hoi_t'], atol=1e-5)


def test_the_converter_builds_the_intercap_cache_with_its_cameras_and_body_model(intercap_root, tmp_path):
    tool = load_tool('dataset_converters/behave')
    paths = tool.main(['--data-root', intercap_root, '--layout', 'intercap', '--split', 'test', '--out',
                       str(tmp_path), '--body-model-path', 'surrogate'])
    assert osp.basename(paths[0]) == 'intercap_test.npz'
    arrays, params = load_annotations(str(tmp_path), 'test', 'intercap')
    assert params['body_model']['type'] == 'SMPLX' and params['body_model']['gender'] == 'neutral'
    assert set(arrays['kinect'].tolist()) == {1, 2}  # the default 1-6, of which the tree has cameras 1 and 2
    with pytest.raises(SystemExit):
        tool.parse_args(['--data-root', intercap_root, '--layout', 'intercap', '--kinects', '0'])


def test_correspondence_dataset_on_intercap_frames(intercap_root, tmp_path):
    """InterCapCorrespondenceDataset: InterCap's reader and order with coordinate targets rendered from its fits;
    the unprojected coordinates of the silhouette lie on the posed template and project back onto their pixels."""
    from hoirecon.datasets import InterCapCorrespondenceDataset
    from hoirecon.datasets.correspondence_targets import coordinate_target_files
    cache = str(tmp_path / 'cache')
    dataset = InterCapCorrespondenceDataset(intercap_root, split='test', kinects=(1, ), annotation_dir=cache)
    assert osp.isfile(coordinate_target_files(cache, 'test', 'intercap')[0])
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert 0 < len(infos) <= 8 and [info['frame_index'] for info in infos] == sorted(info['frame_index']
                                                                                     for info in infos)
    library = ObjectLibrary('intercap', template_dir=osp.join(intercap_root, 'objs'))
    checked = 0
    for info in infos:
        full = info['coord_full']
        if not full.any():
            continue
        points = info['coord_map'][full].astype(np.float64)  # object-frame metres, float16 in the cache
        template = library[info['object_name']]
        distances = np.linalg.norm(points[:, None] - template.vertices[None], axis=-1).min(axis=1)
        extent = template.vertices.max(axis=0) - template.vertices.min(axis=0)
        assert np.median(distances) < 0.05 * extent.max()  # near the surface (vertices, not faces: loose)
        camera = points @ info['object_R'].T + info['object_t']
        pixels = camera[:, :2] / camera[:, 2:] * np.diag(info['cam_K'])[:2] + info['cam_K'][:2, 2]
        col, row, _, _ = info['coord_box']
        rows, cols = np.nonzero(full)
        np.testing.assert_allclose(np.median(np.abs(pixels - np.stack([cols + col, rows + row], 1)), axis=0), 0,
                                   atol=0.75)
        checked += 1
    assert checked > 0
