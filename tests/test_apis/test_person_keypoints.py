"""BODY_25 keypoints from MediaPipe BlazePose: the landmark mapping, the person box, the optional detector."""
import numpy as np
import pytest

from hoirecon.apis import person_keypoints as pk

#: BODY_25 index -> BlazePose landmark indices, written from the two skeleton definitions (OpenPose's BODY_25 order:
#: nose, neck, right arm, left arm, mid hip, right leg, left leg, eyes, ears, left foot, right foot; BlazePose's
#: 33-landmark order), independently of the module's name table.
EXPECTED = {0: [0], 1: [11, 12], 2: [12], 3: [14], 4: [16], 5: [11], 6: [13], 7: [15], 8: [23, 24], 9: [24],
            10: [26], 11: [28], 12: [23], 13: [25], 14: [27], 15: [5], 16: [2], 17: [8], 18: [7], 19: [31], 20: [],
            21: [29], 22: [32], 23: [], 24: [30]}


def test_blazepose_landmarks_map_to_body25():
    landmarks = np.stack([10.0 * np.arange(33), 1000.0 + np.arange(33), 0.5 + np.arange(33) / 100], axis=1)
    body25 = pk.blazepose_to_body25(landmarks)
    assert body25.shape == (25, 3) and body25.dtype == np.float32
    for joint, sources in EXPECTED.items():
        if not sources:
            assert np.all(body25[joint] == 0), joint  # no counterpart: confidence 0
            continue
        np.testing.assert_allclose(body25[joint, :2], landmarks[sources, :2].mean(axis=0), rtol=1e-6)
        assert body25[joint, 2] == pytest.approx(landmarks[sources, 2].min())
    with pytest.raises(ValueError, match=r'\(33, 3\)'):
        pk.blazepose_to_body25(landmarks[:25])


def test_person_box_from_keypoints():
    kpts = np.zeros((25, 3), np.float32)
    kpts[:5] = [[100, 50, 0.9], [140, 90, 0.8], [120, 250, 0.7], [90, 150, 0.5], [400, 400, 0.1]]
    box = pk.keypoints_box(kpts, (320, 240), min_confidence=0.3, padding=0.1)
    # confident points span x 90..140, y 50..250: 10 % margins, clipped to the 320 x 240 image
    np.testing.assert_allclose(box, [85, 30, 145, 240])
    assert pk.keypoints_box(kpts[[0, 1, 4]], (320, 240)) is None  # fewer than 4 confident points


def test_detector_on_a_rendered_person(behave_synthetic_root):
    """BlazePose on a synthetic frame: the detected shoulders/hips/knees near the generator's BODY_25 keypoints."""
    pytest.importorskip('mediapipe', reason='the optional keypoints extra (pip install -e ".[keypoints]")')
    import glob
    import json
    import cv2
    images = sorted(glob.glob(f'{behave_synthetic_root}/sequences/*/*/k1.color.jpg'))
    errors = []
    for path in images[:4]:
        image = cv2.imread(path)[..., ::-1]
        truth = np.array(json.load(open(path.replace('.color.jpg', '.color.json')))['body_joints']).reshape(25, 3)
        found = pk.detect_body25(np.ascontiguousarray(image))
        if found is None:
            continue
        joints = [j for j in (2, 5, 9, 12, 10, 13) if truth[j, 2] > 0]
        errors.append(np.median(np.linalg.norm(found[joints, :2] - truth[joints, :2], axis=1)) / image.shape[1])
    assert errors, 'no person detected in any of the first synthetic frames'
    assert np.median(errors) < 0.05  # within 5 % of the image width


def test_missing_extra_says_how_to_install(monkeypatch):
    monkeypatch.setattr(pk, 'detector_available', lambda: False)
    with pytest.raises(pk.KeypointDetectorMissing, match=r'pip install -e "\.\[keypoints\]"'):
        pk.detect_body25(np.zeros((8, 8, 3), np.uint8))
