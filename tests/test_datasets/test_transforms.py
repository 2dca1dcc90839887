"""HOI transforms: crop geometry, rotation-augmentation consistency, colour / background, loading and packing."""
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest
import torch

from hoirecon.datasets.behave_frames import BEHAVEFrameDataset
from hoirecon.datasets.behave_io import BehaveFormatError, load_correspondences
from hoirecon.datasets.transforms import (BackgroundSwap, ColorGain, HOICrop, LoadCorrespondences, LoadHOIImage,
                                          PackHOIInputs)
from hoirecon.models.body_models import SMPLH
from hoirecon.models.utils import perspective_project, to_crop_coords
from hoirecon.objects import ObjectLibrary
from hoirecon.structures import HOIDataSample


@pytest.fixture(scope='module')
def train_infos(behave_synthetic_root, behave_annotation_dir):
    dataset = BEHAVEFrameDataset(behave_synthetic_root, split='train')
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def _blob_image(width, height, center, sigma=2.5):
    cols, rows = np.meshgrid(np.arange(width), np.arange(height))
    blob = np.exp(-((cols - center[0])**2 + (rows - center[1])**2) / (2 * sigma**2))
    return np.repeat((255 * blob).round().astype(np.uint8)[..., None], 3, axis=2)


def _centroid(img):
    weight = img[..., 0].astype(np.float64)
    weight[weight < 10] = 0
    rows, cols = np.nonzero(weight)
    w = weight[rows, cols]
    return np.array([(cols * w).sum() / w.sum(), (rows * w).sum() / w.sum()])


@pytest.mark.parametrize('seed', [0, 1, 2, 3])
def test_projected_point_lands_where_the_warp_puts_the_image(seed):
    """A 3D point projected then mapped to crop coordinates sits on the warped image of a dot drawn at it."""
    cam_K = np.array([[500., 0, 320], [0, 500., 240], [0, 0, 1]])
    point = np.array([[0.21, -0.13, 2.4]])
    pixel = point[0, :2] / point[0, 2] * 500 + [320, 240]
    results = dict(img=_blob_image(640, 480, pixel), cam_K=cam_K, joints_3d=point,
                   hoi_box=np.array([pixel[0] - 60, pixel[1] - 90, pixel[0] + 40, pixel[1] + 70]))
    np.random.seed(seed)
    out = HOICrop(img_size=256, augment=True, rot_prob=1.0)(results)
    assert out['img'].shape == (256, 256, 3) and abs(out['crop_rotation']) > 0
    expected = (out['joints_2d'][0] + 0.5) * 256
    np.testing.assert_allclose(_centroid(out['img']), expected, atol=0.3)


@pytest.mark.parametrize('rot_prob', [0.0, 1.0])
def test_the_dataset_crop_and_the_model_crop_agree(rot_prob):
    """HOICrop's 2D targets (numpy, rotated crop) equal the model's path: the rotated 3D targets projected with the
    crop's camera and mapped by the same to_crop_coords in torch, axis-aligned (fx == fy here)."""
    cam_K = np.array([[700., 0, 330], [0, 700., 250], [0, 0, 1]])
    rng = np.random.default_rng(7)
    joints = rng.normal(0, 0.3, (22, 3)) + [0.1, 0.0, 3.0]
    results = dict(img=np.zeros((480, 640, 3), np.uint8), cam_K=cam_K, joints_3d=joints, hoi_t=joints[0].copy(),
                   hoi_box=np.array([200., 120, 420, 400]))
    np.random.seed(3)
    out = HOICrop(img_size=128, augment=True, rot_prob=rot_prob)(results)
    assert (out['crop_rotation'] != 0.0) == (rot_prob == 1.0)
    model_path = to_crop_coords(
        perspective_project(torch.as_tensor(out['joints_3d'], dtype=torch.float64)[None],
                            torch.as_tensor(out['focal'], dtype=torch.float64)[None],
                            torch.as_tensor(out['principal'], dtype=torch.float64)[None]),
        torch.as_tensor(out['box_center'], dtype=torch.float64)[None], torch.tensor([out['box_size']]))
    np.testing.assert_allclose(out['joints_2d'], model_path[0].numpy(), atol=2e-6)


