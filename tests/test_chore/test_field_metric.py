"""CHOREFieldMetric and field_errors: exact predictions score zero, known perturbations score what they are, and the
metric reads a CHOREFieldNet's predictions on packed targets."""
import math

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from hoirecon.evaluation.functional.field_errors import field_errors
from hoirecon.evaluation.metrics import CHOREFieldMetric
from hoirecon.models.utils import axis_angle_to_matrix


def _targets(rng, n=200):
    R = axis_angle_to_matrix(torch.tensor([0.3, -0.8, 0.5], dtype=torch.float64)).numpy()
    points = rng.normal(size=(n, 3))
    centre = np.array([0.1, 0.2, 2.5])
    return dict(udf_human=rng.uniform(0, 0.2, n), udf_object=rng.uniform(0, 0.2, n),
                part_labels=rng.integers(0, 14, n), centre_offset=centre - points, query_points=points,
                object_rot6d=np.concatenate([R[:, 0], R[:, 1]])), R, centre


def test_exact_predictions_score_zero_and_perturbations_score_what_they_are():
    rng = np.random.default_rng(0)
    gt, R, centre = _targets(rng)
    exact = dict(udf_human=gt['udf_human'].copy(), udf_object=gt['udf_object'].copy(),
                 part_prob=np.eye(14)[gt['part_labels']], object_centre=centre, object_R=R)
    zero = field_errors(exact, gt)
    assert zero['udf_human_l1'] == pytest.approx(0) and zero['udf_object_l1'] == pytest.approx(0)
    assert zero['part_accuracy'] == 1.0 and zero['centre_error'] == pytest.approx(0, abs=1e-12)
    assert zero['rotation_error'] == pytest.approx(0, abs=1e-5)
    # +1 cm on every human distance (beyond the clamp only the clamped part counts), the centre 5 cm off, the object
    # turned by 10 degrees, the parts of the near points all wrong
    turned = axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.radians(10)], dtype=torch.float64)).numpy() @ R
    near = gt['udf_human'] < 0.03
    parts = np.eye(14)[(gt['part_labels'] + near.astype(int)) % 14]
    wrong = dict(exact, udf_human=gt['udf_human'] + 0.01, part_prob=parts, object_centre=centre + [0.03, 0.0, 0.04],
                 object_R=turned)
    err = field_errors(wrong, gt)
    inside = gt['udf_human'] < 0.1
    expected = np.abs(np.minimum(gt['udf_human'] + 0.01, 0.1) - gt['udf_human'])[inside].mean()
    assert err['udf_human_l1'] == pytest.approx(expected) and 0.0095 < expected <= 0.01
    assert err['part_accuracy'] == 0.0 and err['centre_error'] == pytest.approx(0.05)
    assert err['rotation_error'] == pytest.approx(10.0, abs=1e-6)


def test_the_metric_reads_a_field_network_on_packed_targets(chore_dataset, tiny_chore_model_cfg):
    from hoirecon.registry import MODELS
    model = MODELS.build(tiny_chore_model_cfg).eval()
    batch = pseudo_collate([chore_dataset[i] for i in range(2)])
    with torch.no_grad():
        out = model.test_step(batch)
    metric = CHOREFieldMetric()
    metric.process(batch, [o.to_dict() for o in out])
    result = metric.compute_metrics(metric.results)
    assert result['num_images'] == 2
    assert 0 <= result['part_accuracy'] <= 100 and 0 <= result['udf_human_l1_cm'] <= 10
    assert 0 <= result['rotation_error_deg'] <= 180 and result['centre_error_cm'] >= 0
    with pytest.raises(KeyError, match='PackCHOREInputs'):
        metric.process(batch, [dict(pred_instances={}, gt_instances={})])
