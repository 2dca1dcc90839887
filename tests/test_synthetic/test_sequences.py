"""Synthetic 30 fps sequences in the BEHAVE-extended layout, read back only through the dataset readers."""
import dataclasses
import os.path as osp

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from hoirecon.datasets import behave_extended_io as ext
from hoirecon.datasets import behave_io as io
from hoirecon.models.body_models import SMPLH
from hoirecon.objects import ObjectLibrary
from hoirecon.synthetic.appearance import Lighting
from hoirecon.synthetic.behave_extended import PAIR_SEQUENCE, generate_synthetic_sequences
from hoirecon.synthetic.generate import SequenceSpec
from hoirecon.synthetic.render import ColoredMesh, HOIRenderer, View
from hoirecon.synthetic.sequences import MotionMaker, frame_times, posed_body_vertices
from hoirecon.synthetic.writer import half_resolution_mask
from hoirecon.utils.offscreen import Intrinsics

TINY = dict(num_sequences=2, frames_per_sequence=12, seed=3, image_size=(96, 72), kinects=(0, 1), corr_num_points=64,
            workers=1, progress=False)
KINECTS = TINY['kinects']


@pytest.fixture(scope='module')
def generated(tmp_path_factory, surrogate_body_root):
    root = str(tmp_path_factory.mktemp('synthetic_sequences') / 'behave_extended')
    summary = generate_synthetic_sequences(root, **TINY)
    return root, summary


@pytest.fixture(scope='module')
def sequences(generated):
    """name -> (read fits, generator motion, generator context), the fits read by behave_extended_io only."""
    root, summary = generated
    maker = MotionMaker(dict(out_dir=root, seed=TINY['seed'], image_size=list(TINY['image_size'])))
    fields = {field.name for field in dataclasses.fields(SequenceSpec)}
    out = {}
    for plan in summary['sequences']:
        spec = SequenceSpec(**{key: plan[key] for key in fields})
        context = maker.sequence_context(spec)
        out[spec.name] = (ext.load_sequence_fits(root, spec.name), maker.motion(spec, TINY['frames_per_sequence']),
                          context)
    return out


def _camera(root, name, kinect):
    info = io.load_sequence_info(osp.join(root, 'sequences', name))
    intr = io.load_intrinsics(osp.join(info['intrinsic_dir'], str(kinect), 'calibration.json'))
    rot, trans = io.load_extrinsics(osp.join(info['config_dir'], str(kinect), 'config.json'))
    return info, Intrinsics(intr['fx'], intr['fy'], intr['cx'], intr['cy'], intr['width'], intr['height']), rot, trans


def _object_template(root, name):
    return ObjectLibrary('behave', osp.join(root, 'objects'))[name]


def test_layout_and_the_two_part_sequence(generated):
    root, summary = generated
    names = ext.list_sequences(root)
    assert PAIR_SEQUENCE in names and len(names) == 2 and summary['generated_frames'] == 24
    first = ext.load_smpl_fit_all(osp.join(ext.sequence_params_dir(root, PAIR_SEQUENCE), 'smpl_fit_all.npz'))
    second = ext.load_smpl_fit_all(osp.join(ext.sequence_params_dir(root, ext.SPLIT_SEQUENCES[PAIR_SEQUENCE]),
                                            'smpl_fit_all.npz'))
    assert len(first['frame_times']) == len(second['frame_times']) == 6
    merged = ext.load_sequence_fits(root, PAIR_SEQUENCE)
    times = list(merged['smpl']['frame_times'])
    assert times == list(first['frame_times']) + list(second['frame_times']) == frame_times(12)
    assert times[:2] == ['t0003.000', 't0003.033']
    assert np.all(np.diff([ext.frame_seconds(t) for t in times]) > 0.03)
    np.testing.assert_array_equal(merged['smpl']['poses'], np.concatenate([first['poses'], second['poses']]))
    split = io.load_split(osp.join(root, 'split.json'))
    assert sorted(split['train'] + split['test']) == sorted(names + [ext.SPLIT_SEQUENCES[PAIR_SEQUENCE]])
    for name in names:
        for frame_time in ext.load_sequence_fits(root, name)['smpl']['frame_times']:
            for k in KINECTS:
                assert io.load_image(ext.image_path(root, name, frame_time, k)).shape == (72, 96, 3)
                assert io.load_mask(ext.person_mask_path(root, name, frame_time, k), (96, 72)).any()
                assert io.load_mask(ext.object_mask_path(root, name, frame_time, k)).shape == (36, 48)
                corr = io.load_correspondences(ext.correspondences_path(root, name, frame_time, k))
                assert not corr or corr['x3d'].shape[1] == 3
            assert not osp.exists(ext.image_path(root, name, frame_time, 2))
    for frame_time in second['frame_times']:  # the second recording's own images, also seen under the first name
        assert osp.samefile(ext.image_path(root, ext.SPLIT_SEQUENCES[PAIR_SEQUENCE], frame_time, 0),
                            ext.image_path(root, PAIR_SEQUENCE, frame_time, 0))


