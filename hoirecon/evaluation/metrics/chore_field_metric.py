"""``CHOREFieldMetric``: a val-loop metric of CHORE-style fields (a thin wrapper around
:func:`hoirecon.evaluation.functional.field_errors.field_errors`).

Reads per image ``pred_instances`` of :class:`~hoirecon.models.chore.CHOREFieldNet` at packed query points
(``udf_human``, ``udf_object``, ``part_prob``, ``object_centre``, ``object_R``) and the targets of
:class:`~hoirecon.datasets.transforms.CHOREQueryTargets` in ``gt_instances``; reports the means over images of
``udf_human_l1`` / ``udf_object_l1`` and ``centre_error`` in centimetres, ``part_accuracy`` in percent and
``rotation_error`` in degrees.
"""
from typing import Dict, List, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from hoirecon.registry import METRICS
from ..functional.array_utils import to_numpy
from ..functional.field_errors import field_errors

PRED_KEYS = ('udf_human', 'udf_object', 'part_prob', 'object_centre', 'object_R')
GT_KEYS = ('udf_human', 'udf_object', 'part_labels', 'centre_offset', 'query_points', 'object_rot6d')
#: result key -> (reported name, factor)
REPORTED = {'udf_human_l1': ('udf_human_l1_cm', 100.0), 'udf_object_l1': ('udf_object_l1_cm', 100.0),
            'part_accuracy': ('part_accuracy', 100.0), 'centre_error': ('centre_error_cm', 100.0),
            'rotation_error': ('rotation_error_deg', 1.0)}


@METRICS.register_module()
class CHOREFieldMetric(BaseMetric):
    """Field errors of a CHORE-style network on a split with targets (module docstring).

    Args:
        clamp: distances compared clamped at this (metres; the model's ``clamp``).
        near: part accuracy on points within this of the body (metres).
        prefix: metric prefix.
    """

    default_prefix = 'chore_fields'

    def __init__(self, clamp: float = 0.1, near: float = 0.03, prefix: str = None, collect_device: str = 'cpu'):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.clamp, self.near = float(clamp), float(near)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred, gt = sample['pred_instances'], sample['gt_instances']
            missing = [k for k in PRED_KEYS if k not in pred] + [k for k in GT_KEYS if k not in gt]
            if missing:
                raise KeyError(f'CHOREFieldMetric: the sample lacks {missing}; the val pipeline must pack '
                               "CHOREQueryTargets' targets (PackCHOREInputs) and the model must be CHOREFieldNet.")
            self.results.append(field_errors({k: to_numpy(pred[k])[0] for k in PRED_KEYS},
                                             {k: to_numpy(gt[k])[0] for k in GT_KEYS}, self.clamp, self.near))

    def compute_metrics(self, results: List[Dict[str, float]]) -> Dict[str, float]:
        out = {}
        for key, (name, factor) in REPORTED.items():
            values = np.array([r[key] for r in results], np.float64)
            values = values[np.isfinite(values)]
            out[name] = float(values.mean() * factor) if values.size else float('nan')
        out['num_images'] = len(results)
        return out
