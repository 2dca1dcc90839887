"""Object names, labels and keypoint counts against the tables of BEHAVE, InterCap and StackFLOW."""
import pytest

from hoirecon.objects import BEHAVE_OBJECTS, INTERCAP_OBJECTS, NUM_KEYPOINTS, OBJECT_FAMILY
from hoirecon.objects.catalogue import FAMILY_HINTS, object_index, object_names


def test_behave_names_in_stackflow_label_order():
    assert len(BEHAVE_OBJECTS) == 20
    assert list(BEHAVE_OBJECTS) == sorted(BEHAVE_OBJECTS)
    assert BEHAVE_OBJECTS[0] == 'backpack' and BEHAVE_OBJECTS[10] == 'monitor' and BEHAVE_OBJECTS[19] == 'yogamat'
    assert object_index('tablesquare', 'behave') == 15


def test_intercap_names_in_file_order():
    assert INTERCAP_OBJECTS == ('suitcase1', 'skate', 'sports', 'umbrella', 'tennis', 'suitcase2', 'chair1', 'bottle',
                                'cup', 'chair2')
    assert object_index('bottle', 'intercap') + 1 == 8  # objs/08.ply


def test_keypoint_counts_match_stackflow():
    behave = dict(backpack=8, basketball=1, boxlarge=8, boxlong=8, boxmedium=8, boxsmall=8, boxtiny=8, chairblack=16,
                  chairwood=10, keyboard=4, monitor=8, plasticcontainer=8, stool=6, suitcase=8, tablesmall=10,
                  tablesquare=8, toolbox=8, trashbin=2, yogaball=1, yogamat=2)
    intercap = [12, 11, 1, 12, 7, 12, 16, 2, 2, 10]
    assert {name: NUM_KEYPOINTS[name] for name in BEHAVE_OBJECTS} == behave
    assert [NUM_KEYPOINTS[name] for name in INTERCAP_OBJECTS] == intercap


def test_every_object_has_a_family_with_hints():
    for name in BEHAVE_OBJECTS + INTERCAP_OBJECTS:
        assert OBJECT_FAMILY[name] in FAMILY_HINTS


def test_unknown_dataset_and_name_are_reported_with_the_valid_choices():
    with pytest.raises(ValueError, match='behave'):
        object_names('coco')
    with pytest.raises(KeyError, match='chairwood'):
        object_index('chair', 'behave')
