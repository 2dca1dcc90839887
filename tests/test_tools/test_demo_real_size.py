"""tools/demo.py on a real-size (2048 x 1536) frame: the faults found on real BEHAVE Kinect frames (issue 16).

The frame is a synthetic test image of the tiny world scaled up to BEHAVE's colour resolution, with its masks,
keypoints, correspondences and calibration scaled the same way, so every input is in the real on-disk format.
"""
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import cv2
import numpy as np
import pytest
import trimesh

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_stackflow.py')
WIDTH, HEIGHT = 2048, 1536


def _scale_x(x, s):
    """Pixel coordinate (pixel centres at integers) of an image scaled by ``s``."""
    return (np.asarray(x, np.float64) + 0.5) * s - 0.5


@pytest.fixture(scope='module')
def big_frame(frame, tmp_path_factory):
    """The demo test frame at 2048 x 1536: image, masks, BEHAVE keypoints JSON, EPro-PnP pickle, calibration."""
    out = tmp_path_factory.mktemp('real_size')
    image = cv2.imread(frame['image'])
    sx, sy = WIDTH / image.shape[1], HEIGHT / image.shape[0]
    files = dict(name=frame['name'])
    files['image'] = str(out / 'k1.color.jpg')
    cv2.imwrite(files['image'], cv2.resize(image, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR))
    for key, name in (('person', 'k1.person_mask.jpg'), ('object', 'k1.obj_rend_mask.jpg')):
        mask = cv2.imread(frame[key], 0)
        files[key] = str(out / name)
        cv2.imwrite(files[key], cv2.resize(mask, (WIDTH, HEIGHT), interpolation=cv2.INTER_NEAREST))
    joints = np.asarray(json.load(open(frame['keypoints']))['body_joints'], np.float64).reshape(25, 3)
    joints[:, 0], joints[:, 1] = _scale_x(joints[:, 0], sx), _scale_x(joints[:, 1], sy)
    files['keypoints'] = str(out / 'k1.color.json')
    json.dump({'body_joints': joints.ravel().tolist()}, open(files['keypoints'], 'w'))
    calibration = json.load(open(frame['calibration']))
    color = calibration['color']
    small_K = np.array([[color['fx'], 0, color['cx']], [0, color['fy'], color['cy']], [0, 0, 1]])
    color.update(fx=color['fx'] * sx, fy=color['fy'] * sy, cx=float(_scale_x(color['cx'], sx)),
                 cy=float(_scale_x(color['cy'], sy)), width=WIDTH, height=HEIGHT)
    files['calibration'] = str(out / 'calibration.json')
    json.dump(calibration, open(files['calibration'], 'w'))
    K = np.array([[color['fx'], 0, color['cx']], [0, color['fy'], color['cy']], [0, 0, 1]])
    # correspondences as a network would give them at 2048 px: the 128 px file's object pose (OpenCV RANSAC PnP),
    # its 3D points projected with the big camera, 1.5 px noise, 10 % of the rows scattered over the image
    corr = {key: np.asarray(value, np.float64) for key, value in pickle.load(open(frame['corr'], 'rb')).items()}
    ok, rvec, tvec, _ = cv2.solvePnPRansac(corr['x3d'], corr['x2d'], small_K, None, reprojectionError=2.0,
                                           flags=cv2.SOLVEPNP_EPNP)
    assert ok
    rng = np.random.default_rng(0)
    x2d = cv2.projectPoints(corr['x3d'], rvec, tvec, K, None)[0].reshape(-1, 2)
    x2d += rng.normal(0, 1.5, x2d.shape)
    scattered = rng.random(len(x2d)) < 0.1
    x2d[scattered] = rng.uniform([0, 0], [WIDTH, HEIGHT], (int(scattered.sum()), 2))
    corr['x2d'] = x2d
    corr = {key: value.astype(np.float32) for key, value in corr.items()}
    files['corr'] = str(out / 'k1.obj_coor.pkl')
    pickle.dump(corr, open(files['corr'], 'wb'))
    shifted = dict(corr, x2d=corr['x2d'] + np.float32([700, 0]))  # the same object drawn 700 px to the right
    files['corr_off_mask'] = str(out / 'k1.obj_coor_shifted.pkl')
    pickle.dump(shifted, open(files['corr_off_mask'], 'wb'))
    # an uncentred mesh, as BEHAVE / InterCap template files are
    box = trimesh.creation.box(extents=(0.3, 0.2, 0.1))
    box.apply_translation([1.2, 0.5, -0.3])
    files['template'] = str(out / 'uncentred.ply')
    box.export(files['template'])
    return files


def _args(files, checkpoint, out, *extra, corr='corr'):
    return [files['image'], '--config', CONFIG, '--checkpoint', checkpoint, '--object', files['name'],
            '--person-mask', files['person'], '--object-mask', files['object'], '--keypoints', files['keypoints'],
            '--correspondences', files[corr], '--calibration', files['calibration'], '--out', str(out), *extra]


