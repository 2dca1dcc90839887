"""tools/demo.py end to end on a tiny synthetic image with a tiny random-weight model, and its input errors."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import trimesh
from mmengine.config import Config
from mmengine.registry import DefaultScope

from hoirecon.registry import MODELS

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_stackflow.py')


def _args(frame, checkpoint, out, *extra):
    return [frame['image'], '--config', CONFIG, '--checkpoint', checkpoint, '--object', frame['name'],
            '--person-mask', frame['person'], '--object-mask', frame['object'], '--keypoints', frame['keypoints'],
            '--correspondences', frame['corr'], '--calibration', frame['calibration'], '--out', str(out), *extra]


def test_demo_writes_meshes_scene_pictures_and_parameters(demo, frame, checkpoint, tmp_path):
    summary = demo.main(_args(frame, checkpoint, tmp_path, '--refine', '--hypotheses', '3'))
    image = cv2.imread(frame['image'])
    assert cv2.imread(str(tmp_path / 'summary.png')).shape[1] >= 4 * image.shape[1]  # input, network, refined, side
    for name in ('overlay.png', 'side_view.png', 'overlay_before_refinement.png'):
        picture = cv2.imread(str(tmp_path / name))
        assert picture.shape == image.shape, name
    assert not np.array_equal(cv2.imread(str(tmp_path / 'overlay.png')), image)  # something was drawn
    sheet = cv2.imread(str(tmp_path / f"hypotheses_0_{frame['name']}.png"))
    assert sheet.shape[0] >= 2 * image.shape[0] and sheet.shape[1] >= 2 * image.shape[1]  # 3 tiles on a 2 x 2 grid

    written = json.load(open(tmp_path / 'reconstruction.json'))
    assert written['refined'] and len(written['objects']) == 1
    obj = written['objects'][0]
    assert {'prediction', 'network_prediction', 'pnp_initialised', 'hypotheses'} <= set(obj)
    assert len(obj['hypotheses']) == 3 and all(np.isfinite(h['log_prob']) for h in obj['hypotheses'])
    # the exported object mesh is the template posed by the parameters of the JSON
    from hoirecon.objects import ObjectLibrary
    template = ObjectLibrary('behave')[frame['name']]
    ply = trimesh.load(str(tmp_path / f"object0_{frame['name']}.ply"), process=False)
    posed = np.asarray(template.vertices) @ np.array(obj['prediction']['object_R']).T + obj['prediction']['object_t']
    np.testing.assert_allclose(ply.vertices, posed, atol=1e-5)
    human = trimesh.load(str(tmp_path / 'human.obj'), process=False)
    assert len(human.vertices) == 6890
    scene = trimesh.load(str(tmp_path / 'scene.glb'))
    assert len(scene.geometry) == 2
    assert summary['files']['overlay'].endswith('overlay.png')


def test_two_objects_share_one_refined_person(demo, frame, checkpoint, tmp_path):
    demo.main(_args(frame, checkpoint, tmp_path, '--refine', '--object', frame['name'], '--object-mask', '-',
                    '--object-bbox', '10,10,60,60'))
    objects = json.load(open(tmp_path / 'reconstruction.json'))['objects']
    assert len(objects) == 2
    for key in ('betas', 'body_pose', 'hoi_t'):
        np.testing.assert_allclose(objects[0]['prediction'][key], objects[1]['prediction'][key])
    # without refinement each crop keeps its own network estimate of the person
    demo.main(_args(frame, checkpoint, tmp_path, '--object', frame['name'], '--object-mask', '-', '--object-bbox',
                    '10,10,60,60'))
    objects = json.load(open(tmp_path / 'reconstruction.json'))['objects']
    assert not np.allclose(objects[0]['prediction']['hoi_t'], objects[1]['prediction']['hoi_t'])


def test_missing_or_bad_inputs_are_reported(demo, frame, checkpoint, tmp_path):
    base = [frame['image'], '--config', CONFIG, '--checkpoint', checkpoint, '--out', str(tmp_path)]
    with pytest.raises(ValueError, match=r'--person-mask MASK .*--bbox x0 .*--keypoints FILE or auto'):
        demo.main(base + ['--object', frame['name']])
    with pytest.raises(ValueError, match='not a category of this model'):
        demo.main(base + ['--object', 'spaceship', '--bbox', '0', '0', '50', '50'])
    with pytest.raises(FileNotFoundError, match='nothere.json'):
        demo.main(base + ['--object', frame['name'], '--bbox', '0', '0', '50', '50', '--keypoints',
                          str(tmp_path / 'nothere.json')])
    with pytest.raises(ValueError, match='--object-mask was given 2 times'):
        demo.main(base + ['--object', frame['name'], '--object-mask', frame['object'], '--object-mask',
                          frame['object'], '--bbox', '0', '0', '50', '50'])
    with pytest.raises(ValueError, match='--bbox must be'):
        demo.main(base + ['--object', frame['name'], '--bbox', '50', '0', '10', '50'])
    with pytest.raises(FileNotFoundError, match='--checkpoint'):
        demo.main([frame['image'], '--config', CONFIG, '--checkpoint', str(tmp_path / 'none.pth'), '--object',
                   frame['name'], '--bbox', '0', '0', '50', '50', '--out', str(tmp_path)])


def test_openpose_json_layouts(tmp_path):
    from hoirecon.datasets.behave_io import load_body_keypoints
    kpts = np.arange(75, dtype=np.float32).reshape(25, 3)
    path = tmp_path / 'openpose.json'
    person = {'person_id': [-1], 'pose_keypoints_2d': kpts.ravel().tolist(), 'face_keypoints_2d': []}
    path.write_text(json.dumps({'version': 1.3, 'people': [person]}))
    np.testing.assert_array_equal(load_body_keypoints(str(path)), kpts)
    path.write_text(json.dumps({'version': 1.3, 'people': []}))
    np.testing.assert_array_equal(load_body_keypoints(str(path)), np.zeros((25, 3)))
    path.write_text(json.dumps({'people': [{'pose_keypoints_2d': [1.0] * 10}]}))
    with pytest.raises(Exception, match='pose_keypoints_2d'):
        load_body_keypoints(str(path))


def test_stackflow_style_files_and_a_ply_template(demo, frame, checkpoint, tmp_path):
    """StackFLOW's demo names (*.color_keypoints.json in OpenPose layout, *.object_coor.<obj>.pkl, a .ply)."""
    import shutil
    keypoints = json.load(open(frame['keypoints']))['body_joints']
    openpose = tmp_path / 'img.color_keypoints.json'
    openpose.write_text(json.dumps({'version': 1.3, 'people': [{'person_id': [-1], 'pose_keypoints_2d': keypoints}]}))
    corr = tmp_path / f"img.object_coor.{frame['name']}.pkl"
    shutil.copy(frame['corr'], corr)
    box = trimesh.creation.box(extents=(0.3, 0.2, 0.1))
    template = tmp_path / 'template.ply'
    box.export(str(template))
    out = tmp_path / 'out'
    demo.main([frame['image'], '--config', CONFIG, '--checkpoint', checkpoint, '--object', frame['name'],
               '--person-mask', frame['person'], '--keypoints', str(openpose), '--correspondences', str(corr),
               '--template', str(template), '--calibration', frame['calibration'], '--refine', '--out', str(out)])
    written = json.load(open(out / 'reconstruction.json'))
    assert 'no --keypoints' not in ' '.join(written['notes'])
    assert any('box comes from the correspondences' in note for note in written['notes'])
    exported = trimesh.load(str(out / f"object0_{frame['name']}.ply"), process=False)
    pose = written['objects'][0]['prediction']
    np.testing.assert_allclose(exported.vertices, box.vertices @ np.array(pose['object_R']).T + pose['object_t'],
                               atol=1e-5)