def test_crop_without_augmentation_is_the_padded_square():
    results = dict(img=np.zeros((100, 200, 3), np.uint8), cam_K=np.array([[90., 0, 99], [0, 91., 48], [0, 0, 1]]),
                   hoi_box=np.array([20., 10, 60, 90]))
    out = HOICrop(img_size=64, padding_ratio=0.2)(results)
    np.testing.assert_allclose(out['box_center'], [40, 50])
    assert out['box_size'] == pytest.approx(80 * 1.2)
    np.testing.assert_allclose(out['focal'], [90, 91])
    np.testing.assert_allclose(out['principal'], [99, 48])
    assert out['crop_rotation'] == 0.0 and out['img'].shape == (64, 64, 3)
    with pytest.raises(ValueError, match='empty HOI box'):
        HOICrop()(dict(results, hoi_box=np.zeros(4)))


def _crop_coords_of(points, data_sample):
    """The model's path: project with the crop camera and map with the axis-aligned box."""
    focal = torch.as_tensor(data_sample.focal, dtype=torch.float64)[None]
    principal = torch.as_tensor(data_sample.principal, dtype=torch.float64)[None]
    pixels = perspective_project(points, focal, principal)
    return to_crop_coords(pixels, torch.as_tensor(data_sample.box_center, dtype=torch.float64)[None],
                          torch.tensor([data_sample.box_size], dtype=torch.float64))


def test_rotation_augmentation_keeps_3d_and_2d_targets_consistent(train_infos, behave_synthetic_root,
                                                                  surrogate_body_root):
    """Joints posed from the augmented parameters and projected with the crop camera hit the augmented 2D joints."""
    male = SMPLH(surrogate_body_root, gender='male').double()
    library = ObjectLibrary('behave', template_dir=osp.join(behave_synthetic_root, 'objects'))
    pipeline = [LoadHOIImage(), HOICrop(augment=True, rot_prob=1.0), PackHOIInputs()]
    np.random.seed(11)
    for info in train_infos:
        info = dict(info)  # the transforms fill their input dict: keep the module's fixture intact
        for transform in pipeline:
            info = transform(info)
        sample, gt = info['data_samples'], info['data_samples'].gt_instances
        assert abs(sample.crop_rotation) > 1.0
        body = male(betas=gt.betas.double(), global_orient=gt.global_orient.double(),
                    body_pose=gt.body_pose.double(), transl=gt.transl.double())
        joints = body.joints[:, :22]
        np.testing.assert_allclose(joints.numpy(), gt.joints_3d.double().numpy(), atol=1e-5)
        error_px = (_crop_coords_of(joints, sample) - gt.joints_2d.double()).norm(dim=-1).max().item() * 256
        assert error_px < 1.0
        # the unrotated camera (the opposite sign) would be far off
        unrotated = _crop_coords_of(joints @ torch.as_tensor(_rot_z(-2 * sample.crop_rotation)).T, sample)
        assert (unrotated - gt.joints_2d.double()).norm(dim=-1).max().item() * 256 > 1.0
        kpts = torch.as_tensor(library[sample.object_name].keypoints)[None]
        posed = kpts @ gt.object_R.double().transpose(1, 2) + gt.object_t.double()[:, None]
        num = len(kpts[0])
        error_px = (_crop_coords_of(posed, sample) - gt.object_kpts_2d.double()[:, :num]).norm(dim=-1).max() * 256
        assert error_px.item() < 1.0
        np.testing.assert_allclose(gt.object_R[0].numpy(), (gt.hoi_R[0] @ gt.rel_R[0]).numpy(), atol=1e-5)
        np.testing.assert_allclose(gt.object_t[0].numpy(), (gt.hoi_R[0] @ gt.rel_t[0] + gt.hoi_t[0]).numpy(),
                                   atol=1e-5)


