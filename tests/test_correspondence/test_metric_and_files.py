"""ObjectPoseMetric: scores, and the correspondence files it writes read back by the refiner's readers."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData
from scipy.spatial.transform import Rotation

from hoirecon.datasets.behave_io import load_correspondences
from hoirecon.datasets.transforms import LoadCorrespondences
from hoirecon.evaluation.metrics import ObjectPoseMetric
from hoirecon.objects import ObjectLibrary
from hoirecon.structures import HOIDataSample

K = np.array([[245.0, 0, 256], [0, 245.0, 192], [0, 0, 1]])


def _sample(name, R_gt, t_gt, R_pred, t_pred, frame='t0003.000', num=4096, seed=0):
    """A predicted sample whose correspondences are the template's vertices projected with the true pose."""
    rng = np.random.default_rng(seed)
    vertices = ObjectLibrary('behave')[name].vertices
    x3d = vertices[rng.integers(0, len(vertices), num)]
    camera = x3d @ R_gt.T + t_gt
    x2d = camera[:, :2] / camera[:, 2:] * 245.0 + [256, 192]
    w2d = rng.uniform(0.2, 1.0, (num, 2))
    w2d[: num // 4] = 0  # off the mask
    sample = HOIDataSample(metainfo=dict(sequence='Date01_Sub01_stool_sit', frame=frame, kinect=2, object_name=name,
                                         cam_K=K, img_id=f'{name}-{frame}'))
    gt = InstanceData()
    gt.object_R, gt.object_t = torch.tensor(R_gt, dtype=torch.float32)[None], torch.tensor(t_gt)[None].float()
    pred = InstanceData()
    ok = R_pred is not None
    pred.object_R = torch.tensor(R_pred if ok else np.full((3, 3), np.nan), dtype=torch.float32)[None]
    pred.object_t = torch.tensor(t_pred if ok else np.full(3, np.nan), dtype=torch.float32)[None]
    pred.pnp_ok = torch.tensor([ok])
    pred.corr_x3d = torch.tensor(x3d, dtype=torch.float32)[None]
    pred.corr_x2d = torch.tensor(x2d, dtype=torch.float32)[None]
    pred.corr_w2d = torch.tensor(w2d, dtype=torch.float32)[None]
    pred.corr_used = torch.tensor(w2d.mean(1) > 0.1)[None]
    sample.gt_instances, sample.pred_instances = gt, pred
    return sample


def test_metric_scores_and_writes_files_the_refiner_reads(tmp_path):
    R = Rotation.from_rotvec([0.3, -0.2, 0.5]).as_matrix()
    t = np.array([0.1, 0.2, 2.5])
    tilted = Rotation.from_rotvec([0, 0, np.radians(30)]).as_matrix() @ R
    samples = [_sample('stool', R, t, R, t + [0.01, 0, 0], 't0003.000'),
               _sample('stool', R, t, tilted, t, 't0004.000', seed=1),
               _sample('stool', R, t, None, None, 't0005.000', seed=2)]
    metric = ObjectPoseMetric(object_library=dict(dataset='behave'), out_dir=str(tmp_path))
    metric.process({}, [s.to_dict() for s in samples])
    scores = metric.compute_metrics(metric.results)
    assert scores['num_images'] == 3 and scores['pnp_success'] == pytest.approx(2 / 3)
    assert scores['add_accuracy'] == pytest.approx(1 / 3)  # exact, 30 degrees off, failed
    assert scores['translation_cm_median'] == pytest.approx(0.5, abs=1e-3)  # 1 cm and 0 cm
    assert scores['rotation_deg'] == pytest.approx(15.0, abs=1e-3)
    assert scores['points_within_px'] == pytest.approx(1.0)  # the 2D points are the true projections
    for sample in samples:
        path = osp.join(tmp_path, 'epro_pnp', 'Date01_Sub01_stool_sit', sample.metainfo['frame'], 'k2.obj_coor.pkl')
        read = load_correspondences(path)
        pred = sample.pred_instances
        for key in ('x3d', 'x2d', 'w2d'):
            assert read[key].dtype == np.float32
            np.testing.assert_array_equal(read[key], getattr(pred, f'corr_{key}')[0].numpy())
        loaded = LoadCorrespondences(num_points=4096).transform(dict(corr_path=path))
        np.testing.assert_array_equal(loaded['corr_x3d'], pred.corr_x3d[0].numpy())
        np.testing.assert_array_equal(loaded['corr_w2d'], pred.corr_w2d[0].numpy())
