"""Procedural object meshes: one builder per catalogue object, unknown names refused, the raw frame of a file."""
import numpy as np
import pytest

from hoirecon.assets import PROCEDURAL_OBJECTS, procedural_raw_mesh
from hoirecon.objects import BEHAVE_OBJECTS, INTERCAP_OBJECTS


def test_one_builder_per_catalogue_object():
    assert PROCEDURAL_OBJECTS == tuple(BEHAVE_OBJECTS) + tuple(INTERCAP_OBJECTS)


def test_unknown_name_is_refused_with_the_valid_names():
    with pytest.raises(KeyError, match="'sofa' has no procedural template; valid names: backpack, "):
        procedural_raw_mesh('sofa')


def test_raw_mesh_stands_on_the_floor_in_float32_precision():
    vertices, faces, names, groups = procedural_raw_mesh('stool')
    assert vertices[:, 1].min() == 0.0
    np.testing.assert_array_equal(vertices, vertices.astype(np.float32).astype(np.float64))
    assert faces.dtype == np.int64 and faces.max() == len(vertices) - 1
    assert len(names) == len(groups) and all(0 <= i < len(vertices) for group in groups for i in group)