def test_fits_are_the_generators(sequences):
    for name, (fits, motion, _) in sequences.items():
        # float32 motion planned twice: a few ulps apart where SIMD kernels round by buffer alignment (AVX-512)
        for got, planned in ((fits['smpl']['poses'], motion.poses), (fits['smpl']['trans'], motion.trans),
                             (fits['smpl']['betas'], motion.betas), (fits['object']['angles'], motion.object_angles),
                             (fits['object']['trans'], motion.object_trans)):
            np.testing.assert_allclose(got, planned, rtol=1e-6, atol=1e-7)
        assert list(fits['object']['frame_times']) == motion.frame_times
        assert np.all(fits['smpl']['betas'] == fits['smpl']['betas'][0])


def test_camera_frame_vertices_match_the_generator(generated, sequences):
    root, _ = generated
    for name, (fits, motion, context) in sequences.items():
        generator_world = posed_body_vertices(context, motion).astype(np.float64)
        betas = torch.from_numpy(fits['smpl']['betas']).double()
        for k in KINECTS:
            info, _, rot, trans = _camera(root, name, k)
            model = SMPLH(model_path='surrogate', gender=info['gender'])
            root_joint = model.rest_root_joint(betas).numpy()
            pose_k, trans_k = io.smplh_params_to_camera(fits['smpl']['poses'].astype(np.float64),
                                                        fits['smpl']['trans'].astype(np.float64), root_joint, rot,
                                                        trans)
            with torch.no_grad():
                verts_k = model.forward_axis_angle(betas, torch.from_numpy(pose_k),
                                                   torch.from_numpy(trans_k)).vertices.numpy()
            expected = io.world_to_camera_points(generator_world, rot, trans)
            assert np.abs(verts_k - expected).max() < 1e-5


def test_motion_is_smooth_and_the_object_stays_in_contact(generated, sequences):
    root, _ = generated
    for name, (fits, _, context) in sequences.items():
        smpl = fits['smpl']
        with torch.no_grad():
            out = context.model.forward_axis_angle(torch.from_numpy(smpl['betas']), torch.from_numpy(smpl['poses']),
                                                   torch.from_numpy(smpl['trans']))
        joints, verts = out.joints[:, :52].numpy(), out.vertices.numpy()
        assert np.linalg.norm(np.diff(joints, axis=0), axis=-1).max() < 0.05  # < 1.5 m/s at 30 fps
        template = _object_template(root, name.split('_')[2]).vertices
        gaps = [cKDTree(io.object_vertices(template, angle, t)).query(v)[0].min()
                for angle, t, v in zip(fits['object']['angles'], fits['object']['trans'], verts)]
        assert max(gaps) < 0.02, (name, gaps)
        assert np.linalg.norm(np.diff(fits['object']['trans'], axis=0), axis=-1).max() < 0.05


def test_written_masks_match_masks_rendered_from_the_fits(generated, sequences):
    root, _ = generated
    renderer = HOIRenderer(*TINY['image_size'])
    lighting = Lighting(direction=np.array([0.0, 1.0, 0.0]), color=np.ones(3), intensity=2.0, fill_intensity=1.0,
                        ambient=np.full(3, 0.3))
    counts = np.zeros((2, 2))  # (person, object) x (intersection, union)
    try:
        for name, (fits, _, context) in sequences.items():
            smpl, obj = fits['smpl'], fits['object']
            template = _object_template(root, name.split('_')[2])
            with torch.no_grad():
                verts = context.model.forward_axis_angle(torch.from_numpy(smpl['betas']),
                                                         torch.from_numpy(smpl['poses']),
                                                         torch.from_numpy(smpl['trans'])).vertices.numpy()
            gray = np.full((len(verts[0]), 4), 200, np.uint8)
            for i, frame_time in enumerate(smpl['frame_times']):
                body = ColoredMesh(verts[i], context.model.faces, gray)
                thing = ColoredMesh(io.object_vertices(template.vertices, obj['angles'][i], obj['trans'][i]),
                                    template.faces, np.full((len(template.vertices), 4), 200, np.uint8))
                views = []
                for k in KINECTS:
                    _, intrinsics, rot, trans = _camera(root, name, k)
                    views.append(View(intrinsics, *io.invert_rigid(rot, trans)))
                for k, render in zip(KINECTS, renderer.render(body, thing, None, lighting, views)):
                    written = (io.load_mask(ext.person_mask_path(root, name, frame_time, k)),
                               io.load_mask(ext.object_mask_path(root, name, frame_time, k)))
                    for row, (ours, theirs) in enumerate(zip((render.person_mask,
                                                              half_resolution_mask(render.object_full)), written)):
                        counts[row] += [(ours & theirs).sum(), (ours | theirs).sum()]
    finally:
        renderer.close()
    iou = counts[:, 0] / counts[:, 1]
    assert iou.min() > 0.95, iou


def test_resuming_a_complete_set_writes_nothing(generated):
    root, _ = generated
    summary = generate_synthetic_sequences(root, **TINY)
    assert summary['generated_frames'] == 0 and summary['skipped_frames'] == 24
    with pytest.raises(ValueError, match='other parameters'):
        generate_synthetic_sequences(root, **dict(TINY, seed=4))
