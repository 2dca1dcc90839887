"""``DumpBodyEstimates``: a test-loop "metric" that writes each predicted body as a FrankMocap-style body estimate
(``k{k}.mocap.json``, :mod:`hoirecon.datasets.body_estimates`) beside its image, so that a body network of this
toolbox can stand in for FrankMocap where CHORE starts from one (tools/misc/export_body_estimates.py).
"""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.structures import BaseDataElement

from hoirecon.datasets.body_estimates import body_estimate_path, write_body_estimate
from hoirecon.registry import METRICS
from ..functional.array_utils import to_numpy

#: The predicted body fields written (rotation matrices; the first instance of each image).
WRITTEN_FIELDS = ('global_orient', 'body_pose', 'betas')


@METRICS.register_module()
class DumpBodyEstimates(BaseMetric):
    """Write ``pred_instances``' body of every test image as ``<image stem>.mocap.json``.

    Args:
        out_root: None: beside each image (``.../k1.color.jpg`` -> ``.../k1.mocap.json``, BEHAVE's place); else the
            same relative path under this folder (``data_root`` is cut from the image path first).
        data_root: the dataset root the image paths start with (needed with ``out_root``).
        overwrite: replace existing files (default: keep them and count them as skipped).
        pred_field: the instances written ('init_instances': a refined model's network body).
    """

    default_prefix = 'body_estimates'

    def __init__(self, out_root: Optional[str] = None, data_root: Optional[str] = None, overwrite: bool = False,
                 pred_field: str = 'pred_instances', collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if out_root is not None and data_root is None:
            raise ValueError('DumpBodyEstimates: out_root needs data_root (the part of the image paths replaced).')
        self.out_root, self.data_root = out_root, data_root
        self.overwrite, self.pred_field = overwrite, pred_field

    def target_path(self, img_path: str) -> str:
        """Where the estimate of ``img_path`` goes."""
        path = body_estimate_path(img_path)
        if self.out_root is None:
            return path
        relative = osp.relpath(osp.abspath(path), osp.abspath(self.data_root))
        if relative.startswith('..'):
            raise ValueError(f'DumpBodyEstimates: {img_path} is not under data_root {self.data_root}.')
        return osp.join(self.out_root, relative)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            img_path = sample.get('img_path')
            instances = sample.get(self.pred_field)
            if img_path is None or instances is None:
                raise KeyError(f'DumpBodyEstimates: a sample without img_path or {self.pred_field} (keys: '
                               f'{sorted(sample)}); keep img_path in the pack meta_keys.')
            if isinstance(instances, BaseDataElement):
                instances = instances.to_dict()
            missing = [key for key in WRITTEN_FIELDS if key not in instances]
            if missing:
                raise KeyError(f'DumpBodyEstimates: {self.pred_field} of {img_path} has no {missing}: the model '
                               'predicts no parametric body (a body network is needed, e.g. configs/'
                               'stackflow_synthetic.py).')
            path = self.target_path(str(img_path))
            if osp.isfile(path) and not self.overwrite:
                self.results.append(dict(written=0, skipped=1))
                continue
            body = {key: np.asarray(to_numpy(instances[key]), np.float64) for key in WRITTEN_FIELDS}
            write_body_estimate(path, body['global_orient'].reshape(-1, 3, 3)[0],
                                body['body_pose'].reshape(-1, *body['body_pose'].shape[-3:])[0],
                                body['betas'].reshape(-1, body['betas'].shape[-1])[0])
            self.results.append(dict(written=1, skipped=0))

    def compute_metrics(self, results: List[Dict[str, int]]) -> Dict[str, float]:
        return dict(written=float(sum(r['written'] for r in results)),
                    skipped=float(sum(r['skipped'] for r in results)))


__all__ = ['DumpBodyEstimates']
