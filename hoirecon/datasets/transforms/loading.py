"""Loading the colour image (and the person / full-object masks) and the object correspondences of one HOI sample."""
import os.path as osp
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from hoirecon.registry import TRANSFORMS
from hoirecon.structures.file_layout import correspondence_file
from ..annotations import upsample_half_mask
from ..behave_io import BehaveFormatError, load_correspondences, load_image, load_mask
from ..body_estimates import body_estimate_path, read_body_estimate


@TRANSFORMS.register_module()
class LoadHOIImage(BaseTransform):
    """Read ``results['img_path']`` as an RGB image, optionally with the masks that background swapping keeps.

    Required keys: ``img_path``; with ``with_masks`` also ``person_mask_path``, ``object_full_mask_path`` and
    ``object_full_mask_scale`` (2 for StackFLOW's half-resolution ``mask_full``). Optional: ``image_size``
    (width, height) to check the image against.

    Added keys: ``img`` (H, W, 3) uint8 RGB, ``img_shape`` and ``ori_shape`` (H, W); with ``with_masks``
    ``person_mask`` and ``object_full_mask``, (H, W) bool.

    Args:
        with_masks: Also load the person mask and the full (non-occluded) object mask.
    """

    def __init__(self, with_masks: bool = False):
        self.with_masks = with_masks

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        img = load_image(path)
        height, width = img.shape[:2]
        if 'image_size' in results and tuple(int(v) for v in results['image_size']) != (width, height):
            expected = tuple(int(v) for v in results['image_size'])
            raise BehaveFormatError(f'{path}: image is {width}x{height} pixels but its calibration.json says '
                                    f'{expected[0]}x{expected[1]}; the image or the calibration is wrong.')
        results.update(img=img, img_shape=(height, width), ori_shape=(height, width))
        if self.with_masks:
            results['person_mask'] = load_mask(results['person_mask_path'], (width, height))
            scale = int(results.get('object_full_mask_scale', 1))
            full_path = results['object_full_mask_path']
            if scale == 2:
                full = upsample_half_mask(load_mask(full_path, (width // 2, height // 2)), (width, height))
            else:
                full = load_mask(full_path, (width, height))
            results['object_full_mask'] = np.asarray(full, dtype=bool)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(with_masks={self.with_masks})'


#: Keys :class:`LoadBodyEstimate` adds (and ``PackCHOREInputs`` packs into ``observations``).
BODY_ESTIMATE_FIELDS = ('estimate_global_orient', 'estimate_body_pose', 'estimate_betas')


@TRANSFORMS.register_module()
class LoadBodyEstimate(BaseTransform):
    """Read the body estimate beside ``results['img_path']`` (BEHAVE's ``k{k}.mocap.json``, a FrankMocap
    estimate; :mod:`hoirecon.datasets.body_estimates`), the body CHORE starts its fit from.

    Added keys: ``estimate_global_orient`` (3, 3), ``estimate_body_pose`` (J, 3, 3) and ``estimate_betas`` (10,),
    float32 (none of them when the file is missing and ``missing='skip'``).

    Args:
        num_body_joints: body joints after the root of the fitted body model (21: SMPL-H / SMPL-X, 23: SMPL).
        missing: 'error' (default: a missing file raises, naming it and the tool that writes one) or 'skip' (the
            sample goes on without an estimate: the CHORE-style fit then starts that body from its fields).
    """

    def __init__(self, num_body_joints: int = 21, missing: str = 'error'):
        if missing not in ('error', 'skip'):
            raise ValueError(f"LoadBodyEstimate: missing must be 'error' or 'skip', got {missing!r}.")
        self.num_body_joints = int(num_body_joints)
        self.missing = missing

    def transform(self, results: dict) -> dict:
        path = body_estimate_path(results['img_path'])
        if self.missing == 'skip' and not osp.isfile(path):
            return results
        estimate = read_body_estimate(path, self.num_body_joints)
        results.update(estimate_global_orient=estimate['global_orient'], estimate_body_pose=estimate['body_pose'],
                       estimate_betas=estimate['betas'])
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(num_body_joints={self.num_body_joints}, missing={self.missing!r})'


def fixed_size_correspondences(corr: dict, num_points: int) -> dict:
    """Pad or evenly subsample 2D-3D correspondences to ``num_points`` rows.

    Args:
        corr: ``{}`` or ``x3d`` (n, 3), ``x2d`` (n, 2), ``w2d`` (n, 2) (see
            :func:`hoirecon.datasets.load_correspondences`).
        num_points: N, rows of the output.

    Returns:
        ``corr_x3d`` (N, 3), ``corr_x2d`` (N, 2), ``corr_w2d`` (N, 2) float32; padded rows (and every row when
        ``corr`` is empty) have weight 0, so losses and the PnP initialiser ignore them. Subsampling keeps
        rows ``round(linspace(0, n - 1, N))`` (deterministic).
    """
    out = {'corr_x3d': np.zeros((num_points, 3), np.float32), 'corr_x2d': np.zeros((num_points, 2), np.float32),
           'corr_w2d': np.zeros((num_points, 2), np.float32)}
    if not corr:
        return out
    num = len(corr['x3d'])
    rows = np.arange(num) if num <= num_points else np.round(np.linspace(0, num - 1, num_points)).astype(np.int64)
    for key in ('x3d', 'x2d', 'w2d'):
        out[f'corr_{key}'][:len(rows)] = np.asarray(corr[key], np.float32)[rows]
    return out


@TRANSFORMS.register_module()
class LoadCorrespondences(BaseTransform):
    """Read the EPro-PnP-style 2D-3D object correspondences of ``results['corr_path']`` (the refiner's input).

    Optional key: ``corr_path`` (``''`` or missing: no correspondences for this image; the refiner then switches
    the object reprojection term off for it).

    Added keys: ``corr_x3d`` (N, 3) object-frame metres, ``corr_x2d`` (N, 2) full-image pixels, ``corr_w2d``
    (N, 2) weights (0 on padding), float32, N = ``num_points`` (see :func:`fixed_size_correspondences`).
    :class:`HOICrop` rotates ``corr_x2d`` with the image when it augments by rotation.

    Args:
        num_points: Rows kept per image (StackFLOW's EPro-PnP files hold 4096 = 64 x 64).
        corr_root: read ``<corr_root>/epro_pnp/<sequence>/<frame>/k<kinect>.obj_coor.pkl`` instead of the dataset's
            own file, e.g. the predicted correspondences that ``tools/test.py`` writes for a correspondence config
            (``work_dirs/cdpn_synthetic/predicted``); every image must have its file there.
    """

    def __init__(self, num_points: int = 4096, corr_root: Optional[str] = None):
        if int(num_points) < 1:
            raise ValueError(f'LoadCorrespondences: num_points must be >= 1, got {num_points}.')
        self.num_points = int(num_points)
        self.corr_root = corr_root

    def transform(self, results: dict) -> dict:
        path = results.get('corr_path') or ''
        if self.corr_root is not None:
            path = correspondence_file(self.corr_root, results['sequence'], results['frame'], results['kinect'])
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'LoadCorrespondences: no correspondence file {path} for image {results.get("img_id")}. '
                    f'Write the split\'s files with tools/test.py on a correspondence config whose test_evaluator '
                    f'out_dir is {self.corr_root} (docs/correspondence.md), or drop corr_root to read the dataset\'s '
                    'own epro_pnp/ files.')
        results.update(fixed_size_correspondences(load_correspondences(path) if path else {}, self.num_points))
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(num_points={self.num_points}, corr_root={self.corr_root!r})'
