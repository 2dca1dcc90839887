"""StackFLOW-AUG: renders of the training fits (hoirecon.synthetic.augmentation_renders, tools/render_augmentation.py),
their reader (BEHAVEAugmentationDataset) and the mixing (MixDraw, RandomMixDataset, BEHAVEFrameAugDataset).

A tiny synthetic world (conftest ``behave_synthetic_root``: 1 training sequence x 2 frames x 4 kinects) is rendered
into 2 frames x 2 virtual views at 320 x 240 pixels; everything is checked from the written files.
"""
import json
import os
import os.path as osp
import re
import shutil

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from hoirecon.datasets import BEHAVEFrameDataset
from hoirecon.datasets.annotations import ANNOTATION_FIELDS
from hoirecon.datasets.behave_augmentation import (AUG_INTRINSICS, RENDER_MANIFEST, BEHAVEAugmentationDataset,
                                                   BEHAVEFrameAugDataset, MixDraw, RandomMixDataset,
                                                   read_render_params, scaled_intrinsics)
from hoirecon.datasets.behave_io import BehaveFormatError, load_mask
from hoirecon.objects import ObjectLibrary
from hoirecon.registry import BODY_MODELS
from hoirecon.testing.tools import load_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
BODY = dict(type='SMPLH', model_path='surrogate', gender='male')
SIZE = (320, 240)
VIEWS = 2


def _egl_available() -> str:
    """'' when an offscreen EGL context can be made, else the reason."""
    try:
        from hoirecon.synthetic.render import HOIRenderer
        HOIRenderer(8, 8).close()
        return ''
    except Exception as err:  # noqa: BLE001  (any GL/EGL failure means: cannot render here)
        return f'offscreen EGL rendering is unavailable ({type(err).__name__}: {err})'


@pytest.fixture(scope='module')
def renders(behave_synthetic_root, tmp_path_factory):
    """``(data_root, render_root, summary)`` of 2 frames x 2 views rendered from the tiny world's training fits."""
    reason = _egl_available()
    if reason:
        pytest.skip(reason)
    from hoirecon.synthetic.augmentation_renders import render_augmentation
    out = str(tmp_path_factory.mktemp('aug') / 'rendered_images')
    summary = render_augmentation(behave_synthetic_root, BODY, out_dir=out, views=VIEWS, image_size=SIZE, limit=2,
                                  progress=False)
    return behave_synthetic_root, out, summary


def _views(render_root):
    return sorted(osp.join(d, f) for d, _, files in os.walk(render_root) for f in files if f.endswith('_params.json'))


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def test_layout_manifest_and_resume(renders):
    data_root, out, summary = renders
    assert summary['rendered'] == 2 and summary['views'] == VIEWS
    params = _views(out)
    assert len(params) == 2 * VIEWS
    for path in params:
        folder, name = osp.split(path)
        cam = name[:3]
        assert re.fullmatch(r'k\d\d', cam)
        assert osp.basename(folder) == 'hoirecon_surrogate_smplh_male'
        for suffix in ('_hoi_color.jpg', '_person_mask.jpg', '_object_mask.jpg'):
            image = cv2.imread(osp.join(folder, cam + suffix))
            assert image.shape[:2] == (SIZE[1], SIZE[0])
    with open(osp.join(out, RENDER_MANIFEST)) as f:
        manifest = json.load(f)
    assert manifest['views'] == VIEWS and manifest['image_size'] == list(SIZE)
    cx, cy, fx, fy = AUG_INTRINSICS
    np.testing.assert_allclose(manifest['cam_K'], [[fx * 320 / 2048, 0, cx * 320 / 2048],
                                                   [0, fy * 240 / 1536, cy * 240 / 1536], [0, 0, 1]])
    assert 'SCANimate' in manifest['avatar_note']
    # resume: finished frames are skipped, other settings refused with the differences named
    from hoirecon.synthetic.augmentation_renders import render_augmentation
    again = render_augmentation(data_root, BODY, out_dir=out, views=VIEWS, image_size=SIZE, limit=2, progress=False)
    assert (again['rendered'], again['skipped']) == (0, 2)
    with pytest.raises(ValueError, match=r'views: 2 there, 3 now'):
        render_augmentation(data_root, BODY, out_dir=out, views=3, image_size=SIZE, limit=1, progress=False)


def _pose_view(params, model, library, obj_name):
    """Camera-frame body vertices, root joint and object vertices posed from one params.json (float64)."""
    pose = np.concatenate([params['pose'][:66], params['hand_pose']])
    with torch.no_grad():
        out = model.forward_axis_angle(torch.as_tensor(params['betas'][None]), torch.as_tensor(pose[None]),
                                       torch.as_tensor(params['transl'][None]))
    obj = library[obj_name].vertices @ params['object_R'].T + params['object_T']
    return out.vertices[0].numpy(), out.joints[0, 0].numpy(), obj


