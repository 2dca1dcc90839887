"""Procedural templates: shape sanity, realistic sizes and vertex counts, keypoints and interaction hints."""
import numpy as np
import pytest

from hoirecon.objects import BEHAVE_OBJECTS, INTERCAP_OBJECTS, NUM_KEYPOINTS, ObjectLibrary, make_procedural_template

ALL_OBJECTS = [(name, 'behave') for name in BEHAVE_OBJECTS] + [(name, 'intercap') for name in INTERCAP_OBJECTS]

# Vertex counts of the real templates (StackFLOW's object_num_vertices; InterCap objs/*.ply, bottle as StackFLOW
# expects it).
REAL_NUM_VERTICES = dict(
    backpack=548, basketball=508, boxlarge=524, boxlong=526, boxmedium=509, boxsmall=517, boxtiny=506, chairblack=1609,
    chairwood=1609, keyboard=502, monitor=537, plasticcontainer=562, stool=532, suitcase=520, tablesmall=507,
    tablesquare=1046, toolbox=499, trashbin=547, yogaball=534, yogamat=525, suitcase1=591, skate=1069, sports=998,
    umbrella=1267, tennis=2453, suitcase2=1521, chair1=342, bottle=1267, cup=1469, chair2=1002)

# Plausible (largest side) ranges in metres.
LARGEST_SIDE = dict(box=(0.14, 0.85), ball=(0.2, 0.7), chair=(0.8, 1.15), stool=(0.4, 0.55), table=(0.55, 0.85),
                    keyboard=(0.4, 0.5), monitor=(0.45, 0.7), suitcase=(0.5, 1.0), toolbox=(0.35, 0.55),
                    bin=(0.3, 0.6), backpack=(0.35, 0.6), mat=(0.5, 0.7), container=(0.4, 0.7),
                    skateboard=(0.7, 0.85), umbrella=(0.8, 1.1), racket=(0.6, 0.72), bottle=(0.15, 0.35),
                    cup=(0.08, 0.14))


@pytest.fixture(scope='module')
def templates():
    return {name: make_procedural_template(name, dataset) for name, dataset in ALL_OBJECTS}


@pytest.mark.parametrize('name,dataset', ALL_OBJECTS)
def test_template_is_a_sane_closed_mesh(templates, name, dataset):
    template = templates[name]
    assert template.dataset == dataset and template.source == 'procedural'
    assert template.index == (BEHAVE_OBJECTS if dataset == 'behave' else INTERCAP_OBJECTS).index(name)
    assert template.vertices.dtype == np.float64 and template.faces.dtype == np.int64
    np.testing.assert_allclose(template.vertices.mean(0), 0.0, atol=1e-12)
    assert template.faces.min() >= 0 and template.faces.max() < len(template.vertices)
    assert len(np.unique(template.faces)) == len(template.vertices), 'every vertex is used by a face'
    mesh = template.to_trimesh()
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert np.all(mesh.area_faces > 1e-10), 'no degenerate triangle'
    assert all(part.volume > 0 for part in mesh.split(only_watertight=False)), 'every part winds outward'


@pytest.mark.parametrize('name,dataset', ALL_OBJECTS)
def test_size_and_vertex_count_are_realistic(templates, name, dataset):
    template = templates[name]
    low, high = LARGEST_SIDE[template.family]
    assert low <= template.meta['extents'].max() <= high
    assert 0.7 <= len(template.vertices) / REAL_NUM_VERTICES[name] <= 1.3


@pytest.mark.parametrize('name,dataset', ALL_OBJECTS)
def test_keypoints_are_means_of_their_vertex_groups(templates, name, dataset):
    template = templates[name]
    assert len(template.keypoint_names) == NUM_KEYPOINTS[name] <= 16
    assert len(set(template.keypoint_names)) == len(template.keypoint_names)
    for point, group in zip(template.keypoints, template.keypoint_vertex_ids):
        np.testing.assert_allclose(point, template.vertices[group].mean(0))
    assert len({tuple(np.round(point, 6)) for point in template.keypoints}) == len(template.keypoints)


def test_build_is_deterministic():
    first, second = make_procedural_template('chairblack'), make_procedural_template('chairblack')
    assert np.array_equal(first.vertices, second.vertices) and np.array_equal(first.faces, second.faces)
    assert first.keypoint_vertex_ids == second.keypoint_vertex_ids


