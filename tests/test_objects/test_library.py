"""ObjectLibrary: the procedural library, real file layouts, the written-folder round trip and error reporting."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import trimesh

from hoirecon.objects import (BEHAVE_OBJECTS, INTERCAP_OBJECTS, NUM_KEYPOINTS, ObjectLibrary, make_procedural_template,
                              write_template_folder)


@pytest.fixture(scope='module')
def behave_dir(tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp('behave') / 'objects')
    write_template_folder(out_dir, 'behave')
    return out_dir


@pytest.fixture(scope='module')
def intercap_dir(tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp('intercap') / 'objs')
    write_template_folder(out_dir, 'intercap')
    return out_dir


def _write_ply(path, template):
    os.makedirs(osp.dirname(path), exist_ok=True)
    template.to_trimesh().export(path)


def test_written_behave_folder_uses_the_real_file_names(behave_dir):
    for name, suffix in (('monitor', '_closed_f1000'), ('chairblack', '_f2500'), ('chairwood', '_f2500'),
                         ('tablesquare', '_f2000'), ('backpack', '_f1000')):
        assert osp.isfile(osp.join(behave_dir, name, f'{name}{suffix}.ply'))
        assert osp.isfile(osp.join(behave_dir, name, f'{name}_keypoints.json'))
    assert sorted(os.listdir(behave_dir)) == sorted(BEHAVE_OBJECTS)


def test_written_intercap_folder_uses_file_ids(intercap_dir):
    assert sorted(f for f in os.listdir(intercap_dir) if f.endswith('.ply')) == [f'{i:02d}.ply' for i in range(1, 11)]
    vertices = trimesh.load(osp.join(intercap_dir, '08.ply'), process=False).vertices
    assert len(vertices) == len(make_procedural_template('bottle', 'intercap').vertices)


@pytest.mark.parametrize('dataset', ['behave', 'intercap'])
def test_round_trip_is_exact(dataset, behave_dir, intercap_dir):
    folder = behave_dir if dataset == 'behave' else intercap_dir
    loaded = ObjectLibrary(dataset, template_dir=folder)
    for original, reread in zip(ObjectLibrary(dataset), loaded):
        assert reread.name == original.name and reread.index == original.index
        assert np.array_equal(reread.vertices, original.vertices)
        assert np.array_equal(reread.faces, original.faces)
        assert np.array_equal(reread.keypoints, original.keypoints)
        assert reread.keypoint_names == original.keypoint_names
        assert reread.keypoint_vertex_ids == original.keypoint_vertex_ids
        assert np.array_equal(reread.meta['grasp_points'], original.meta['grasp_points'])
        assert reread.source.startswith(folder) and reread.meta['keypoint_source'].endswith('_keypoints.json')


def test_written_file_is_the_uncentred_mesh(behave_dir):
    raw = trimesh.load(osp.join(behave_dir, 'stool', 'stool_f1000.ply'), process=False).vertices
    assert raw[:, 1].min() == pytest.approx(0.0, abs=1e-6), 'written standing on the floor, like a scan'
    np.testing.assert_array_equal(raw - raw.mean(0), make_procedural_template('stool').vertices)


def test_fallback_suffixes_are_found(tmp_path):
    for name, suffix in (('monitor', '_closed_f1000'), ('chairwood', '_f2500'), ('tablesquare', '_f2000')):
        _write_ply(str(tmp_path / name / f'{name}{suffix}.ply'), make_procedural_template(name))
    library = ObjectLibrary('behave', template_dir=str(tmp_path))
    for name, suffix in (('monitor', '_closed_f1000'), ('chairwood', '_f2500'), ('tablesquare', '_f2000')):
        assert library[name].source.endswith(f'{name}{suffix}.ply')


def test_f1000_is_preferred_over_other_suffixes(tmp_path):
    _write_ply(str(tmp_path / 'boxtiny' / 'boxtiny_f2500.ply'), make_procedural_template('boxlarge'))
    _write_ply(str(tmp_path / 'boxtiny' / 'boxtiny_f1000.ply'), make_procedural_template('boxtiny'))
    template = ObjectLibrary('behave', template_dir=str(tmp_path))['boxtiny']
    assert template.source.endswith('boxtiny_f1000.ply')
    np.testing.assert_allclose(template.meta['extents'], [0.16, 0.12, 0.15], atol=1e-6)


def test_real_layout_without_keypoint_files_gets_geometric_keypoints(tmp_path):
    box = make_procedural_template('boxmedium')
    _write_ply(str(tmp_path / 'boxmedium' / 'boxmedium_f1000.ply'), box)
    template = ObjectLibrary('behave', template_dir=str(tmp_path))['boxmedium']
    assert template.meta['keypoint_source'] == 'geometric'
    assert len(template.keypoints) == NUM_KEYPOINTS['boxmedium']
    # farthest-point keypoints on a box are its 8 corners
    np.testing.assert_allclose(np.abs(template.keypoints), np.tile(box.meta['extents'] / 2, (8, 1)), atol=1e-6)


def test_single_geometric_keypoint_is_the_centroid(tmp_path):
    _write_ply(str(tmp_path / 'basketball' / 'basketball_f1000.ply'), make_procedural_template('basketball'))
    template = ObjectLibrary('behave', template_dir=str(tmp_path))['basketball']
    np.testing.assert_allclose(template.keypoints, [[0.0, 0.0, 0.0]], atol=1e-12)


def test_keypoint_dir_is_read(tmp_path):
    stool = make_procedural_template('stool')
    _write_ply(str(tmp_path / 'objects' / 'stool' / 'stool_f1000.ply'), stool)
    keypoint_dir = tmp_path / 'behave_obj_keypoints'
    keypoint_dir.mkdir()
    (keypoint_dir / 'stool_keypoints.json').write_text(json.dumps({'a': [0, 1], 'b': [5], 'c': [7, 8, 9]}))
    template = ObjectLibrary('behave', template_dir=str(tmp_path / 'objects'), keypoint_dir=str(keypoint_dir))['stool']
    assert template.keypoint_names == ['a', 'b', 'c']
    assert template.keypoint_vertex_ids == [[0, 1], [5], [7, 8, 9]]
    np.testing.assert_allclose(template.keypoints[2], stool.vertices[[7, 8, 9]].mean(0), atol=1e-6)
    assert template.meta['keypoint_source'] == str(keypoint_dir / 'stool_keypoints.json')


def test_missing_template_file_names_the_tried_paths(tmp_path):
    library = ObjectLibrary('behave', template_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r'monitor_closed_f1000\.ply.*expected BEHAVE layout'):
        library['monitor']
    with pytest.raises(FileNotFoundError, match=r'04\.ply.*objs/'):
        ObjectLibrary('intercap', template_dir=str(tmp_path))['umbrella']
    with pytest.raises(FileNotFoundError, match='nowhere'):
        ObjectLibrary('behave', template_dir=str(tmp_path / 'nowhere'))


def test_corrupt_ply_names_the_file(tmp_path):
    path = tmp_path / 'keyboard' / 'keyboard_f1000.ply'
    path.parent.mkdir()
    path.write_bytes(b'ply\nformat binary_little_endian 1.0\nelement vertex 10\nend_header\n\x00\x01')
    with pytest.raises(ValueError, match=str(path)):
        ObjectLibrary('behave', template_dir=str(tmp_path))['keyboard']
    path.write_bytes(b'not a mesh at all')
    with pytest.raises(ValueError, match=str(path)):
        ObjectLibrary('behave', template_dir=str(tmp_path))['keyboard']


def test_point_cloud_ply_is_rejected(tmp_path):
    path = tmp_path / '01.ply'
    trimesh.PointCloud(np.random.default_rng(0).normal(size=(20, 3))).export(str(path))
    with pytest.raises(ValueError, match=r'01\.ply.*triangle'):
        ObjectLibrary('intercap', template_dir=str(tmp_path))['suitcase1']


@pytest.mark.parametrize('content,message', [
    ('{"a": [0, 1]', 'cannot parse'),
    ('[[0, 1]]', 'json object'),
    ('{"a": []}', 'non-empty list'),
    ('{"a": [0, 99999]}', 'non-empty list of vertex ids'),
    (json.dumps({f'k{i}': [i] for i in range(17)}), '1..16'),
])
def test_bad_keypoint_file_names_the_file(tmp_path, behave_dir, content, message):
    folder = tmp_path / 'objects'
    shutil.copytree(osp.join(behave_dir, 'yogamat'), folder / 'yogamat')
    keypoint_file = folder / 'yogamat' / 'yogamat_keypoints.json'
    keypoint_file.write_text(content)
    with pytest.raises(ValueError, match=message) as error:
        ObjectLibrary('behave', template_dir=str(folder))['yogamat']
    assert str(keypoint_file) in str(error.value)


def test_missing_file_in_keypoint_dir(tmp_path, intercap_dir):
    library = ObjectLibrary('intercap', template_dir=intercap_dir, keypoint_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match='cup_keypoints.json'):
        library['cup']


def test_container_protocol_and_lazy_cache():
    library = ObjectLibrary('behave')
    assert len(library) == 20 and library.names == BEHAVE_OBJECTS
    assert 'yogamat' in library and 'skate' not in library
    assert library.index('keyboard') == 9
    assert library.by_index(9) is library['keyboard'], 'templates are cached'
    with pytest.raises(IndexError):
        library.by_index(20)
    with pytest.raises(KeyError, match='valid names'):
        library['skate']
    assert ObjectLibrary('intercap').by_index(4).name == INTERCAP_OBJECTS[4] == 'tennis'
    with pytest.raises(ValueError, match='intercap'):
        ObjectLibrary('behave_30fps')


def test_evaluator_object_library_reads_one_metric_or_a_list():
    from hoirecon.objects import evaluator_object_library
    library = dict(dataset='behave', template_dir='data/behave/objects')
    assert evaluator_object_library(dict(type='HOIChamferMetric', object_library=library)) == library
    assert evaluator_object_library([dict(type='DumpResults'), dict(object_library=library)]) == library
    assert evaluator_object_library(None) == dict(dataset='behave')
    assert evaluator_object_library([dict(type='DumpResults')]) == dict(dataset='behave')