def _rot_z(angle_deg):
    a = np.deg2rad(angle_deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


def test_packed_sample_shapes_and_dtypes(train_infos):
    info = dict(train_infos[0])
    for transform in (LoadHOIImage(), HOICrop(), PackHOIInputs()):
        info = transform(info)
    assert info['inputs'].shape == (3, 256, 256) and info['inputs'].dtype == torch.uint8
    sample = info['data_samples']
    assert isinstance(sample, HOIDataSample)
    shapes = dict(betas=(1, 10), global_orient=(1, 3, 3), body_pose=(1, 21, 3, 3), transl=(1, 3), hoi_R=(1, 3, 3),
                  hoi_t=(1, 3), object_R=(1, 3, 3), object_t=(1, 3), rel_R=(1, 3, 3), rel_t=(1, 3),
                  joints_3d=(1, 22, 3), joints_2d=(1, 22, 2), object_kpts_3d=(1, 16, 3), object_kpts_2d=(1, 16, 2),
                  object_kpts_weights=(1, 16))
    for name, shape in shapes.items():
        value = sample.gt_instances[name]
        assert tuple(value.shape) == shape and value.dtype == torch.float32, name
    # detector outputs are observations, not ground truth
    assert 'person_kpts' not in sample.gt_instances
    assert tuple(sample.observations.person_kpts.shape) == (1, 25, 3)
    assert sample.gt_instances.object_label.dtype == torch.long
    assert sample.gt_instances.object_label.item() == train_infos[0]['object_label']
    np.testing.assert_allclose(sample.gt_instances.betas[0].numpy(), train_infos[0]['betas_male'])
    for key in ('img_id', 'img_path', 'object_name', 'cam_K', 'box_center', 'box_size', 'focal', 'principal',
                'visibility', 'sequence', 'frame', 'kinect', 'gender', 'corr_path'):
        assert key in sample.metainfo, key
    # the image is the crop, unnormalised RGB
    np.testing.assert_array_equal(info['inputs'].permute(1, 2, 0).numpy(),
                                  HOICrop()(LoadHOIImage()(dict(train_infos[0])))['img'])
    gendered = PackHOIInputs(body_target='gendered')(HOICrop()(LoadHOIImage()(dict(train_infos[0]))))
    np.testing.assert_allclose(gendered['data_samples'].gt_instances.betas[0].numpy(), train_infos[0]['betas'])
    with pytest.raises(ValueError, match='body_target'):
        PackHOIInputs(body_target='female')


def test_augmentation_is_deterministic_for_a_seed(train_infos):
    pipeline = [LoadHOIImage(), HOICrop(augment=True), ColorGain()]

    def run(seed):
        np.random.seed(seed)
        info = dict(train_infos[1])
        for transform in pipeline:
            info = transform(info)
        return info

    first, again, other = run(5), run(5), run(6)
    for key in ('img', 'joints_2d', 'global_orient', 'hoi_t', 'box_center', 'principal', 'color_gain'):
        np.testing.assert_array_equal(first[key], again[key])
    assert not np.allclose(first['box_center'], other['box_center'])


def test_color_gain_stays_in_range():
    np.random.seed(0)
    out = ColorGain(0.8, 1.2)(dict(img=np.full((4, 5, 3), 100, np.uint8)))
    assert np.all((out['img'] >= 80) & (out['img'] <= 120))
    np.testing.assert_array_equal(out['img'][0, 0], np.rint(100 * out['color_gain']))
    assert len(np.unique(out['img'].reshape(-1, 3), axis=0)) == 1
    with pytest.raises(ValueError):
        ColorGain(1.2, 0.8)


def test_background_swap_keeps_person_and_object_pixels(tmp_path):
    bg_dir = tmp_path / 'backgrounds'
    bg_dir.mkdir()
    cv2.imwrite(str(bg_dir / 'blue.png'), np.full((30, 40, 3), (255, 0, 0), np.uint8))  # BGR blue
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
    person = np.zeros((12, 16), bool)
    person[2:6, 3:7] = True
    obj = np.zeros((12, 16), bool)
    obj[5:9, 10:14] = True
    out = BackgroundSwap(str(bg_dir), prob=1.0)(dict(img=img.copy(), person_mask=person, object_full_mask=obj))
    keep = person | obj
    np.testing.assert_array_equal(out['img'][keep], img[keep])
    np.testing.assert_array_equal(out['img'][~keep], np.tile([0, 0, 255], ((~keep).sum(), 1)))  # RGB blue
    unchanged = BackgroundSwap(str(bg_dir), prob=0.0)(dict(img=img.copy(), person_mask=person, object_full_mask=obj))
    np.testing.assert_array_equal(unchanged['img'], img)
    with pytest.raises(KeyError, match='with_masks=True'):
        BackgroundSwap(str(bg_dir), prob=1.0)(dict(img=img.copy()))
    with pytest.raises(FileNotFoundError, match='not found'):
        BackgroundSwap(str(tmp_path / 'missing'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='no images'):
        BackgroundSwap(str(tmp_path / 'empty'))


def test_background_swap_after_crop_uses_the_warped_masks(train_infos, tmp_path):
    cv2.imwrite(str(tmp_path / 'white.jpg'), np.full((8, 8, 3), 255, np.uint8))
    info = LoadHOIImage(with_masks=True)(dict(train_infos[0]))
    info = HOICrop(img_size=64)(info)
    assert info['person_mask'].shape == (64, 64) and info['object_full_mask'].any()
    out = BackgroundSwap(str(tmp_path), prob=1.0)(dict(info, img=info['img'].copy()))
    keep = info['person_mask'] | info['object_full_mask']
    np.testing.assert_array_equal(out['img'][keep], info['img'][keep])
    assert np.all(out['img'][~keep] >= 250)


def test_load_image_and_masks(train_infos, tmp_path):
    info = LoadHOIImage(with_masks=True)(dict(train_infos[0]))
    reference = cv2.imread(train_infos[0]['img_path'])[..., ::-1]
    np.testing.assert_array_equal(info['img'], reference)
    assert info['img_shape'] == (96, 128)
    assert info['person_mask'].dtype == bool and info['person_mask'].shape == (96, 128)
    np.testing.assert_array_equal(info['object_full_mask'], cv2.imread(train_infos[0]['object_full_mask_path'],
                                                                       cv2.IMREAD_GRAYSCALE) > 127)
    half = tmp_path / 'half.jpg'
    cv2.imwrite(str(half), np.full((48, 64), 255, np.uint8))
    scaled = LoadHOIImage(with_masks=True)(dict(train_infos[0], object_full_mask_path=str(half),
                                                object_full_mask_scale=2))
    assert scaled['object_full_mask'].shape == (96, 128) and scaled['object_full_mask'].all()
    missing = str(tmp_path / 'k9.color.jpg')
    with pytest.raises(FileNotFoundError, match='k9.color.jpg'):
        LoadHOIImage()(dict(train_infos[0], img_path=missing))
    with pytest.raises(BehaveFormatError, match='calibration.json'):
        LoadHOIImage()(dict(train_infos[0], image_size=np.array([256, 192])))


def test_correspondences_from_another_root(train_infos, tmp_path):
    """corr_root reads <root>/epro_pnp/<seq>/<frame>/k<k>.obj_coor.pkl (the files a correspondence config's
    tools/test.py writes) instead of the dataset's; a missing file names itself and how to make it."""
    info = dict(train_infos[0])
    x3d = np.arange(12, dtype=np.float32).reshape(4, 3)
    folder = tmp_path / 'epro_pnp' / info['sequence'] / info['frame']
    folder.mkdir(parents=True)
    with open(folder / f'k{info["kinect"]}.obj_coor.pkl', 'wb') as f:
        pickle.dump(dict(x3d=x3d, x2d=np.ones((4, 2), np.float32), w2d=np.full((4, 2), 0.5, np.float32)), f)
    loaded = LoadCorrespondences(num_points=6, corr_root=str(tmp_path))(dict(info))
    np.testing.assert_array_equal(loaded['corr_x3d'][:4], x3d)
    assert (loaded['corr_w2d'][:4] == 0.5).all() and not loaded['corr_w2d'][4:].any()
    with pytest.raises(FileNotFoundError, match=r'k9\.obj_coor\.pkl.*tools/test\.py'):
        LoadCorrespondences(corr_root=str(tmp_path))(dict(info, kinect=9))


def test_correspondences_are_loaded_padded_and_rotated_with_the_image(train_infos):
    """x2d follow the rotation augmentation: the posed x3d projected with the rotated camera land on them."""
    info = dict(next(i for i in train_infos if i['corr_path']))
    raw = load_correspondences(info['corr_path'])
    loaded = LoadCorrespondences(num_points=2 * len(raw['x3d']))(dict(info))
    n = len(raw['x3d'])
    np.testing.assert_array_equal(loaded['corr_x3d'][:n], raw['x3d'])
    assert not loaded['corr_w2d'][n:].any() and loaded['corr_w2d'][:n].all()
    fewer = LoadCorrespondences(num_points=7)(dict(info))
    np.testing.assert_array_equal(fewer['corr_x3d'][[0, -1]], raw['x3d'][[0, -1]])  # even subsample, both ends
    assert not LoadCorrespondences()(dict(info, corr_path=''))['corr_w2d'].any()

    np.random.seed(3)
    pipeline = [LoadHOIImage(), LoadCorrespondences(num_points=n), HOICrop(augment=True, rot_prob=1.0), PackHOIInputs()]
    for transform in pipeline:
        info = transform(info)
    sample, obs, gt = info['data_samples'], info['data_samples'].observations, info['data_samples'].gt_instances
    assert abs(sample.crop_rotation) > 1.0
    posed = obs.corr_x3d.double() @ gt.object_R.double().transpose(1, 2) + gt.object_t.double()[:, None]
    pixels = perspective_project(posed, torch.as_tensor(sample.focal)[None].double(),
                                 torch.as_tensor(sample.principal)[None].double())
    inlier = obs.corr_w2d[0, :, 0] >= 0.5  # the generator's inliers (1 px noise); outliers have weight <= 0.3
    error = (pixels[0, inlier] - obs.corr_x2d[0, inlier].double()).norm(dim=-1)
    assert error.median() < 1.5, error.median()  # 1 px noise; without rotating x2d (18.6 deg here): 2.1 px
