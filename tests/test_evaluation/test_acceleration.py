"""Second differences of mesh sequences (the sequence metric's acceleration), against hand-computed values."""
import numpy as np
import pytest

from hoirecon.evaluation.functional import acceleration_error, acceleration_magnitude, second_differences


def _track(positions):
    """(T, 2, 3) vertices: one moving along x by ``positions`` (metres), one fixed."""
    out = np.zeros((len(positions), 2, 3))
    out[:, 0, 0] = positions
    return out


def test_constant_velocity_has_no_acceleration_and_a_parabola_a_constant_one():
    t = np.arange(6, dtype=float)
    assert np.allclose(acceleration_magnitude(_track(0.01 * t))[1:-1], 0.0)
    # x = 0.001 t^2 m: second difference 0.002 m = 2 mm per frame^2 on one of the two vertices -> mean 1 mm
    accel = acceleration_magnitude(_track(0.001 * t ** 2))
    assert np.isnan(accel[[0, -1]]).all() and np.allclose(accel[1:-1], 1.0)
    np.testing.assert_allclose(second_differences(_track(0.001 * t ** 2))[2, 0], [2.0, 0.0, 0.0])


def test_error_is_against_the_truth_and_gaps_or_invalid_frames_give_nan():
    t = np.arange(7, dtype=float)
    truth, pred = _track(0.01 * t), _track(0.01 * t + 0.003 * (t % 2))  # a zig-zag of 3 mm around the truth
    error = acceleration_error(pred, truth)
    np.testing.assert_allclose(error[1:-1], 6.0 / 2)  # |+-6 mm| on one vertex of two
    index = np.array([0, 1, 2, 4, 5, 6, 7])  # frame 3 missing: frames 2 and 4 have no consecutive neighbour
    gapped = acceleration_error(pred, truth, index)
    assert np.isnan(gapped[[0, 2, 3, 6]]).all() and np.isfinite(gapped[[1, 4, 5]]).all()
    valid = np.ones(7, bool)
    valid[5] = False
    assert np.isnan(acceleration_error(pred, truth, valid=valid)[[4, 5, 6]]).all()


def test_shapes_are_checked():
    with pytest.raises(ValueError, match='differ'):
        acceleration_error(np.zeros((4, 2, 3)), np.zeros((4, 3, 3)))
    with pytest.raises(ValueError, match=r'\(T, V, 3\)'):
        second_differences(np.zeros((4, 3)))
