"""A tiny generated dataset: BEHAVE layout, self-consistent ground truth, determinism, resuming, bad input."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
import trimesh

from hoirecon.datasets import behave_io as io
from hoirecon.models.body_models import SMPLH
from hoirecon.objects import ObjectLibrary
from hoirecon.synthetic import generate_synthetic_behave, plan_sequences
from hoirecon.synthetic.appearance import Lighting
from hoirecon.synthetic.render import ColoredMesh, HOIRenderer, View
from hoirecon.synthetic.scene import ObjectGeometry
from hoirecon.testing.tools import load_tool
from hoirecon.utils.offscreen import Intrinsics

FRAME_FILES = ('color.jpg', 'person_mask.jpg', 'obj_rend_mask.jpg', 'obj_rend_full.jpg', 'color.json')


def frames_of(root):
    split = io.load_split(osp.join(root, 'split.json'))
    for seq in split['train'] + split['test']:
        seq_dir = osp.join(root, 'sequences', seq)
        for frame in io.list_frame_folders(seq_dir):
            yield seq, seq_dir, frame


def camera(root, info, kinect):
    intr = io.load_intrinsics(osp.join(info['intrinsic_dir'], str(kinect), 'calibration.json'))
    rot, trans = io.load_extrinsics(osp.join(info['config_dir'], str(kinect), 'config.json'))
    rot_cw, trans_cw = io.invert_rigid(rot, trans)
    return Intrinsics(intr['fx'], intr['fy'], intr['cx'], intr['cy'], intr['width'], intr['height']), rot_cw, trans_cw


def ground_truth(root, seq_dir, frame, models):
    """Body and object meshes (world) posed from the files on disk only."""
    info = io.load_sequence_info(seq_dir)
    frame_dir = osp.join(seq_dir, frame)
    fit = io.load_person_fit(osp.join(frame_dir, 'person', 'fit02', 'person_fit.pkl'))
    if info['gender'] not in models:
        models[info['gender']] = SMPLH(model_path=osp.join(root, 'body_models'), gender=info['gender'])
    model = models[info['gender']]
    with torch.no_grad():
        out = model.forward_axis_angle(torch.from_numpy(fit['betas'])[None], torch.from_numpy(fit['pose'])[None],
                                       torch.from_numpy(fit['trans'])[None])
        body25 = model.body25(out.vertices)[0].double().numpy()
    template = ObjectLibrary('behave', osp.join(root, 'objects'))[info['cat']]
    template, faces = template.vertices, template.faces
    obj_fit = io.load_object_fit(io.find_object_fit(frame_dir, info['cat']))
    obj_verts = io.object_vertices(template, obj_fit['angle'], obj_fit['trans'])
    return info, out.vertices[0].double().numpy(), model.faces, body25, obj_verts, faces, obj_fit, template


def test_layout(tiny_dataset):
    root, summary = tiny_dataset
    assert summary['num_frames'] == 6 and summary['generated_frames'] == 6
    assert summary['train_images'] + summary['test_images'] == 24 and summary['test_images'] >= 8
    for gender in ('MALE', 'FEMALE', 'NEUTRAL'):
        assert osp.isfile(osp.join(root, 'body_models', 'smplh', f'SMPLH_{gender}.pkl'))
    assert osp.isfile(osp.join(root, 'objects', 'chairwood', 'chairwood_f2500.ply'))
    assert osp.isfile(osp.join(root, 'objects', 'monitor', 'monitor_closed_f1000.ply'))
    for k in range(4):
        intr = io.load_intrinsics(osp.join(root, 'calibs', 'intrinsics', str(k), 'calibration.json'))
        assert (intr['width'], intr['height']) == (128, 96)
        assert intr['fx'] == pytest.approx(979.78 * 128 / 2048, rel=0.05) and intr['cx'] == pytest.approx(64, abs=3)
        for date in range(1, 8):
            io.load_extrinsics(osp.join(root, 'calibs', f'Date{date:02d}', 'config', str(k), 'config.json'))
    seqs = [seq for seq, _, _ in frames_of(root)]
    assert len(set(seqs)) == 3 and len(seqs) == 6
    for seq, seq_dir, frame in frames_of(root):
        date, sub, obj, action = seq.split('_')
        info = io.load_sequence_info(seq_dir)
        assert info['cat'] == obj in ('stool', 'boxmedium') and info['kinects'] == [0, 1, 2, 3]
        assert info['gender'] == ('male' if int(sub[3:]) <= 5 else 'female')
        assert info['config'] == f'../../calibs/{date}/config' and osp.isdir(info['config_dir'])
        assert frame in ('t0003.000', 't0004.000')
        rot, trans = io.load_extrinsics(osp.join(info['config_dir'], '1', 'config.json'))
        np.testing.assert_array_equal(rot, np.eye(3))  # world = the k1 colour camera
        np.testing.assert_array_equal(trans, np.zeros(3))
        for k in range(4):
            for name in FRAME_FILES:
                assert osp.isfile(osp.join(seq_dir, frame, f'k{k}.{name}'))
            assert osp.isfile(osp.join(root, 'epro_pnp', seq, frame, f'k{k}.obj_coor.pkl'))
            assert osp.isfile(osp.join(root, 'object_coor_maps', seq, frame, f'k{k}.mask_full.jpg'))
        for path in ('person/fit02/person_fit.ply', f'{obj}/fit01/{obj}_fit.ply'):
            assert osp.isfile(osp.join(seq_dir, frame, path))
    assert not [name for name in os.listdir(osp.join(root, 'sequences', seqs[0])) if 'tmp' in name]


def test_masks_match_the_fits_on_disk(tiny_dataset):
    root, _ = tiny_dataset
    renderer, models = HOIRenderer(128, 96), {}
    light = Lighting(np.array([0, -1.0, 0]), np.ones(3), 1.0, 0.0, np.ones(3))
    try:
        for seq, seq_dir, frame in frames_of(root):
            info, body, body_faces, _, obj, obj_faces, _, _ = ground_truth(root, seq_dir, frame, models)
            color = np.full((len(body), 4), 255, np.uint8)
            meshes = ColoredMesh(body, body_faces, color), ColoredMesh(obj, obj_faces, color[:len(obj)])
            for k in range(4):
                view = View(*camera(root, info, k))
                body_sil = renderer.silhouettes([meshes[0]], view)[0]
                ref = renderer.render(*meshes, None, light, [view])[0]
                frame_dir = osp.join(seq_dir, frame)
                person = io.load_mask(io.find_frame_file(frame_dir, k, 'person_mask'), (128, 96))
                visible = io.load_mask(io.find_frame_file(frame_dir, k, 'obj_rend_mask'), (128, 96))
                full = io.load_mask(io.find_frame_file(frame_dir, k, 'obj_rend_full'), (128, 96))
                assert person.sum() > 50
                assert (person & ~body_sil).sum() <= 0.005 * person.sum()  # visible person within the silhouette
                for mask, expected in ((person, ref.person_mask), (visible, ref.object_mask), (full, ref.object_full)):
                    union = (mask | expected).sum()
                    assert union == 0 or (mask & expected).sum() / union > 0.99
                occluded = body_sil & ~person
                assert (occluded & ~full).sum() <= 0.005 * body_sil.sum()  # hidden body pixels are behind the object
    finally:
        renderer.close()


def test_keypoints_are_noisy_projections_of_body25(tiny_dataset, tiny_params):
    root, _ = tiny_dataset
    sigma, models, detected, inside = tiny_params['keypoint_noise_px'], {}, 0, 0
    for seq, seq_dir, frame in frames_of(root):
        info, _, _, body25, _, _, _, _ = ground_truth(root, seq_dir, frame, models)
        for k in range(4):
            intr, rot, trans = camera(root, info, k)
            uv = intr.project(body25 @ rot.T + trans)
            kps = io.load_body_keypoints(io.find_frame_file(osp.join(seq_dir, frame), k, 'keypoints'))
            found = kps[:, 2] > 0
            error = np.linalg.norm(kps[found, :2] - uv[found], axis=1)
            bound = np.where(kps[found, 2] >= 0.55, 5 * 1.5 * sigma, 5 * 4.5 * sigma)
            assert np.all(error < bound)
            assert np.all(kps[~found] == 0)
            in_image = (uv[:, 0] >= 0) & (uv[:, 0] <= 127) & (uv[:, 1] >= 0) & (uv[:, 1] <= 95)
            detected += (found & in_image).sum()
            inside += in_image.sum()
            assert not (found & ~in_image).any()
    assert detected / inside > 0.85


def test_correspondences_lie_on_the_object(tiny_dataset, tiny_params):
    root, _ = tiny_dataset
    models, checked = {}, 0
    for seq, seq_dir, frame in frames_of(root):
        info, _, _, _, _, _, obj_fit, template = ground_truth(root, seq_dir, frame, models)
        faces = ObjectLibrary('behave', osp.join(root, 'objects'))[info['cat']].faces
        mesh = trimesh.Trimesh(template, faces, process=False)
        for k in range(4):
            corr = io.load_correspondences(osp.join(root, 'epro_pnp', seq, frame, f'k{k}.obj_coor.pkl'))
            visible = io.load_mask(io.find_frame_file(osp.join(seq_dir, frame), k, 'obj_rend_mask'))
            if not corr:
                assert visible.sum() < 3
                continue
            intr, rot, trans = camera(root, info, k)
            cam_rot, cam_trans = io.invert_rigid(rot, trans)
            obj_rot, obj_trans = io.object_pose_to_camera(obj_fit['angle'], obj_fit['trans'], cam_rot, cam_trans)
            _, distance, _ = trimesh.proximity.closest_point(mesh, corr['x3d'].astype(np.float64))
            assert distance.max() < 0.005
            reprojected = intr.project(corr['x3d'] @ obj_rot.T + obj_trans)
            inlier = corr['w2d'][:, 0] >= 0.5
            assert np.all(np.linalg.norm(reprojected[inlier] - corr['x2d'][inlier], axis=1)
                          < 5 * tiny_params['corr_noise_px'] + 1.0)
            assert (~inlier).sum() == round(tiny_params['corr_outlier_ratio'] * len(inlier))
            checked += 1
    assert checked > 0


def test_fit_meshes_match_the_parameters(tiny_dataset):
    root, _ = tiny_dataset
    models = {}
    seq, seq_dir, frame = next(frames_of(root))
    info, body, _, _, obj, _, _, _ = ground_truth(root, seq_dir, frame, models)
    body_ply = trimesh.load(osp.join(seq_dir, frame, 'person', 'fit02', 'person_fit.ply'), process=False)
    np.testing.assert_allclose(body_ply.vertices, body, atol=1e-4)
    obj_ply = trimesh.load(osp.join(seq_dir, frame, info['cat'], 'fit01', f"{info['cat']}_fit.ply"), process=False)
    np.testing.assert_allclose(obj_ply.vertices, obj, atol=1e-5)


def test_resume_skips_and_regenerates_identically(tiny_dataset, tiny_params, tmp_path):
    root, _ = tiny_dataset
    seq, seq_dir, frame = next(frames_of(root))
    saved = tmp_path / 'saved'
    shutil.copytree(osp.join(seq_dir, frame), saved)
    shutil.rmtree(osp.join(seq_dir, frame))
    os.makedirs(osp.join(seq_dir, f'.{frame}.tmp-deadbeef', 'person'))  # left by a killed run
    summary = generate_synthetic_behave(root, **tiny_params)
    assert not osp.exists(osp.join(seq_dir, f'.{frame}.tmp-deadbeef'))
    assert summary['generated_frames'] == 1 and summary['skipped_frames'] == 5
    for dirpath, _, files in os.walk(saved):
        for name in files:
            regenerated = osp.join(seq_dir, frame, osp.relpath(osp.join(dirpath, name), saved))
            with open(osp.join(dirpath, name), 'rb') as a, open(regenerated, 'rb') as b:
                assert a.read() == b.read(), f'{name} differs after regeneration'
    with pytest.raises(ValueError, match='seed: 11 -> 12'):
        generate_synthetic_behave(root, **dict(tiny_params, seed=12))
    (tmp_path / 'other').mkdir()
    (tmp_path / 'other' / 'notes.txt').write_text('x')
    with pytest.raises(FileExistsError, match='is not empty'):
        generate_synthetic_behave(str(tmp_path / 'other'), **tiny_params)


def test_cli_resumes_the_dataset(tiny_dataset, capsys):
    root, _ = tiny_dataset
    tool = load_tool('make_synthetic_dataset')
    tool.main(['--out', root, '--num-sequences', '3', '--frames-per-sequence', '2', '--seed', '11', '--image-size',
               '128', '96', '--objects', 'stool', 'boxmedium', '--keypoint-noise', '1', '--corr-noise', '0.5',
               '--corr-outliers', '0.2', '--corr-points', '64', '--workers', '1'])
    summary = json.loads(capsys.readouterr().out)
    assert summary['skipped_frames'] == 6 and summary['generated_frames'] == 0


def test_bad_files_name_the_file(tiny_dataset, tmp_path):
    root, _ = tiny_dataset
    seq, seq_dir, frame = next(frames_of(root))
    copy = tmp_path / frame
    shutil.copytree(osp.join(seq_dir, frame), copy)
    fit = copy / 'person' / 'fit02' / 'person_fit.pkl'
    fit.write_bytes(fit.read_bytes()[:40])
    with pytest.raises(io.BehaveFormatError, match='person_fit.pkl: cannot unpickle'):
        io.load_person_fit(str(fit))
    os.remove(copy / 'k2.person_mask.jpg')
    with pytest.raises(FileNotFoundError, match=f'person_mask file of kinect 2 missing in {copy}'):
        io.find_frame_file(str(copy), 2, 'person_mask')


def test_default_size_meets_the_training_budget():
    library = ObjectLibrary('behave')
    objects = {t.name: ObjectGeometry.from_template(t.name, t.vertices, t.faces) for t in library}
    specs = plan_sequences(156, 0, objects, 1 / 6)
    images = {'train': 0, 'test': 0}
    for spec in specs:
        images[spec.split] += 4 * 4
    assert images['train'] >= 2000 and images['test'] >= 400
    assert len({spec.name for spec in specs}) == 156
    assert {spec.obj_name for spec in specs} == set(library.names)
    assert len({spec.action for spec in specs}) == 6


def test_bad_parameters_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown objects/actions \['sofa'\]"):
        generate_synthetic_behave(str(tmp_path / 'a'), num_sequences=1, objects=('sofa', ))
    with pytest.raises(ValueError, match='frames_per_sequence <= 997'):
        generate_synthetic_behave(str(tmp_path / 'b'), num_sequences=1, frames_per_sequence=0)
    with pytest.raises(ValueError, match="'keyboard' affords none of the actions"):
        generate_synthetic_behave(str(tmp_path / 'c'), num_sequences=1, objects=('keyboard', ), actions=('sit', ),
                                  progress=False)