def test_real_size_frame_end_to_end(demo, big_frame, checkpoint, tmp_path):
    """Points 1, 2, 3 (good PnP), 4, 7: a centred template, pixel terms at scale 1, the PnP start checked and
    accepted, the procedural-template note for a library object, the calibration's camera."""
    summary = demo.main(_args(big_frame, checkpoint, tmp_path, '--refine', '--template', big_frame['template']))
    assert summary['image_size'] == [WIDTH, HEIGHT]
    color = json.load(open(big_frame['calibration']))['color']
    np.testing.assert_allclose(np.array(summary['intrinsics'])[[0, 1, 0, 1], [0, 1, 2, 2]],
                               [color[k] for k in ('fx', 'fy', 'cx', 'cy')], rtol=1e-6)
    obj = summary['objects'][0]
    np.testing.assert_allclose(obj['template_offset'], [1.2, 0.5, -0.3], atol=1e-6)
    assert obj['template_source'] == big_frame['template']
    assert obj['pnp_initialised'], obj['pnp_status']
    assert obj['pnp_status'].startswith('pnp:') and 'on the mask' in obj['pnp_status']
    # pixel_scale='auto' (the synthetic config) gives scale 1 on a 2048 px frame: no warning
    assert not any('pixel_scale' in note for note in summary['notes']), summary['notes']
    assert cv2.imread(str(tmp_path / 'overlay.png')).shape == (HEIGHT, WIDTH, 3)


def test_fixed_pixel_scale_for_small_images_is_warned_about_on_a_real_frame(demo, big_frame, checkpoint, tmp_path):
    summary = demo.main(_args(big_frame, checkpoint, tmp_path, '--refine', '--cfg-options', 'refiner.pixel_scale=4.0'))
    warning = [note for note in summary['notes'] if 'pixel_scale' in note]
    assert warning and 'set for images 512 px wide' in warning[0] and '[2048]' in warning[0]
    # the library object of this config is procedural: said on the console and in the JSON
    assert summary['objects'][0]['template_source'] == 'procedural'
    assert any('procedural template stands in' in note for note in summary['notes'])


def test_pnp_that_misses_the_object_mask_is_refused_with_its_reason(demo, big_frame, checkpoint, tmp_path, capsys):
    summary = demo.main(_args(big_frame, checkpoint, tmp_path, '--refine', corr='corr_off_mask'))
    obj = summary['objects'][0]
    assert obj['pnp_initialised'] is False
    assert obj['pnp_status'].startswith('network pose kept: PnP rejected') and 'object mask' in obj['pnp_status']
    assert 'PnP rejected' in capsys.readouterr().out
    # without a mask the same (self-consistent) correspondences pass: the mask is what exposes them
    args = _args(big_frame, checkpoint, tmp_path / 'b', '--refine', corr='corr_off_mask')
    at = args.index('--object-mask')
    summary = demo.main(args[:at] + args[at + 2:])
    assert summary['objects'][0]['pnp_initialised']


def test_runs_from_any_folder_and_missing_templates_name_the_fix(demo, big_frame, checkpoint, behave_synthetic_root,
                                                                 tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('HOIRECON_DATA_ROOT', raising=False)
    relative = f'data/{osp.basename(behave_synthetic_root)}/objects'  # a checkout-relative path, as configs write
    options = ['--cfg-options', f'test_evaluator.object_library.template_dir={relative}']
    with pytest.raises(FileNotFoundError, match=r'--template MESH for every --object.*--data-root DIR.*'
                                                r'HOIRECON_DATA_ROOT'):
        demo.main(_args(big_frame, checkpoint, tmp_path / 'a', *options))
    # every object has --template: no template folder is needed
    summary = demo.main(_args(big_frame, checkpoint, tmp_path / 'b', '--template', big_frame['template'], *options))
    assert summary['objects'][0]['template_source'] == big_frame['template']
    # --data-root names the folder that stands for data/
    summary = demo.main(_args(big_frame, checkpoint, tmp_path / 'c', '--data-root',
                              osp.dirname(behave_synthetic_root), *options))
    source = summary['objects'][0]['template_source']
    assert source.startswith(osp.join(behave_synthetic_root, 'objects')), source


def test_input_errors_are_one_line_before_the_model_is_imported(big_frame, checkpoint, tmp_path):
    script = ('import runpy, sys\n'
              f'sys.argv = {["demo.py", *_args(big_frame, checkpoint, tmp_path, "--template", "missing.ply")]!r}\n'
              'try:\n'
              f'    runpy.run_path({osp.join(REPO_ROOT, "tools", "demo.py")!r}, run_name="__main__")\n'
              'except SystemExit as exit:\n'
              '    print("exit", exit.code, "torch" in sys.modules)\n')
    done = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert done.stdout.strip() == 'exit 2 False', done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [f"demo.py: error: --template of {big_frame['name']} missing.ply: "
                                                'no such file.']
