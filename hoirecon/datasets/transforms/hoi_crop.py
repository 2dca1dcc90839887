"""The square HOI crop with StackFLOW's shift / scale / in-plane rotation augmentation, applied to every target.

Geometry (pixels with centres at integers, OpenCV camera axes): the crop is a square of side ``box_size`` around
``box_center`` in the full image, rotated by ``angle`` and resampled to ``img_size`` pixels:

    p_crop = img_size / box_size * R(angle) (p - box_center) + img_size / 2,    R(a) = [[cos a, -sin a], [sin a, cos a]]

Normalised crop coordinates (the 2D targets) are ``p_crop / img_size - 0.5 = R(angle) (p - box_center) / box_size``,
computed by :func:`hoirecon.models.utils.to_crop_coords`, the function the model's 2D losses call.

A rotation of the image by ``angle`` is the rotation of the camera frame about its optical axis by ``Rz(angle)``, once
the principal point moves to ``box_center + R(angle) (principal - box_center)``. The transform therefore rotates the
3D targets by ``Rz`` and stores that moved principal point, so that projecting the rotated 3D targets with
``focal``/``principal`` and mapping them with ``(p - box_center) / box_size`` (an axis-aligned crop, as the model
does) gives the rotated 2D targets exactly (for ``fx == fy``; BEHAVE's differ by 6e-5).
"""
from typing import Tuple

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform

from hoirecon.models.utils import perspective_project, to_crop_coords
from hoirecon.registry import TRANSFORMS

#: Mask keys warped with the image (nearest neighbour).
MASK_KEYS = ('person_mask', 'object_full_mask')


def square_box(box_xyxy: np.ndarray, padding_ratio: float) -> Tuple[np.ndarray, float]:
    """Centre (2,) and side ``max(w, h) * (1 + padding_ratio)`` of the square around an xyxy box (pixels)."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f'HOICrop: empty HOI box {list(box_xyxy)} (x1, y1, x2, y2); the image has no person or '
                         'object in view (BEHAVEFrameDataset drops such images).')
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2]), max(x2 - x1, y2 - y1) * (1 + padding_ratio)


def rotation_2d(angle_deg: float) -> np.ndarray:
    """(2, 2) float64 ``[[cos, -sin], [sin, cos]]`` acting on pixel coordinates (u right, v down)."""
    a = np.deg2rad(angle_deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def rotation_z(angle_deg: float) -> np.ndarray:
    """(3, 3) float64 rotation about the camera's optical axis that rotates projections by :func:`rotation_2d`."""
    out = np.eye(3)
    out[:2, :2] = rotation_2d(angle_deg)
    return out


def crop_affine(box_center: np.ndarray, box_size: float, angle_deg: float, img_size: int) -> np.ndarray:
    """(2, 3) float64 affine from full-image pixels to crop pixels (the matrix ``cv2.warpAffine`` takes).

    The matrix form of :func:`hoirecon.models.utils.to_crop_pixels` with ``rotation=rotation_2d(angle_deg)`` (tests
    check that they agree), for warping the image and masks.
    """
    linear = img_size / box_size * rotation_2d(angle_deg)
    return np.concatenate([linear, (img_size / 2 - linear @ box_center)[:, None]], axis=1)


