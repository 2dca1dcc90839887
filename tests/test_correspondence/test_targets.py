"""Coordinate targets rendered from the annotation cache, their cache, the dataset and the object crop."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from scipy.spatial import cKDTree

from hoirecon.datasets.annotations import load_annotations
from hoirecon.datasets.behave_io import load_correspondences, load_mask
from hoirecon.datasets.correspondence_targets import (coordinate_target_files, ensure_coordinate_targets,
                                                      image_targets, unproject_depth_to_object)
from hoirecon.datasets.transforms.object_crop import ObjectCrop, crop_image, sample_targets, square_crop_box
from hoirecon.evaluation.functional.sampling import sample_surface
from hoirecon.objects import ObjectLibrary


@pytest.fixture(scope='module')
def train_targets(behave_synthetic_root, tiny_annotation_dir):
    library = ObjectLibrary('behave', template_dir=osp.join(behave_synthetic_root, 'objects'))
    targets, params = ensure_coordinate_targets(behave_synthetic_root, 'train', tiny_annotation_dir, library)
    arrays, _ = load_annotations(tiny_annotation_dir, 'train')
    return targets, params, arrays, library


def test_unprojection_of_a_window_uses_its_image_position():
    K = np.array([[100.0, 0, 40], [0, 100.0, 30], [0, 0, 1]])
    depth = np.full((4, 5), 2.0)
    points = unproject_depth_to_object(depth, K, np.eye(3), np.zeros(3), origin=(10, 20))
    assert points[0, 0] == pytest.approx([(10 - 40) / 100 * 2, (20 - 30) / 100 * 2, 2.0])
    assert points[3, 4] == pytest.approx([(14 - 40) / 100 * 2, (23 - 30) / 100 * 2, 2.0])


def test_coordinates_lie_on_the_template_and_project_onto_their_pixels(train_targets):
    targets, params, arrays, library = train_targets
    assert params['num_images'] == len(arrays['img_id'])
    assert params['full_mask_iou'] > 0.85  # against the generator's JPEG silhouettes at 128 x 96
    checked, distances = 0, []
    for i in range(len(arrays['img_id'])):
        item = image_targets(targets, i)
        if not item['coord_full'].any():
            continue
        template = library[str(arrays['object_name'][i])]
        surface = sample_surface(template.vertices, template.faces, 200000, seed=1)
        rows, cols = np.nonzero(item['coord_full'])
        points = item['coord_map'][rows, cols].astype(np.float64)
        distances.append(cKDTree(surface).query(points)[0])
        camera = points @ arrays['object_R'][i].T.astype(np.float64) + arrays['object_t'][i]
        K = arrays['cam_K'][i]
        pixels = camera[:, :2] / camera[:, 2:] * np.diag(K)[:2] + K[:2, 2]
        expected = np.stack([cols + item['coord_box'][0], rows + item['coord_box'][1]], axis=1)
        assert np.abs(pixels - expected).max() < 0.05  # exact up to float16 storage
        assert not (item['coord_visible'] & ~item['coord_full']).any()
        checked += 1
    assert checked >= 4
    # on the surface: pyrender resolves its 4x multisampled depth buffer to one sample, up to half a pixel from the
    # pixel centre, which moves edge and grazing pixels along the surface's slope (a pixel is ~4 cm here)
    distances = np.concatenate(distances)
    assert np.median(distances) < 3e-3 and np.quantile(distances, 0.99) < 0.025


def test_coordinates_agree_with_the_generator_correspondences(behave_synthetic_root, train_targets):
    targets, _, arrays, _ = train_targets
    errors = []
    for i in range(len(arrays['img_id'])):
        if not arrays['corr_path'][i]:
            continue
        corr = load_correspondences(osp.join(behave_synthetic_root, str(arrays['corr_path'][i])))
        item = image_targets(targets, i)
        if not corr or not item['coord_full'].any():
            continue
        inliers = corr['w2d'].mean(1) >= 0.5  # the generator's inliers: x2d = pixel centre + 1 px noise
        cols, rows = np.rint(corr['x2d'][inliers]).astype(int).T
        col0, row0, width, height = item['coord_box']
        inside = (cols >= col0) & (cols < col0 + width) & (rows >= row0) & (rows < row0 + height)
        cols, rows, x3d = cols[inside] - col0, rows[inside] - row0, corr['x3d'][inliers][inside]
        on = item['coord_full'][rows, cols]
        errors.append(np.median(np.linalg.norm(item['coord_map'][rows, cols][on] - x3d[on], axis=1)))
    assert errors and np.median(errors) < 0.06  # 1 px of noise is ~4 cm at 128 px and 2.5 m


def test_cache_is_built_once_and_rebuilt_when_the_annotations_change(behave_synthetic_root, tiny_annotation_dir,
                                                                     train_targets, tmp_path):
    _, params, _, library = train_targets
    npz, _ = coordinate_target_files(tiny_annotation_dir, 'train')
    stamp = os.stat(npz).st_mtime_ns
    _, again = ensure_coordinate_targets(behave_synthetic_root, 'train', tiny_annotation_dir, library)
    assert os.stat(npz).st_mtime_ns == stamp and again['key'] == params['key']
    copy = str(tmp_path / 'annotations')
    shutil.copytree(tiny_annotation_dir, copy)
    cache = dict(np.load(osp.join(copy, 'behave_train.npz')))
    cache['object_t'] = cache['object_t'] + np.float32(0.01)
    np.savez(osp.join(copy, 'behave_train.npz'), **cache)
    _, changed = ensure_coordinate_targets(behave_synthetic_root, 'train', copy, library)
    assert changed['key'] != params['key']
    assert not [f for f in os.listdir(copy) if '.tmp' in f]  # atomic writes leave no temporaries


def test_crop_box_and_grid_sampling():
    crop = square_crop_box(np.array([10.0, 20.0, 30.0, 60.0]), padding=1.5)
    assert crop == pytest.approx([20 - 30, 40 - 30, 60])  # centre (20, 40), side 1.5 x 40
    item = dict(coord_box=np.array([5, 7, 3, 2]), coord_full=np.ones((2, 3), bool),
                coord_visible=np.array([[1, 0, 1], [0, 1, 0]], bool),
                coord_map=np.arange(18, dtype=np.float16).reshape(2, 3, 3))
    # a 3 x 3 grid whose cell centres fall on pixels (5..7, 7..9)
    out = sample_targets(item, np.array([4.5, 6.5, 3.0]), 3)
    assert out['coord_full'].tolist() == [[1, 1, 1], [1, 1, 1], [0, 0, 0]]
    assert out['coord_visible'].tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 0]]
    assert out['coord_x3d'][1, 2].tolist() == [15, 16, 17]
    img = np.zeros((40, 40, 3), np.uint8)
    img[12, 30] = 255
    # 1 image pixel per output pixel: output (0, 0) is centred on the image point (x 30, y 12)
    cropped = crop_image(img, np.array([29.5, 11.5, 4.0]), 4)
    assert cropped[0, 0, 0] == 255 and cropped[..., 0].sum() == 255


def test_dataset_items_align_the_crop_with_the_targets(behave_synthetic_root, tiny_annotation_dir):
    from hoirecon.registry import DATASETS
    pipeline = [dict(type='LoadHOIImage'), dict(type='ObjectCrop', img_size=32, out_size=32, padding=1.5)]
    dataset = DATASETS.build(dict(type='ObjectCorrespondenceDataset', data_root=behave_synthetic_root, split='train',
                                  pipeline=pipeline))
    assert len(dataset) > 0
    ious = []
    for i in range(len(dataset)):
        item = dataset[i]
        assert item['img'].shape == (32, 32, 3) and item['coord_x3d'].shape == (32, 32, 3)
        mask = load_mask(item['object_mask_path']).astype(np.uint8) * 255
        cropped = crop_image(mask, item['crop_box'], 32) > 127
        visible = item['coord_visible'] > 0
        if visible.sum() >= 10:
            ious.append((cropped & visible).sum() / (cropped | visible).sum())
    assert ious and np.mean(ious) > 0.8
    augment = ObjectCrop(img_size=32, out_size=8, augment=True, scale=0.25, shift=0.15)
    np.random.seed(0)
    boxes = [augment.transform(dict(dataset.get_data_info(0), img=np.zeros((96, 128, 3), np.uint8)))['crop_box']
             for _ in range(20)]
    assert np.std(np.array(boxes), axis=0).min() > 0  # the box moves and zooms
