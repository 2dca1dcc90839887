"""Interactions with contact: hands on the object's surface, feet on the floor, seat under the pelvis."""
import numpy as np
import pytest
import torch
import trimesh

from hoirecon.objects import ObjectLibrary
from hoirecon.synthetic.scene import (ACTIONS, BodyGeometry, ObjectGeometry, allowed_actions, interaction_state,
                                      plan_motion)

HANDS = {'left': (20, ) + tuple(range(22, 37)), 'right': (21, ) + tuple(range(37, 52))}
FEET = (7, 8, 10, 11)
FOREARMS = (18, 19)  # they press on the sides of a carried box
CASES = [('carry', 'boxmedium'), ('carry', 'toolbox'), ('lift', 'chairwood'), ('lift', 'monitor'),
         ('hold', 'basketball'), ('push', 'tablesquare'), ('push', 'boxlarge'), ('push', 'suitcase'),
         ('lean', 'chairblack'), ('sit', 'stool'), ('sit', 'chairwood')]


@pytest.fixture(scope='module')
def person(surrogate_body_root):
    from hoirecon.models.body_models import SMPLH
    model = SMPLH(model_path=surrogate_body_root, gender='female', dtype=torch.float64)
    betas = torch.from_numpy(np.random.default_rng(0).normal(size=(1, 10)).clip(-2, 2))
    rest = model.forward_axis_angle(betas=betas)
    labels = np.argmax(model.skinning_weights, axis=1)
    body = BodyGeometry.from_rest(rest.joints[0].numpy(), rest.vertices[0].numpy(), labels)
    return model, betas, body, labels


@pytest.fixture(scope='module')
def objects():
    library = ObjectLibrary('behave')
    return {name: ObjectGeometry.from_template(name, library[name].vertices, library[name].faces)
            for name in {name for _, name in CASES}}


def test_allowed_actions(objects):
    assert 'sit' in allowed_actions(objects['stool']) and 'sit' in allowed_actions(objects['chairwood'])
    assert 'sit' not in allowed_actions(objects['basketball'])
    assert set(allowed_actions(objects['toolbox'])) <= set(ACTIONS)
    with pytest.raises(ValueError, match='unknown action'):
        plan_motion(np.random.default_rng(0), 'dance', objects['stool'])


@pytest.mark.parametrize('seed', [0, 1])
@pytest.mark.parametrize('action,name', CASES)
def test_interaction_has_contact(person, objects, action, name, seed):
    model, betas, body, labels = person
    obj = objects[name]
    plan = plan_motion(np.random.default_rng([seed, CASES.index((action, name))]), action, obj)
    state = interaction_state(plan, body, obj, t=0.5)
    verts = model.forward_axis_angle(betas, torch.from_numpy(state.pose.astype(np.float64))[None],
                                     torch.from_numpy(state.trans.astype(np.float64))[None]).vertices[0].numpy()
    obj_verts = obj.vertices @ state.object_rotation.T + state.object_translation
    mesh = trimesh.Trimesh(obj_verts, obj.faces, process=False)
    assert obj_verts[:, 1].min() > -1e-6  # nothing under the floor
    if action in ('push', 'lean', 'sit'):
        assert obj_verts[:, 1].min() == pytest.approx(0.0, abs=1e-6)  # stands on the floor
    assert abs(verts[np.isin(labels, FEET), 1].min()) < 0.02  # soles on the floor
    near = np.linalg.norm(verts - obj_verts.mean(axis=0), axis=1) < 1.5
    depth = trimesh.proximity.signed_distance(mesh, verts[near])  # > 0 inside the object
    hand = np.isin(labels[near], HANDS['left'] + HANDS['right'] + FOREARMS)
    assert depth[~hand].max() < 0.03, 'the body goes more than 3 cm into the object'
    assert depth[hand].max() < 0.05, 'a hand or forearm goes more than 5 cm into the object'
    if action == 'sit':
        assert depth[~hand].max() > -0.01, 'the body does not rest on the seat'
        return
    sides = [plan.hand_side] if obj.hints['grasp_style'] == 'top' and action != 'lean' else ['left', 'right']
    for side in sides:
        _, distance, _ = trimesh.proximity.closest_point(mesh, verts[np.isin(labels, HANDS[side])])
        assert distance.min() < 0.02, f'the {side} hand does not touch the {name}'
    hand_verts = verts[np.isin(labels, HANDS['left'] + HANDS['right'])]
    for contact in state.contacts:  # the reported contacts are where the hands are
        assert np.linalg.norm(hand_verts - contact, axis=1).min() < 0.03


@pytest.mark.parametrize('name', ['tablesquare', 'chairwood', 'basketball'])
def test_first_ray_hit_matches_trimesh(name):
    """The numpy ray cast finds trimesh's nearest hit (trimesh's ray module with rtree is the reference)."""
    from hoirecon.synthetic.scene import first_ray_hit
    template = ObjectLibrary('behave')[name]
    mesh = trimesh.Trimesh(template.vertices, template.faces, process=False)
    rng = np.random.default_rng(3)
    hits = misses = 0
    for k in range(40):
        origin = rng.normal(size=3) * 2.0
        target = template.vertices[rng.integers(len(template.vertices))] + rng.normal(size=3) * 0.01
        direction = (target - origin) * (1.0 if k % 4 else -1.0)  # every 4th ray points away from the object
        point, normal = first_ray_hit(template.vertices, template.faces, origin, direction)
        locations, _, tri = mesh.ray.intersects_location(origin[None], direction[None])
        if len(locations) == 0:
            assert point is None and normal is None
            misses += 1
            continue
        nearest = np.argmin((locations - origin) @ direction)
        np.testing.assert_allclose(point, locations[nearest], atol=1e-9)
        expected = mesh.face_normals[tri[nearest]]
        expected = -expected if np.dot(expected, direction) > 0 else expected
        np.testing.assert_allclose(normal, expected, atol=1e-9)
        hits += 1
    assert hits >= 20 and misses >= 5