def apply_affine(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) points mapped by a (2, 3) affine."""
    return points @ affine[:, :2].T + affine[:, 2]


def project(points: np.ndarray, focal: np.ndarray, principal: np.ndarray) -> np.ndarray:
    """(N, 2) float64 pixels of (N, 3) camera-frame points (:func:`hoirecon.models.utils.perspective_project`)."""
    as_tensor = [torch.as_tensor(np.asarray(x, np.float64))[None] for x in (points, focal, principal)]
    return perspective_project(*as_tensor)[0].numpy()


@TRANSFORMS.register_module()
class HOICrop(BaseTransform):
    """Crop a square around the HOI box, with optional augmentation, and express every target in it.

    Without augmentation the square is centred on the HOI box with side ``max(w, h) * (1 + padding_ratio)``.
    With ``augment=True`` (randomness from ``np.random``; normal draws truncated at 3 sigma, so ``shift``,
    ``scale`` and ``rot_deg`` are hard limits) the centre moves by ``randn / 3 * shift * box_size`` per axis, the
    side is multiplied by ``1 + randn / 3 * scale`` and, with probability ``rot_prob``, the crop rotates by
    ``randn / 3 * rot_deg`` degrees.

    Required keys: ``img`` (H, W, 3) uint8, ``hoi_box`` (4,) xyxy pixels, ``cam_K`` (3, 3).
    Optional keys, transformed when present: ``person_mask``/``object_full_mask`` (warped), ``joints_3d``
    (22, 3) -> adds ``joints_2d`` (22, 2); ``object_kpts_3d`` (16, 3) object frame with ``object_R``/``object_t``
    -> adds ``object_kpts_2d`` (16, 2); with a rotation, ``global_orient``, ``hoi_R``, ``object_R`` are
    pre-multiplied by ``Rz(angle)``, ``hoi_t`` keeps its depth and moves to the rotated 2D root, ``transl``,
    ``transl_male``, ``object_t`` and ``joints_3d`` follow rigidly, and ``person_kpts`` (25, 3) and ``corr_x2d``
    (N, 2) (rows with weight) rotate about the box centre in the image.

    Added keys: ``img`` (img_size, img_size, 3), ``img_shape``, ``box_center`` (2,) and ``box_size`` (float), the
    pre-warp square in image pixels, ``crop_affine`` (2, 3) image -> crop pixels, ``crop_rotation`` (degrees),
    ``focal`` (2,) and ``principal`` (2,) in pixels of the (rotated) camera the 3D targets live in.

    Args:
        img_size: Side of the crop in pixels.
        padding_ratio: Relative margin around the HOI box (StackFLOW: 0.2).
        augment: Apply the random shift / scale / rotation.
        shift: Maximum centre shift, in units of the box side (StackFLOW: 0.1).
        scale: Maximum relative change of the box side (StackFLOW: 0.3).
        rot_deg: Maximum in-plane rotation in degrees (StackFLOW: 30).
        rot_prob: Probability of rotating (StackFLOW: 0.5).
    """

    def __init__(self,
                 img_size: int = 256,
                 padding_ratio: float = 0.2,
                 augment: bool = False,
                 shift: float = 0.1,
                 scale: float = 0.3,
                 rot_deg: float = 30.0,
                 rot_prob: float = 0.5):
        if not 0 <= scale < 1:
            raise ValueError(f'HOICrop: scale must be in [0, 1) so that the box keeps a positive size, got {scale}.')
        self.img_size = int(img_size)
        self.padding_ratio = padding_ratio
        self.augment = augment
        self.shift, self.scale, self.rot_deg, self.rot_prob = shift, scale, rot_deg, rot_prob

    def _sample_box(self, box_xyxy: np.ndarray) -> Tuple[np.ndarray, float, float]:
        center, size = square_box(box_xyxy, self.padding_ratio)
        if not self.augment:
            return center, size, 0.0
        draws = np.clip(np.random.randn(4), -3.0, 3.0) / 3.0
        rotate = np.random.rand() < self.rot_prob
        center = center + draws[:2] * self.shift * size
        size = size * (1.0 + draws[2] * self.scale)
        return center, size, float(draws[3] * self.rot_deg) if rotate else 0.0

    def transform(self, results: dict) -> dict:
        cam_K = np.asarray(results['cam_K'], np.float64)
        focal, principal = cam_K[[0, 1], [0, 1]], cam_K[:2, 2]
        center, size, angle = self._sample_box(results['hoi_box'])
        affine = crop_affine(center, size, angle, self.img_size)
        crop = (self.img_size, self.img_size)
        results['img'] = cv2.warpAffine(results['img'], affine, crop, flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        for key in MASK_KEYS:
            if key in results:
                warped = cv2.warpAffine(results[key].astype(np.uint8), affine, crop, flags=cv2.INTER_NEAREST)
                results[key] = warped.astype(bool)

        rotation = rotation_2d(angle)

        def crop_coords(points_3d):
            pixels = project(points_3d, focal, principal)
            return to_crop_coords(pixels, center, np.float64(size), rotation).astype(np.float32)

        if 'joints_3d' in results:
            results['joints_2d'] = crop_coords(results['joints_3d'])
        if 'object_kpts_3d' in results:
            posed = results['object_kpts_3d'] @ np.asarray(results['object_R']).T + results['object_t']
            results['object_kpts_2d'] = crop_coords(posed)
        if angle != 0.0:
            rotated_principal = center + rotation_2d(angle) @ (principal - center)
            self._rotate_targets(results, angle, center, focal, principal, rotated_principal)
            principal = rotated_principal
        results.update(img_shape=crop, box_center=center.astype(np.float32), box_size=float(size),
                       crop_affine=affine.astype(np.float32), crop_rotation=angle,
                       focal=focal.astype(np.float32), principal=principal.astype(np.float32))
        return results

    @staticmethod
    def _rotate_targets(results: dict, angle: float, center: np.ndarray, focal: np.ndarray, principal: np.ndarray,
                        rotated_principal: np.ndarray) -> None:
        """Rotate the 3D targets by ``Rz(angle)`` and the image keypoints about ``center`` (in place)."""
        rot_z, rot_2d = rotation_z(angle), rotation_2d(angle)
        for key in ('global_orient', 'hoi_R', 'object_R'):
            if key in results:
                results[key] = (rot_z @ results[key]).astype(np.float32)

        def rotate_pixels(points: np.ndarray, real: np.ndarray) -> np.ndarray:
            """Copy of (N, >=2) points with the x, y of the ``real`` rows rotated about the box centre."""
            points = np.array(points, np.float32)
            points[real, :2] = (points[real, :2] - center) @ rot_2d.T + center
            return points

        if 'person_kpts' in results:  # undetected joints stay (0, 0, 0)
            results['person_kpts'] = rotate_pixels(results['person_kpts'], np.asarray(results['person_kpts'])[:, 2] > 0)
        if 'corr_x2d' in results:  # padding rows (weight 0) stay
            results['corr_x2d'] = rotate_pixels(results['corr_x2d'], np.asarray(results['corr_w2d']).sum(axis=1) > 0)
        if 'hoi_t' not in results:
            return
        old_root = np.asarray(results['hoi_t'], np.float64)
        # the rotated 2D root seen by the rotated camera (focal, principal), at the same depth (as StackFLOW)
        rotated_pixel = center + rot_2d @ (project(old_root[None], focal, principal)[0] - center)
        new_root = np.append((rotated_pixel - rotated_principal) / focal * old_root[2], old_root[2])
        move = new_root - old_root
        for key in ('transl', 'transl_male'):
            if key in results:
                results[key] = (results[key] + move).astype(np.float32)
        for key in ('joints_3d', 'object_t'):
            if key in results:
                results[key] = ((results[key] - old_root) @ rot_z.T + new_root).astype(np.float32)
        results['hoi_t'] = new_root.astype(np.float32)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(img_size={self.img_size}, padding_ratio={self.padding_ratio}, '
                f'augment={self.augment}, shift={self.shift}, scale={self.scale}, rot_deg={self.rot_deg}, '
                f'rot_prob={self.rot_prob})')
