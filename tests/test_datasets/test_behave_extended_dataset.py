"""BEHAVEExtendedDataset on a generated synthetic BEHAVE-extended tree, checked against the generator's motion."""
import dataclasses
import json
import os.path as osp

import numpy as np
import pytest
import torch

from hoirecon.datasets import BEHAVEExtendedDataset
from hoirecon.datasets import behave_extended_io as ext
from hoirecon.datasets import behave_io as io
from hoirecon.datasets.annotations import annotation_files, build_annotations, load_annotations, projected_box
from hoirecon.datasets.behave_extended_frames import BEHAVEExtendedFrameSource
from hoirecon.evaluation.functional.visibility import object_visibility_ratio_from_person
from hoirecon.models.body_models import SMPLH
from hoirecon.objects import ObjectLibrary
from hoirecon.synthetic.generate import SequenceSpec
from hoirecon.synthetic.sequences import MotionMaker, posed_body_vertices

TINY_SEED = 3


@pytest.fixture(scope='module')
def dataset(behave_extended_synthetic_root, tmp_path_factory):
    cache = str(tmp_path_factory.mktemp('extended_cache'))
    return BEHAVEExtendedDataset(behave_extended_synthetic_root, split='test', kinects=(0, 1), annotation_dir=cache)


@pytest.fixture(scope='module')
def motions(behave_extended_synthetic_root):
    """sequence name -> (generator motion, generator context), re-planned from the manifest's plan."""
    root = behave_extended_synthetic_root
    manifest = json.load(open(osp.join(root, 'synthetic_manifest.json')))
    params = manifest['params']
    maker = MotionMaker(dict(out_dir=root, seed=params['seed'], image_size=params['image_size']))
    from hoirecon.synthetic.behave_extended import plan_sequence_set, PAIR_OBJECT
    from hoirecon.synthetic.generate import load_objects
    geometries = load_objects(root, tuple(params['objects']))
    specs = plan_sequence_set(params['num_sequences'], params['seed'], geometries, params['test_fraction'],
                              load_objects(root, (PAIR_OBJECT, ))[PAIR_OBJECT])
    out = {}
    for spec in specs:
        spec = SequenceSpec(**{f.name: getattr(spec, f.name) for f in dataclasses.fields(SequenceSpec)})
        out[spec.name] = (maker.motion(spec, params['frames_per_sequence'], params['key_spacing']),
                          maker.sequence_context(spec))
    return out


def test_frames_come_by_sequence_kinect_and_time(dataset):
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert len(infos) == 2 * 12  # the merged two-part test sequence, 12 frames x 2 kinects
    keys = [(info['sequence'], info['kinect'], info['frame_index']) for info in infos]
    assert keys == sorted(keys)
    assert {info['sequence'] for info in infos} == {'Date03_Sub04_boxtiny'}  # the second part merged into it
    for kinect in (0, 1):
        run = [info for info in infos if info['kinect'] == kinect]
        assert [info['frame_index'] for info in run] == list(range(90, 102))  # video frames of 3.000 s ... 3.367 s
        assert [info['frame'] for info in run] == sorted((info['frame'] for info in run), key=ext.frame_seconds)
    assert infos[1]['img_id'] == '3_4_boxtiny_none_003.033_0'
    assert dataset.metainfo['dataset_name'] == 'behave_extended'


def test_camera_frame_targets_match_the_generator(dataset, motions, behave_extended_synthetic_root):
    root = behave_extended_synthetic_root
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        motion, context = motions[info['sequence']]
        index = info['frame_index'] - 90  # the generator's frames start at 3.0 s
        seq_info = io.load_sequence_info(osp.join(root, 'sequences', info['sequence']))
        rot, trans = io.load_extrinsics(osp.join(seq_info['config_dir'], str(info['kinect']), 'config.json'))
        world = posed_body_vertices(context, motion, np.array([index]))[0].astype(np.float64)
        expected = io.world_to_camera_points(world, rot, trans)
        model = SMPLH(model_path='surrogate', gender=info['gender'], dtype=torch.float64)
        rotations = torch.cat([torch.as_tensor(info['global_orient'])[None], torch.as_tensor(info['body_pose']),
                               torch.as_tensor(info['hand_pose'])]).double()[None]
        with torch.no_grad():
            posed = model(betas=torch.as_tensor(info['betas']).double()[None], global_orient=rotations[:, :1],
                          body_pose=rotations[:, 1:22], left_hand_pose=rotations[:, 22:37],
                          right_hand_pose=rotations[:, 37:], transl=torch.as_tensor(info['transl']).double()[None])
        assert np.abs(posed.vertices[0].numpy() - expected).max() < 1e-5
        obj_R, obj_t = io.object_pose_to_camera(motion.object_angles[index], motion.object_trans[index], rot, trans)
        np.testing.assert_allclose(info['object_R'], obj_R, atol=1e-6)
        np.testing.assert_allclose(info['object_t'], obj_t, atol=1e-6)


