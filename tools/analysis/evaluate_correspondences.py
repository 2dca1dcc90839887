"""Score a folder of EPro-PnP-style correspondence files with the correspondence network's object-pose metric.

    python tools/analysis/evaluate_correspondences.py configs/correspondence/cdpn_synthetic.py
    python tools/analysis/evaluate_correspondences.py configs/correspondence/cdpn_synthetic.py \\
        --corr-root work_dirs/cdpn_synthetic/predicted

For every image of the config's test split (``test_dataloader.dataset``), ``<corr-root>/epro_pnp/<seq>/<frame>/
k<k>.obj_coor.pkl`` is read with :func:`hoirecon.datasets.load_correspondences` (the refiner's reader), posed with
the same RANSAC PnP as the network's ``predict`` (``model.pnp_cfg`` of the config) and scored with the same
functions as ``ObjectPoseMetric`` (ADD(-S) < 10 % diameter, rotation / translation error, 2D points within 5 px,
object Chamfer). The default ``--corr-root`` is the dataset root: the synthetic world's own correspondences (the
generator's, ground truth plus noise and outliers), the reference the predicted ones are compared with. A missing
file counts as a PnP failure.
"""
import argparse
import json
import os.path as osp

import hoirecon  # noqa: F401  # isort: skip
from mmengine.config import Config

from hoirecon.datasets import load_correspondences
from hoirecon.evaluation.functional.object_pose import summarise_object_pose
from hoirecon.evaluation.metrics.object_pose_metric import (ObjectGeometry, format_object_pose_table,
                                                            score_pose_records)
from hoirecon.models.correspondence import pose_from_correspondences, used_rows
from hoirecon.objects import ObjectLibrary
from hoirecon.registry import DATASETS


def correspondence_records(cfg: Config, corr_root: str) -> list:
    """One pose record (see ``score_pose_records``) per test image, from the files under ``corr_root``."""
    import numpy as np
    dataset_cfg = dict(cfg.test_dataloader.dataset, pipeline=[])
    dataset = DATASETS.build(dataset_cfg)
    pnp_cfg = dict(cfg.model.get('pnp_cfg') or {})
    records = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        path = osp.join(corr_root, 'epro_pnp', info['sequence'], info['frame'], f'k{info["kinect"]}.obj_coor.pkl')
        corr = load_correspondences(path) if osp.isfile(path) else {}
        x3d = corr.get('x3d', np.zeros((0, 3), np.float32))
        x2d = corr.get('x2d', np.zeros((0, 2), np.float32))
        w2d = corr.get('w2d', np.zeros((0, 2), np.float32))
        cam_K = np.asarray(info['cam_K'], np.float64)
        R, t = None, None
        if len(x3d):
            R, t, _, _ = pose_from_correspondences(x3d, x2d, w2d, cam_K, **pnp_cfg)
        used = used_rows(np.asarray(w2d, np.float64), pnp_cfg.get('min_weight', 0.1)) if len(w2d) else []
        records.append(dict(img_id=info['img_id'], object_name=info['object_name'], R_pred=R, t_pred=t,
                            R_gt=np.asarray(info['object_R'], np.float64),
                            t_gt=np.asarray(info['object_t'], np.float64), x3d=x3d[used], x2d=x2d[used],
                            cam_K=cam_K))
    return records


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='a correspondence config (configs/correspondence/*.py)')
    parser.add_argument('--corr-root', help='folder holding epro_pnp/ (default: the test dataset root)')
    parser.add_argument('--out', help='also write the summary to this JSON file')
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    corr_root = args.corr_root or cfg.test_dataloader.dataset.data_root
    evaluator = cfg.test_evaluator if not isinstance(cfg.test_evaluator, list) else cfg.test_evaluator[0]
    geometry = ObjectGeometry(ObjectLibrary(**evaluator.object_library), evaluator.get('num_surface_samples', 4000),
                              symmetries=evaluator.get('symmetries'))
    records = correspondence_records(cfg, corr_root)
    summary = summarise_object_pose(score_pose_records(records, geometry, evaluator.get('symmetric_objects', ()),
                                                       evaluator.get('add_threshold', 0.1),
                                                       evaluator.get('pixel_threshold', 5.0)))
    print(format_object_pose_table(summary, f'correspondences of {osp.join(corr_root, "epro_pnp")}'))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(summary, corr_root=corr_root, config=args.config), f, indent=1)
    return summary


if __name__ == '__main__':
    main()
