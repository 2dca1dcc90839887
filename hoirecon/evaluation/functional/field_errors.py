"""Errors of CHORE-style fields at query points against their targets (docs/chore.md, "Field metric").

Pure numpy on one image's arrays; :class:`~hoirecon.evaluation.metrics.CHOREFieldMetric` averages them.
"""
from typing import Dict

import numpy as np

from .object_pose import rotation_error_deg


def field_errors(pred: Dict[str, np.ndarray], gt: Dict[str, np.ndarray], clamp: float = 0.1,
                 near: float = 0.03) -> Dict[str, float]:
    """One image's field errors.

    Args:
        pred: ``udf_human``, ``udf_object`` (N,) metres, ``part_prob`` (N, P), ``object_centre`` (3,) and
            ``object_R`` (3, 3) (the network's votes).
        gt: ``udf_human``, ``udf_object`` (N,), ``part_labels`` (N,), ``centre_offset`` (N, 3) and ``query_points``
            (N, 3) (the true centre is ``query_points + centre_offset``), ``object_rot6d`` (6,).
        clamp: distances are compared clamped at this (metres), as the loss does.
        near: part accuracy on points whose true human distance is below this (metres).

    Returns:
        ``udf_human_l1``, ``udf_object_l1`` (metres, mean over points whose true distance is below ``clamp``; NaN
        where none is), ``part_accuracy`` (share, near points; NaN where none), ``centre_error`` (metres) of the
        voted centre, ``rotation_error`` (degrees) of the voted rotation.
    """
    out = {}
    for key in ('udf_human', 'udf_object'):
        truth = np.asarray(gt[key], np.float64)
        inside = truth < clamp
        diff = np.abs(np.minimum(np.asarray(pred[key], np.float64), clamp) - truth)[inside]
        out[f'{key}_l1'] = float(diff.mean()) if diff.size else float('nan')
    close = np.asarray(gt['udf_human']) < near
    labels = np.asarray(gt['part_labels'])[close]
    guess = np.asarray(pred['part_prob']).argmax(-1)[close]
    out['part_accuracy'] = float((guess == labels).mean()) if labels.size else float('nan')
    centres = np.asarray(gt['query_points'], np.float64) + np.asarray(gt['centre_offset'], np.float64)
    out['centre_error'] = float(np.linalg.norm(np.asarray(pred['object_centre'], np.float64) - centres.mean(0)))
    d6 = np.asarray(gt['object_rot6d'], np.float64)
    c1 = d6[:3] / np.linalg.norm(d6[:3])
    c2 = d6[3:] - c1 * (c1 @ d6[3:])
    c2 /= np.linalg.norm(c2)
    out['rotation_error'] = rotation_error_deg(np.stack([c1, c2, np.cross(c1, c2)], -1), pred['object_R'])
    return out