def test_boxes_have_the_listed_sizes_and_corner_keypoints(templates):
    assert templates['boxlarge'].meta['extents'] == pytest.approx([0.6, 0.4, 0.4], abs=1e-6)
    assert sorted(templates['boxlong'].meta['extents']) == pytest.approx([0.2, 0.2, 0.8], abs=1e-6)
    for name in ('boxlarge', 'boxlong', 'boxmedium', 'boxsmall', 'boxtiny'):
        template = templates[name]
        half = template.meta['extents'] / 2
        corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * half
        np.testing.assert_allclose(np.sort(np.abs(template.keypoints), 0), np.abs(corners), atol=1e-6)
        assert len({tuple(np.sign(point)) for point in template.keypoints}) == 8


@pytest.mark.parametrize('name,radius', [('basketball', 0.12), ('yogaball', 0.32), ('sports', 0.11)])
def test_balls_have_their_radius_and_a_centre_keypoint(templates, name, radius):
    template = templates[name]
    np.testing.assert_allclose(np.linalg.norm(template.vertices, axis=1), radius, atol=1e-6)
    np.testing.assert_allclose(template.keypoints, [[0, 0, 0]], atol=1e-6)


def test_yogamat_is_a_roll_with_end_keypoints(templates):
    template = templates['yogamat']
    assert template.meta['extents'] == pytest.approx([0.6, 0.14, 0.14], abs=1e-6)
    np.testing.assert_allclose(np.abs(template.keypoints[:, 0]), 0.3, atol=1e-6)


@pytest.mark.parametrize('name', ['chairwood', 'chairblack', 'chair1', 'chair2', 'tablesmall', 'tablesquare', 'stool'])
def test_feet_keypoints_touch_the_floor(templates, name):
    template = templates[name]
    floor = template.vertices[:, 1].min()
    feet = [point for kp_name, point in zip(template.keypoint_names, template.keypoints)
            if kp_name.startswith(('foot', 'caster'))]
    assert len(feet) >= 3
    np.testing.assert_allclose([point[1] for point in feet], floor, atol=0.03)


@pytest.mark.parametrize('name,low,high', [('chairwood', 0.42, 0.5), ('chairblack', 0.42, 0.55),
                                           ('stool', 0.42, 0.5), ('chair1', 0.42, 0.5), ('chair2', 0.42, 0.5)])
def test_seat_height(templates, name, low, high):
    seat = templates[name].meta['seat_height']
    assert low <= seat <= high
    seat_keypoints = [point for kp_name, point in zip(templates[name].keypoint_names, templates[name].keypoints)
                      if kp_name.startswith('seat')]
    floor = templates[name].vertices[:, 1].min()
    np.testing.assert_allclose([point[1] - floor for point in seat_keypoints], seat, atol=0.02)


def test_table_support_height_is_the_top(templates):
    for name in ('tablesmall', 'tablesquare'):
        template = templates[name]
        assert template.meta['support_height'] == pytest.approx(template.meta['extents'][1], abs=0.005)


@pytest.mark.parametrize('name,dataset', ALL_OBJECTS)
def test_grasp_points_lie_on_the_template(templates, name, dataset):
    template = templates[name]
    grasp = template.meta['grasp_points']
    assert grasp.shape in ((1, 3), (2, 3))
    distance = np.linalg.norm(template.vertices[None] - grasp[:, None], axis=2).min(1)
    np.testing.assert_allclose(distance, 0.0, atol=1e-12)
    assert template.meta['resting_height'] == pytest.approx(-template.vertices[:, 1].min())


def test_handle_grasps_sit_on_the_handles(templates):
    for name in ('suitcase', 'toolbox', 'suitcase1', 'backpack'):
        template = templates[name]
        assert template.meta['grasp_points'][0, 1] == pytest.approx(template.vertices[:, 1].max(), abs=0.02)
    tennis = templates['tennis']
    assert tennis.meta['grasp_points'][0, 1] == pytest.approx(tennis.vertices[:, 1].min(), abs=1e-9)
    cup = templates['cup']  # the handle sticks out on +x, beyond the rim (radius 0.042 m)
    axis_x = cup.keypoints[cup.keypoint_names.index('bottom_centre'), 0]
    assert cup.meta['grasp_points'][0, 0] - axis_x > 0.05


def test_library_iterates_templates_in_label_order():
    library = ObjectLibrary('intercap')
    assert [template.name for template in library] == list(INTERCAP_OBJECTS)
    assert [template.index for template in library] == list(range(10))
