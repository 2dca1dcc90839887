"""Person keypoints from the image, without OpenPose: MediaPipe BlazePose mapped to OpenPose BODY_25.

The post-optimisation's person term needs BODY_25 keypoints (StackFLOW runs OpenPose). ``tools/demo.py --keypoints
auto`` detects them with MediaPipe's BlazePose, an optional extra whose wheel ships the model files (nothing is
downloaded)::

    pip install -e ".[keypoints]"        # mediapipe==0.10.14 (0.10.2x and later ship no model files)

BlazePose's 33 landmarks map to BODY_25 as in :data:`BODY25_FROM_BLAZEPOSE`: most joints are one landmark, the neck
and the mid hip are means of two (as OpenPose defines them), and the two small toes have no counterpart and get
confidence 0 (the refiner then ignores them). The confidence of a keypoint is BlazePose's landmark visibility (the
smaller of the two for a mean). BlazePose places its hips a little higher and wider than OpenPose does, and its
"foot index" is the tip of the foot, used for OpenPose's big toe; with the keypoint term's robust loss these
offsets are of the order of the keypoint noise the refiner is tuned for.
"""
import importlib.util
from typing import Dict, Optional, Tuple

import numpy as np

from hoirecon.structures.body25 import BODY25_JOINT_NAMES

BLAZEPOSE_LANDMARKS = ('nose', 'left_eye_inner', 'left_eye', 'left_eye_outer', 'right_eye_inner', 'right_eye',
                       'right_eye_outer', 'left_ear', 'right_ear', 'mouth_left', 'mouth_right', 'left_shoulder',
                       'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_pinky',
                       'right_pinky', 'left_index', 'right_index', 'left_thumb', 'right_thumb', 'left_hip',
                       'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle', 'left_heel', 'right_heel',
                       'left_foot_index', 'right_foot_index')
#: BODY_25 keypoint -> the BlazePose landmarks it is the mean of (empty: no counterpart, confidence 0).
BODY25_FROM_BLAZEPOSE: Dict[str, Tuple[str, ...]] = {
    'Nose': ('nose', ), 'Neck': ('left_shoulder', 'right_shoulder'), 'RShoulder': ('right_shoulder', ),
    'RElbow': ('right_elbow', ), 'RWrist': ('right_wrist', ), 'LShoulder': ('left_shoulder', ),
    'LElbow': ('left_elbow', ), 'LWrist': ('left_wrist', ), 'MidHip': ('left_hip', 'right_hip'),
    'RHip': ('right_hip', ), 'RKnee': ('right_knee', ), 'RAnkle': ('right_ankle', ), 'LHip': ('left_hip', ),
    'LKnee': ('left_knee', ), 'LAnkle': ('left_ankle', ), 'REye': ('right_eye', ), 'LEye': ('left_eye', ),
    'REar': ('right_ear', ), 'LEar': ('left_ear', ), 'LBigToe': ('left_foot_index', ), 'LSmallToe': (),
    'LHeel': ('left_heel', ), 'RBigToe': ('right_foot_index', ), 'RSmallToe': (), 'RHeel': ('right_heel', ),
}
INSTALL_HINT = ('--keypoints auto needs the optional keypoint detector: pip install -e ".[keypoints]" (MediaPipe '
                '0.10.14, whose wheel ships the BlazePose model), or pass an OpenPose BODY_25 JSON file instead.')


class KeypointDetectorMissing(ImportError):
    """The optional keypoint detector (the ``keypoints`` extra) is not installed."""


def detector_available() -> bool:
    """Whether MediaPipe can be imported (checked without importing it)."""
    return importlib.util.find_spec('mediapipe') is not None


def blazepose_to_body25(landmarks: np.ndarray) -> np.ndarray:
    """Map BlazePose landmarks to OpenPose BODY_25.

    Args:
        landmarks: (33, 3) ``x, y`` pixels and visibility in [0, 1], in :data:`BLAZEPOSE_LANDMARKS` order.

    Returns:
        (25, 3) float32 ``x, y`` pixels and confidence, :data:`~hoirecon.structures.body25.
        BODY25_JOINT_NAMES` order; zeros for keypoints without a counterpart.
    """
    landmarks = np.asarray(landmarks, np.float64)
    if landmarks.shape != (len(BLAZEPOSE_LANDMARKS), 3):
        raise ValueError(f'blazepose_to_body25: expected ({len(BLAZEPOSE_LANDMARKS)}, 3) landmarks, got '
                         f'{landmarks.shape}.')
    index = {name: i for i, name in enumerate(BLAZEPOSE_LANDMARKS)}
    out = np.zeros((len(BODY25_JOINT_NAMES), 3), np.float32)
    for j, name in enumerate(BODY25_JOINT_NAMES):
        sources = [index[s] for s in BODY25_FROM_BLAZEPOSE[name]]
        if sources:
            out[j, :2] = landmarks[sources, :2].mean(axis=0)
            out[j, 2] = landmarks[sources, 2].min()
    return out


def detect_body25(image: np.ndarray, model_complexity: int = 1, min_detection_confidence: float = 0.5
                  ) -> Optional[np.ndarray]:
    """BODY_25 keypoints of the most prominent person of an RGB image, or None when nobody is found.

    Args:
        image: (H, W, 3) uint8 RGB.
        model_complexity: BlazePose's 0 (lite), 1 (full) or 2 (heavy; not shipped in every wheel).
        min_detection_confidence: of the person detector.

    Returns:
        (25, 3) float32 pixels and confidence (:func:`blazepose_to_body25`).

    Raises:
        KeypointDetectorMissing: without the ``keypoints`` extra (the message says how to install it).
    """
    if not detector_available():
        raise KeypointDetectorMissing(INSTALL_HINT)
    from mediapipe.python.solutions import pose as blazepose
    height, width = image.shape[:2]
    with blazepose.Pose(static_image_mode=True, model_complexity=model_complexity,
                        min_detection_confidence=min_detection_confidence) as detector:
        result = detector.process(np.ascontiguousarray(image[..., :3]))
    if result.pose_landmarks is None:
        return None
    landmarks = np.array([[p.x * width, p.y * height, p.visibility] for p in result.pose_landmarks.landmark])
    return blazepose_to_body25(landmarks)


def keypoints_box(keypoints: np.ndarray, image_size: Tuple[int, int], min_confidence: float = 0.3,
                  padding: float = 0.15) -> Optional[np.ndarray]:
    """An xyxy box around the confident keypoints, grown by ``padding`` of its size on each side and clipped to
    the image (``image_size`` = (width, height)); None with fewer than 4 confident keypoints."""
    points = keypoints[keypoints[:, 2] >= min_confidence, :2]
    if len(points) < 4:
        return None
    low, high = points.min(axis=0), points.max(axis=0)
    margin = padding * (high - low)
    box = np.concatenate([low - margin, high + margin])
    return np.clip(box, 0, [image_size[0], image_size[1], image_size[0], image_size[1]]).astype(np.float32)
