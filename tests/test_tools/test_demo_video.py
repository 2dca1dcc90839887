"""tools/demo_video.py end to end on the tiny generated BEHAVE-extended tree with the tiny random-weight model."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from hoirecon.evaluation.functional import acceleration_magnitude
from hoirecon.testing.tiny_model import save_plausible_tiny_checkpoint
from hoirecon.testing.tools import load_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: The tiny random-weight model of the demo tests (tests/test_tools/conftest.py).
DEMO_CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_stackflow.py')
SEQUENCE = 'Date03_Sub04_boxtiny'  # the test split's sequence of the tiny tree: 12 frames of 96 x 72
NUM_FRAMES = 12


@pytest.fixture(scope='module')
def demo_video():
    return load_tool('demo_video')


@pytest.fixture(scope='module')
def video_checkpoint(tmp_path_factory, surrogate_body_root):
    """The tiny model with its flows' ActNorm data-initialised on near-identity poses (a plausible body at z = 0)."""
    return save_plausible_tiny_checkpoint(DEMO_CONFIG, str(tmp_path_factory.mktemp('video_ckpt') / 'tiny.pth'))


def _common(checkpoint, out):
    return ['--config', DEMO_CONFIG, '--checkpoint', checkpoint, '--out', str(out), '--no-progress']


def test_sequence_video(demo_video, video_checkpoint, behave_extended_synthetic_root, tmp_path):
    from hoirecon.apis.video import read_video_frames
    out = tmp_path / 'out'
    summary = demo_video.main(['--sequence-root', behave_extended_synthetic_root, '--sequence', SEQUENCE,
                               '--kinect', '0', '--fps', '10', *_common(video_checkpoint, out)])
    frames = read_video_frames(str(out / 'video.mp4'))
    width, height = summary['files']['video_size']
    assert len(frames) == NUM_FRAMES and frames[0].shape == (height, width, 3)
    assert width >= 3 * 96 and height >= 72  # input | reconstruction | turned
    capture = cv2.VideoCapture(str(out / 'video.mp4'))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(10.0)
    capture.release()
    params = json.load(open(out / 'parameters.json'))
    assert params['num_frames'] == len(params['frames']) == NUM_FRAMES and not params['smoothed']
    times = [f['frame'] for f in params['frames']]
    assert times == sorted(times) and np.all(np.diff([f['frame_index'] for f in params['frames']]) == 1)
    assert set(params['frames'][0]['prediction']) >= {'betas', 'body_pose', 'transl', 'object_R', 'object_t'}
    assert sorted(os.listdir(out / 'meshes')) == times
    assert {'human.ply', 'human.obj', 'object0_boxtiny.ply'} <= set(os.listdir(out / 'meshes' / times[0]))
    assert params['intrinsics'][0][0] > 0 and params['image_size'] == [96, 72]


def test_smoothing_lowers_acceleration(demo_video, video_checkpoint, behave_extended_synthetic_root, tmp_path):
    from hoirecon.apis.video import read_video_frames
    out = tmp_path / 'smooth'
    demo_video.main(['--sequence-root', behave_extended_synthetic_root, '--sequence', SEQUENCE, '--smooth',
                     '--video-format', 'gif', '--no-meshes', *_common(video_checkpoint, out),
                     '--cfg-options', 'refiner.num_stages=1', 'refiner.steps_per_stage=5',
                     'sequence_refiner.num_stages=1', 'sequence_refiner.steps_per_stage=10'])
    params = json.load(open(out / 'parameters.json'))
    assert params['smoothed'] and params['refined'] and len(params['frames']) == NUM_FRAMES
    frame = params['frames'][0]
    assert {'network_prediction', 'per_frame_prediction', 'prediction'} <= set(frame)
    assert frame['per_frame_prediction']['object_t'] != frame['prediction']['object_t']
    index = np.array([f['frame_index'] for f in params['frames']])

    def accel(key):
        translation = np.array([f[key]['object_t'] for f in params['frames']])[:, None]
        return np.nanmean(acceleration_magnitude(translation, index))

    assert accel('prediction') < accel('per_frame_prediction')
    jitter = params['jitter_mm_per_frame2']
    assert jitter['final']['human_vertices'] < jitter['per_frame']['human_vertices']
    assert len(read_video_frames(str(out / 'video.gif'))) == NUM_FRAMES
    assert not (out / 'meshes').exists()


def test_video_file_input(demo_video, video_checkpoint, behave_extended_synthetic_root, tmp_path):
    """An .mp4 with per-frame person masks named like its extracted frames (000000.*, 000001.*, ...)."""
    from hoirecon.apis.video import FrameWriter, read_video_frames, sequence_input
    video = sequence_input(behave_extended_synthetic_root, SEQUENCE, 0, max_frames=4)
    masks = tmp_path / 'masks'
    masks.mkdir()
    with FrameWriter(str(tmp_path / 'clip.mp4'), 30) as writer:
        for index, frame in enumerate(video.frames):
            writer.write(cv2.cvtColor(cv2.imread(frame.image_path), cv2.COLOR_BGR2RGB))
            os.symlink(frame.person_mask, masks / f'{index:06d}.person_mask.jpg')
    out = tmp_path / 'out'
    summary = demo_video.main([str(tmp_path / 'clip.mp4'), '--object', 'boxtiny', '--person-masks', str(masks),
                               '--intrinsics', *map(str, video.intrinsics), *_common(video_checkpoint, out)])
    assert summary['num_frames'] == 4 and summary['fps'] == pytest.approx(30.0)
    assert [f['frame'] for f in summary['frames']] == ['000000', '000001', '000002', '000003']
    assert len(read_video_frames(str(out / 'video.mp4'))) == 4
    assert osp.isfile(out / 'input_frames' / '000003.jpg')


@pytest.mark.parametrize('argv, message', [
    (['--sequence-root', 'ROOT', '--sequence', 'Date99_Sub01_nothing'], '--sequence Date99_Sub01_nothing'),
    (['--sequence-root', 'ROOT'], '--sequence is missing'),
    ([], 'no input'),
    (['INPUT'], '--object NAME is needed'),
    (['--sequence-root', 'ROOT', '--sequence', SEQUENCE, '--checkpoint', 'missing.pth'], '--checkpoint missing.pth'),
])
def test_input_errors(demo_video, behave_extended_synthetic_root, tmp_path, capsys, argv, message):
    argv = [behave_extended_synthetic_root if a == 'ROOT' else str(tmp_path) if a == 'INPUT' else a for a in argv]
    base = ['--config', DEMO_CONFIG, '--checkpoint', DEMO_CONFIG, '--out', str(tmp_path / 'out'), '--no-progress']
    assert demo_video.cli(base + argv) == 2
    assert message in capsys.readouterr().err


def test_frame_writer_falls_back_to_gif(tmp_path, monkeypatch):
    """Where OpenCV cannot write MP4 (a build without FFmpeg), the frames go to an animated GIF with a note."""
    from hoirecon.apis import video as video_api

    class Closed:
        def __init__(self, *args):
            pass

        def isOpened(self):
            return False

    monkeypatch.setattr(video_api.cv2, 'VideoWriter', Closed)
    with video_api.FrameWriter(str(tmp_path / 'video.mp4'), 10) as writer:
        for value in range(3):
            writer.write(np.full((9, 11, 3), 80 * value, np.uint8))
    assert writer.path == str(tmp_path / 'video.gif') and 'GIF' not in writer.note and writer.note
    frames = video_api.read_video_frames(writer.path)
    assert len(frames) == 3 and frames[0].shape == (10, 12, 3)  # padded to even sizes