def test_params_round_trip_onto_the_rendered_masks(renders):
    """Body and object posed from params.json in the virtual camera reproject onto the written masks."""
    from hoirecon.synthetic.render import ColoredMesh, HOIRenderer, View
    from hoirecon.utils.offscreen import Intrinsics
    data_root, out, _ = renders
    model = BODY_MODELS.build(BODY).double()
    library = ObjectLibrary('behave', template_dir=osp.join(data_root, 'objects'))
    K = scaled_intrinsics(SIZE)
    intr = Intrinsics(fx=K[0, 0], fy=K[1, 1], cx=K[0, 2], cy=K[1, 2], width=SIZE[0], height=SIZE[1])
    renderer = HOIRenderer(*SIZE)
    distances = {}
    try:
        for path in _views(out):
            folder, cam = osp.dirname(path), osp.basename(path)[:3]
            seq, frame = folder.split(os.sep)[-3:-1]
            params = read_render_params(path)
            assert np.allclose(params['pose'][66:], 0)  # SMPL's two hand joints: SMPL-H has fingers instead
            body, root, obj = _pose_view(params, model, library, seq.split('_')[2])
            # each virtual camera looks at the pelvis: the root joint projects onto the principal point
            np.testing.assert_allclose(root[:2] / root[2] * K[[0, 1], [0, 1]] + K[:2, 2], K[:2, 2], atol=1e-3)
            distances.setdefault((seq, frame), []).append(np.linalg.norm(root))
            person = load_mask(osp.join(folder, f'{cam}_person_mask.jpg'), SIZE)
            full = load_mask(osp.join(folder, f'{cam}_object_mask.jpg'), SIZE)
            # independent of the renderer: the convex hull of the projected box-object's vertices is its silhouette
            uv = obj[:, :2] / obj[:, 2:] * np.diag(K)[:2] + K[:2, 2]
            hull = np.zeros(SIZE[::-1], np.uint8)
            cv2.fillConvexPoly(hull, cv2.convexHull(np.round(uv * 16).astype(np.int32)), 1, shift=4)
            assert _iou(hull > 0, full) > 0.85
            sil_body, sil_obj = renderer.silhouettes([
                ColoredMesh(body, model.faces, np.full((len(body), 4), 255, np.uint8)),
                ColoredMesh(obj, library[seq.split('_')[2]].faces, np.full((len(obj), 4), 255, np.uint8))
            ], View(intr, np.eye(3), np.zeros(3)))
            assert _iou(sil_obj, full) > 0.97
            assert (person & sil_body).sum() / person.sum() > 0.97  # visible person inside the re-posed body
            assert _iou(person | (sil_body & full), sil_body) > 0.95  # ... and all of it but where the object hides
            extra = params['hoirecon']
            assert abs(extra['visibility'] - 1.0) < 1e-6 or 0 <= extra['visibility'] < 1
    finally:
        renderer.close()
    # a ring: every view of a frame is as far from the pelvis as the reference kinect
    cache = BEHAVEFrameDataset(data_root, split='train', body_model=BODY)
    for (seq, frame), values in distances.items():
        ref = [cache.get_data_info(i) for i in range(len(cache))
               if cache.get_data_info(i)['sequence'] == seq and cache.get_data_info(i)['frame'] == frame
               and cache.get_data_info(i)['kinect'] == 1][0]
        np.testing.assert_allclose(values, np.linalg.norm(ref['hoi_t']), atol=1e-4)


def test_dataset_reads_the_renders_into_records(renders):
    data_root, out, _ = renders
    pipeline = [dict(type='LoadHOIImage', with_masks=True), dict(type='HOICrop', img_size=64, augment=True),
                dict(type='PackHOIInputs', body_target='male')]
    dataset = BEHAVEAugmentationDataset(data_root, render_dir=out, body_model=BODY, pipeline=pipeline)
    assert len(dataset) == 2 * VIEWS
    model = BODY_MODELS.build(BODY).double()
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        assert info['aug'] is True and info['gender'] == 'male'
        assert re.fullmatch(r'\d+_\d+_[a-z]+_[a-z0-9]+_\d{3}_01_\d\d', info['img_id']), info['img_id']
        for name, (shape, _) in ANNOTATION_FIELDS.items():
            assert np.shape(info[name]) == shape, name
        np.testing.assert_array_equal(info['betas'], info['betas_male'])
        # joints_3d: the male body posed by the record; hoi_t its root joint
        pose = np.concatenate([np.concatenate([info['global_orient'][None], info['body_pose']]).reshape(-1, 9)])
        from scipy.spatial.transform import Rotation
        aa = Rotation.from_matrix(pose.reshape(-1, 3, 3)).as_rotvec().ravel()
        with torch.no_grad():
            joints = model.forward_axis_angle(torch.as_tensor(info['betas'][None].astype(np.float64)),
                                              torch.as_tensor(aa[None]),
                                              torch.as_tensor(info['transl'][None].astype(np.float64))).joints[0]
        np.testing.assert_allclose(info['joints_3d'], joints[:22].numpy(), atol=1e-5)
        np.testing.assert_allclose(info['hoi_t'], joints[0].numpy(), atol=1e-5)
        np.testing.assert_allclose(info['cam_K'], scaled_intrinsics(SIZE))
        assert info['hoi_box'][2] > info['hoi_box'][0] and osp.isfile(info['img_path'])
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 64, 64)
    assert sample['data_samples'].gt_instances.betas.shape == (1, 10)