def test_visibility_boxes_keypoints_and_correspondences_follow_the_files(dataset):
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        width, height = (int(v) for v in info['image_size'])
        person = io.load_mask(info['person_mask_path'], (width, height))
        half = io.load_mask(info['object_full_mask_path'], (width // 2, height // 2))
        assert info['object_full_mask_scale'] == 2 and info['object_mask_path'] == ''
        assert info['visibility'] == pytest.approx(object_visibility_ratio_from_person(half, person, 2), abs=1e-6)
        rows, cols = np.nonzero(person)
        np.testing.assert_allclose(info['person_box'], [cols.min() - 0.5, rows.min() - 0.5, cols.max() + 0.5,
                                                        rows.max() + 0.5])
        assert info['keypoints_path'].endswith(f"k{info['kinect']}.color_keypoints.json")
        np.testing.assert_array_equal(info['person_kpts'], io.load_body_keypoints(info['keypoints_path']))
        # OpenPose-like detections near the true BODY_25 projections of the fitted body
        assert (info['person_kpts'][:, 2] > 0).sum() >= 10
        assert info['corr_path'].endswith(f"k{info['kinect']}.obj_coor.pkl")


def test_a_frame_without_its_full_mask_counts_as_visible_and_boxes_the_projected_fit(
        behave_extended_synthetic_root, tmp_path):
    source = BEHAVEExtendedFrameSource(behave_extended_synthetic_root)
    seq = source.read_sequence('Date03_Sub04_boxtiny', (0, ))
    frame, size = seq.frames[3], seq.kinects[0].size
    record = source.read_image(seq.name, frame, 0, size)
    assert record['object_box'] is not None and 0 < record['visibility'] <= 1
    mask = ext.object_mask_path(behave_extended_synthetic_root, seq.name, frame, 0)
    moved = str(tmp_path / 'mask_full.jpg')
    import shutil
    shutil.move(mask, moved)
    try:
        missing = source.read_image(seq.name, frame, 0, size)
        cache = str(tmp_path / 'cache')
        build_annotations(behave_extended_synthetic_root, 'test', kinects=(0, ), annotation_dir=cache, progress=False,
                          source=source)
    finally:
        shutil.move(moved, mask)
    assert missing['visibility'] == 1.0 and missing['object_box'] is None and missing['object_full_mask_path'] == ''
    arrays, params = load_annotations(cache, 'test', 'behave_extended')
    row = list(arrays['frame']).index(frame)
    template = ObjectLibrary('behave', osp.join(behave_extended_synthetic_root, 'objects'))['boxtiny'].vertices
    placed = template @ arrays['object_R'][row].T.astype(np.float64) + arrays['object_t'][row]
    np.testing.assert_allclose(arrays['object_box'][row], projected_box(placed, arrays['cam_K'][row], size))
    # the projected box of the fit covers (roughly) what the rendered mask covered
    assert arrays['object_box'][row][2] > arrays['object_box'][row][0]
    assert params['dataset'] == 'behave_extended' and params['missing_images'] == 0
    assert osp.basename(annotation_files(cache, 'test', 'behave_extended')[0]) == 'behave_extended_test.npz'


def test_missing_video_frames_are_left_out_and_counted(behave_extended_synthetic_root, tmp_path):
    root = behave_extended_synthetic_root
    image = ext.image_path(root, 'Date03_Sub04_boxtiny', 't0003.100', 1)
    moved = str(tmp_path / 'color.jpg')
    import shutil
    shutil.move(image, moved)
    try:
        build_annotations(root, 'test', kinects=(0, 1), annotation_dir=str(tmp_path), progress=False,
                          source=BEHAVEExtendedFrameSource(root))
    finally:
        shutil.move(moved, image)
    arrays, params = load_annotations(str(tmp_path), 'test', 'behave_extended')
    assert params['missing_images'] == 1 and len(arrays['img_id']) == 2 * 12 - 1
    assert '3_4_boxtiny_none_003.100_1' not in set(arrays['img_id'])


def test_a_split_sequence_without_30fps_fits_is_named(behave_extended_synthetic_root, tmp_path):
    import shutil
    root = str(tmp_path / 'copy')
    shutil.copytree(behave_extended_synthetic_root, root, symlinks=True)
    shutil.rmtree(ext.sequence_params_dir(root, 'Date03_Sub04_boxtiny'))
    with pytest.raises(FileNotFoundError, match='Date03_Sub04_boxtiny.*no 30 fps fits'):
        BEHAVEExtendedFrameSource(root).split_sequences('test')
