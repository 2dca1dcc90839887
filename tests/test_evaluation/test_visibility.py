import numpy as np
import pytest

from hoirecon.evaluation.functional import object_visibility_ratio, object_visibility_ratio_from_person


def test_behave_ratio_counts_pixels_above_127():
    full = np.zeros((4, 4), np.uint8)
    full[:2] = 255  # 8 pixels
    visible = np.zeros((4, 4), np.uint8)
    visible[0, :3] = 200
    visible[1, 0] = 127  # not set: the threshold is > 127
    visible[1, 1] = 128
    assert object_visibility_ratio(visible, full) == pytest.approx(4 / 8)


def test_half_resolution_full_mask_is_upsampled():
    full = np.array([[255, 0], [0, 0]], np.uint8)  # one pixel at half resolution = 4 pixels
    visible = np.zeros((4, 4), bool)
    visible[0, 0] = visible[1, 1] = visible[3, 3] = True
    assert object_visibility_ratio(visible, full, full_scale=2) == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match='same size'):
        object_visibility_ratio(visible, full)


def test_empty_full_mask_gives_zero_and_colour_masks_work():
    assert object_visibility_ratio(np.zeros((3, 3)), np.zeros((3, 3))) == 0.0
    full = np.zeros((2, 2, 3), np.uint8)
    full[0] = 255
    assert object_visibility_ratio(full, full) == pytest.approx(1.0)


def test_intercap_ratio_is_one_minus_the_person_overlap():
    full = np.zeros((4, 4), np.uint8)
    full[:, :2] = 255  # 8 pixels
    person = np.zeros((4, 4), np.uint8)
    person[:1, :] = 255  # overlaps 2 object pixels
    assert object_visibility_ratio_from_person(full, person) == pytest.approx(1 - 2 / 8)
    with pytest.raises(ValueError, match='person_mask'):
        object_visibility_ratio_from_person(full, np.zeros((2, 2)))


def test_intercap_ratio_follows_stackflow_edge_cases():
    """StackFLOW's sequence metadata: masks binarised with > 0 (JPEG halos count), an empty full mask gives NaN
    (0 / 0), which the vis > 0.3 filter keeps (NaN < 0.3 is false)."""
    full = np.zeros((4, 4), np.uint8)
    full[:, :2] = 255
    full[:, 2] = 3  # faint JPEG halo: part of the object under > 0
    person = np.zeros((4, 4), np.uint8)
    person[0, :] = 90  # a grey person row: set under > 0, not under > 127
    assert object_visibility_ratio_from_person(full, person) == pytest.approx(1 - 3 / 12)
    assert object_visibility_ratio_from_person(full, person, threshold=127) == pytest.approx(1.0)
    empty = object_visibility_ratio_from_person(np.zeros((4, 4)), person)
    assert np.isnan(empty) and not empty < 0.3