def test_dataset_names_the_tool_when_renders_are_missing(behave_synthetic_root, tmp_path):
    with pytest.raises(FileNotFoundError, match=r'tools/render_augmentation\.py'):
        BEHAVEAugmentationDataset(behave_synthetic_root, render_dir=str(tmp_path / 'none'), body_model=BODY)
    # the configs quote their exact command
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'stackflow_synthetic_aug.py'))
    dataset = cfg.train_dataloader.dataset.to_dict()
    dataset.update(data_root=behave_synthetic_root, pipeline=[])
    dataset['augmentation']['render_dir'] = str(tmp_path / 'none')
    dataset.pop('type')
    with pytest.raises(FileNotFoundError) as info:
        BEHAVEFrameAugDataset(**dataset)
    assert '`python tools/render_augmentation.py configs/stackflow_synthetic_aug.py`' in str(info.value)
    assert str(tmp_path / 'none') in str(info.value)


def test_bad_params_file_names_the_file(renders, tmp_path):
    path = _views(renders[1])[0]
    data = json.load(open(path))
    data['smplh_params']['pose'] = data['smplh_params']['pose'][:66]
    bad = tmp_path / 'k00_params.json'
    bad.write_text(json.dumps(data))
    with pytest.raises(BehaveFormatError, match=re.escape(str(bad)) + r".*'smplh_params.pose' has 66 values"):
        read_render_params(str(bad))


def _binomial_ok(hits, n, p):
    """Within 4 standard deviations of n p."""
    return abs(hits - n * p) <= 4 * np.sqrt(n * p * (1 - p))


@pytest.mark.parametrize('prob', [0.5, 0.2])
def test_mix_draw_respects_the_probability(prob):
    draw = MixDraw(prob, seed=3)
    picks = [draw(i % 50, 7) for i in range(4000)]
    hits = sum(p is not None for p in picks)
    assert _binomial_ok(hits, 4000, prob)
    assert {p for p in picks if p is not None} == set(range(7))  # uniform over the mixed-in samples
    again = MixDraw(prob, seed=3)
    assert [again(i % 50, 7) for i in range(4000)] == picks  # seeded: reproducible
    # per index, repeated calls draw anew (an index is not fixed to real or rendered)
    per_index = [draw(0, 7) is not None for _ in range(400)]
    assert _binomial_ok(sum(per_index), 400, prob)
    np.random.seed(0)
    unseeded = MixDraw(prob)
    assert _binomial_ok(sum(unseeded(i, 7) is not None for i in range(4000)), 4000, prob)
    assert MixDraw(0.0)(0, 7) is None and MixDraw(1.0, seed=0)(0, 7) is not None
    with pytest.raises(ValueError):
        MixDraw(1.5)


def test_mix_datasets_give_valid_records(renders):
    data_root, out, _ = renders
    real = BEHAVEFrameDataset(data_root, split='train', body_model=BODY)
    aug = BEHAVEAugmentationDataset(data_root, render_dir=out, body_model=BODY)
    mixed = RandomMixDataset(real, aug, prob=0.5, seed=1)
    assert len(mixed) == len(real) and mixed.metainfo['dataset_name'] == 'behave'
    items = [mixed[i % len(mixed)] for i in range(400)]
    hits = sum(bool(item.get('aug')) for item in items)
    assert _binomial_ok(hits, 400, 0.5)
    for item in items[:20]:
        for name, (shape, _) in ANNOTATION_FIELDS.items():
            assert np.shape(item[name]) == shape
    # the configs' form: the BEHAVE dataset with the renders built in (same draw)
    built_in = BEHAVEFrameAugDataset(data_root, split='train', body_model=BODY, augmentation=dict(render_dir=out),
                                     augmentation_prob=0.25, augmentation_seed=2)
    assert len(built_in) == len(real)
    hits = sum(bool(built_in[i % len(built_in)].get('aug')) for i in range(400))
    assert _binomial_ok(hits, 400, 0.25)


def test_tool_renders_from_a_config(behave_synthetic_root, tmp_path):
    reason = _egl_available()
    if reason:
        pytest.skip(reason)
    tool = load_tool('render_augmentation')
    root = str(tmp_path / 'world')
    shutil.copytree(behave_synthetic_root, root, ignore=shutil.ignore_patterns('annotations'))
    summary = tool.main([osp.join(REPO_ROOT, 'configs', 'stackflow_synthetic_aug.py'), '--views', '1', '--limit',
                         '1', '--image-size', '64', '48', '--no-progress', '--cfg-options',
                         f'train_dataloader.dataset.data_root={root}'])
    assert summary['rendered'] == 1 and summary['out_dir'] == osp.join(root, 'rendered_images')
    assert len(_views(summary['out_dir'])) == 1
    assert 'SCANimate' in tool.DESCRIPTION