@pytest.mark.filterwarnings('ignore:offset PCA')  # the tiny world fits few components
def test_checkpoint_alone_carries_the_relation_pca(frame, behave_synthetic_root, tmp_path):
    """An OffsetPCA model runs from its checkpoint when the config's PCA file is not on this machine."""
    from hoirecon.apis import fit_relation_pca
    from hoirecon.apis.inference import build_model
    pca = str(tmp_path / 'pca.npz')
    fit_relation_pca(behave_synthetic_root, pca, dict(type='SMPLH', model_path='surrogate', gender='male'),
                     pca_dim=4, smpl_anchor_num=2, object_anchor_num=8)
    cfg = Config.fromfile(CONFIG)
    cfg.model.relation_encoder = dict(type='OffsetPCA', pca_file=pca, pca_dim=4, smpl_anchor_num=2, object_anchor_num=8)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('hoirecon'):
        model = MODELS.build(cfg.model)
    checkpoint = str(tmp_path / 'with_pca.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)
    cfg.model.relation_encoder.pca_file = str(tmp_path / 'elsewhere.npz')  # not on this machine
    loaded = build_model(cfg, checkpoint)
    for name in ('mean_y', 'decode_basis', 'human_anchor_indices'):
        torch.testing.assert_close(getattr(loaded.relation_encoder, name), getattr(model.relation_encoder, name))
    no_pca = str(tmp_path / 'no_pca.pth')
    torch.save({'state_dict': {k: v for k, v in model.state_dict().items() if 'relation_encoder' not in k},
                'meta': {}}, no_pca)
    with pytest.raises(FileNotFoundError, match='elsewhere.npz does not exist'):
        build_model(cfg, no_pca)


def test_hypotheses_are_reproducible_for_a_seed(demo, frame, checkpoint, tmp_path):
    runs = []
    for seed, out in ((0, 'a'), (0, 'b'), (1, 'c')):
        demo.main(_args(frame, checkpoint, tmp_path / out, '--hypotheses', '2', '--seed', str(seed)))
        runs.append(json.load(open(tmp_path / out / 'reconstruction.json'))['objects'][0]['hypotheses'])
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_uncentred_template_is_centred_and_its_offset_recorded(demo, frame, checkpoint, tmp_path):
    """A --template whose origin is far from its vertices is centred like the library (BEHAVE / StackFLOW centre
    templates at their vertex mean); the offset is in the JSON and the exported mesh is the centred one, posed."""
    offset = np.array([1.2, 0.5, -0.3])
    box = trimesh.creation.box(extents=(0.3, 0.2, 0.1))
    box.apply_translation(offset)
    template = tmp_path / 'uncentred.ply'
    box.export(str(template))
    out = tmp_path / 'out'
    summary = demo.main(_args(frame, checkpoint, out, '--template', str(template)))
    obj = summary['objects'][0]
    np.testing.assert_allclose(obj['template_offset'], offset, atol=1e-6)
    assert any('centred at its vertex mean' in note for note in summary['notes'])
    exported = trimesh.load(str(out / f"object0_{frame['name']}.ply"), process=False)
    pose = obj['prediction']
    np.testing.assert_allclose(exported.vertices,
                               (box.vertices - offset) @ np.array(pose['object_R']).T + pose['object_t'], atol=1e-5)


def test_named_intrinsics_and_a_principal_point_outside_the_image(demo, frame, checkpoint, tmp_path):
    calibration = json.load(open(frame['calibration']))['color']
    named = ['--fx', str(calibration['fx']), '--fy', str(calibration['fy']), '--cx', str(calibration['cx']),
             '--cy', str(calibration['cy'])]
    base = [a for a in _args(frame, checkpoint, tmp_path / 'a') if a not in ('--calibration', frame['calibration'])]
    summary = demo.main(base + named)
    K = np.array(summary['intrinsics'])
    np.testing.assert_allclose(K[[0, 1, 0, 1], [0, 1, 2, 2]],
                               [calibration[k] for k in ('fx', 'fy', 'cx', 'cy')], rtol=1e-6)
    assert not any('outside' in note for note in summary['notes'])
    # values in another order (here cx, cy far outside the image, as StackFLOW's [cx, cy, fx, fy] of a large focal
    # length read as FX FY CX CY would put them)
    swapped = [str(v) for v in (calibration['cx'], calibration['cy'], 10 * calibration['fx'], 10 * calibration['fy'])]
    summary = demo.main(base[:-2] + ['--out', str(tmp_path / 'b'), '--intrinsics', *swapped])
    assert any('principal point' in note and 'outside' in note for note in summary['notes'])
    with pytest.raises(ValueError, match='--cx, --cy'):
        demo.main(base + ['--fx', '500', '--fy', '500'])
    with pytest.raises(ValueError, match='--intrinsics and --calibration'):
        demo.main(base + ['--calibration', frame['calibration'], '--intrinsics', *swapped])


def test_person_box_from_the_keypoints_alone(demo, frame, checkpoint, tmp_path):
    """Without --person-mask or --bbox the keypoints give the person box (as --keypoints auto does)."""
    from hoirecon.apis.person_keypoints import keypoints_box
    from hoirecon.datasets.behave_io import load_body_keypoints
    args = [frame['image'], '--config', CONFIG, '--checkpoint', checkpoint, '--object', frame['name'],
            '--object-mask', frame['object'], '--keypoints', frame['keypoints'], '--calibration',
            frame['calibration'], '--out', str(tmp_path)]
    summary = demo.main(args)
    image = cv2.imread(frame['image'])
    expected = keypoints_box(load_body_keypoints(frame['keypoints']), (image.shape[1], image.shape[0]))
    assert expected is not None
    assert any(note.startswith('person box from the keypoints') for note in summary['notes'])
    assert f'{np.round(expected, 1).tolist()}' in ' '.join(summary['notes'])


@pytest.mark.skipif(__import__('importlib').util.find_spec('mediapipe') is not None,
                    reason='the keypoints extra is installed here: the message for its absence cannot show')
def test_keypoints_auto_without_the_extra_says_how_to_install_it(demo, frame, checkpoint, tmp_path, capsys):
    status = demo.cli([frame['image'], '--config', CONFIG, '--checkpoint', checkpoint, '--object', frame['name'],
                       '--bbox', '0', '0', '50', '50', '--keypoints', 'auto', '--out', str(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'pip install -e ".[keypoints]"' in err


@pytest.fixture(scope='module')
def correspondence_checkpoint(tmp_path_factory, behave_synthetic_root):
    """A tiny random-weight correspondence network saved as tools/train.py saves it (its config in the meta)."""
    folder = tmp_path_factory.mktemp('cdpn')
    config = folder / 'cdpn_tiny.py'
    config.write_text(f"""_base_ = ['{REPO_ROOT}/configs/correspondence/cdpn_synthetic.py']
object_library = dict(dataset='behave', template_dir='{behave_synthetic_root}/objects')
test_pipeline = [dict(type='LoadHOIImage'), dict(type='ObjectCrop', img_size=64, out_size=16),
                 dict(type='PackObjectCorrespondenceInputs')]
model = dict(head=dict(channels=(16, 16, 8), out_size=16), object_library=object_library, symmetries=None)
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
""")
    cfg = Config.fromfile(str(config))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('hoirecon'):
        model = MODELS.build(cfg.model)
    path = str(folder / 'cdpn_tiny.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {'cfg': cfg.pretty_text}}, path)
    bare = str(folder / 'cdpn_no_meta.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, bare)
    return dict(path=path, config=str(config), bare=bare)


def test_predicted_correspondences_from_a_correspondence_checkpoint(demo, frame, checkpoint, tmp_path,
                                                                    correspondence_checkpoint):
    """--correspondence-checkpoint: the network's rows for the object box, written in the refiner's format and used
    by --refine; its config comes from the checkpoint."""
    import pickle
    args = [frame['image'], '--config', CONFIG, '--checkpoint', checkpoint, '--object', frame['name'],
            '--person-mask', frame['person'], '--object-mask', frame['object'], '--keypoints', frame['keypoints'],
            '--calibration', frame['calibration'], '--correspondence-checkpoint', correspondence_checkpoint['path'],
            '--refine', '--out', str(tmp_path)]
    summary = demo.main(args)
    path = tmp_path / 'correspondences' / f"0_{frame['name']}.obj_coor.pkl"
    rows = pickle.load(open(path, 'rb'))
    assert {key: value.shape for key, value in rows.items()} == {'x3d': (256, 3), 'x2d': (256, 2), 'w2d': (256, 2)}
    # the 2D rows are the cell centres of the crop around the object mask's box
    from hoirecon.apis.inference import mask_file_box
    box = mask_file_box(frame['object'], cv2.imread(frame['image']).shape[1::-1], 'mask')
    centre = (box[:2] + box[2:]) / 2
    np.testing.assert_allclose(rows['x2d'].mean(axis=0), centre, atol=1.0)
    assert 'correspondences' in summary['timing_s']
    written = json.load(open(tmp_path / 'reconstruction.json'))
    assert written['refined']


def test_correspondence_checkpoint_input_errors(demo, frame, checkpoint, correspondence_checkpoint, tmp_path):
    base = [frame['image'], '--config', CONFIG, '--checkpoint', checkpoint, '--object', frame['name'],
            '--person-mask', frame['person'], '--out', str(tmp_path)]
    with pytest.raises(ValueError, match='--object-mask or --object-bbox for ' + frame['name']):
        demo.main(base + ['--correspondence-checkpoint', correspondence_checkpoint['path']])
    with pytest.raises(ValueError, match='goes with --correspondence-checkpoint'):
        demo.main(base + ['--correspondence-config', correspondence_checkpoint['config']])
    with pytest.raises(FileNotFoundError, match='--correspondence-checkpoint .*missing.pth'):
        demo.main(base + ['--object-mask', frame['object'], '--correspondence-checkpoint',
                          str(tmp_path / 'missing.pth')])
    with pytest.raises(ValueError, match='holds no config.*--correspondence-config'):
        demo.main(base + ['--object-mask', frame['object'], '--correspondence-checkpoint',
                          correspondence_checkpoint['bare']])
    # with its config given, the checkpoint without a saved config works
    bare, config = correspondence_checkpoint['bare'], correspondence_checkpoint['config']
    demo.main(base + ['--object-mask', frame['object'], '--correspondence-checkpoint', bare,
                      '--correspondence-config', config])
    assert (tmp_path / 'correspondences' / f"0_{frame['name']}.obj_coor.pkl").is_file()
