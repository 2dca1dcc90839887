"""The test-time fitting (start of step 2) on exact fields of known meshes: a perturbed object pose and a perturbed
body are pulled back to the truth."""
import math

import numpy as np
import pytest
import torch

from hoirecon.models.body_models import SMPLH
from hoirecon.models.chore import group_parts
from hoirecon.models.chore.fitting import fit_body, fit_object, votes_to_pose
from hoirecon.models.chore.geometry import sample_surface
from hoirecon.models.utils import axis_angle_to_matrix
from hoirecon.objects import ObjectLibrary


def oracle_field_fn(human_points, human_parts, object_points, object_R, object_t, num_parts=14):
    """Exact-enough fields of known surfaces (distance to the nearest of dense samples; differentiable)."""
    def fields(points):
        d_h, i_h = torch.cdist(points, human_points.expand(len(points), -1, -1)).min(-1)
        d_o = torch.cdist(points, object_points.expand(len(points), -1, -1)).min(-1).values
        parts = F_one_hot(human_parts[i_h], num_parts) * 10.0
        rot6d = torch.cat([object_R[:, 0], object_R[:, 1]])[None, None].expand(len(points), points.shape[1], 6)
        return dict(udf=torch.stack([d_h, d_o], -1), parts=parts, centre_offset=object_t - points, object_rot6d=rot6d)

    return fields


def F_one_hot(labels, num):
    return torch.nn.functional.one_hot(labels, num).to(torch.float64)


def angle_deg(Ra, Rb):
    cos = ((Ra.transpose(-1, -2) @ Rb).diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    return torch.rad2deg(torch.arccos(cos.clamp(-1, 1)))


def test_fit_object_recovers_a_perturbed_pose():
    torch.manual_seed(0)
    template = ObjectLibrary('behave')['chairwood']
    rng = np.random.default_rng(0)
    dense = torch.tensor(sample_surface(template.vertices, template.faces, 4000, rng)[0])
    sparse = torch.tensor(sample_surface(template.vertices, template.faces, 300, rng)[0])
    R = axis_angle_to_matrix(torch.tensor([0.3, -1.2, 0.2], dtype=torch.float64))
    t = torch.tensor([0.1, 0.2, 2.5], dtype=torch.float64)
    field_fn = oracle_field_fn(dense[:10], torch.zeros(10, dtype=torch.long), dense @ R.T + t, R, t)
    R0 = (axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.radians(12)], dtype=torch.float64)) @ R)[None]
    t0 = (t + torch.tensor([0.05, -0.04, 0.06], dtype=torch.float64))[None]
    out = fit_object(field_fn, sparse[None], R0, t0, steps=150, lr=0.01)
    assert out['loss'][-1] < 0.2 * out['loss'][0]
    print(f"object: {float(angle_deg(out['R'], R[None])):.3f} deg, {float((out['t'] - t).norm()) * 100:.3f} cm")
    assert float(angle_deg(out['R'], R[None])) < 2.0
    assert float((out['t'] - t).norm()) < 0.01
    # the votes of exact fields are the truth
    pose = votes_to_pose(field_fn((dense @ R.T + t)[None, :50]), (dense @ R.T + t)[None, :50], radius=0.1)
    torch.testing.assert_close(pose['centre'][0], t)
    torch.testing.assert_close(pose['R'][0], R)


def upright_test_body():
    """(model, vertex parts, betas, global_orient, body_pose, transl) of an upright surrogate body 2.5 m in front of
    the camera, its joints turned by a seeded 0.2 rad noise."""
    torch.manual_seed(0)
    model = SMPLH('surrogate', gender='male', dtype=torch.float64)
    parts = torch.as_tensor(group_parts(model.part_labels, 14))
    go = axis_angle_to_matrix(torch.tensor([[math.pi, 0.0, 0.0]], dtype=torch.float64))
    body_pose = axis_angle_to_matrix(0.2 * torch.randn(1, 21, 3, dtype=torch.float64))
    transl = torch.tensor([[0.0, 0.2, 2.5]], dtype=torch.float64)
    return model, parts, torch.zeros(1, 10, dtype=torch.float64), go, body_pose, transl


def test_fit_body_recovers_a_perturbed_body():
    model, parts, betas, go, body_pose, transl = upright_test_body()
    with torch.no_grad():
        truth = model(betas=betas, global_orient=go, body_pose=body_pose, transl=transl).vertices[0]
    field_fn = oracle_field_fn(truth, parts, truth[:10], torch.eye(3, dtype=torch.float64),
                               torch.zeros(3, dtype=torch.float64))
    go0 = axis_angle_to_matrix(torch.tensor([[0.0, math.radians(8), 0.0]], dtype=torch.float64)) @ go
    transl0 = transl + torch.tensor([[0.05, -0.04, 0.04]], dtype=torch.float64)
    subset = torch.arange(0, model.num_vertices, 12)
    out = fit_body(field_fn, model, betas, go0, body_pose, transl0, parts, steps=120, lr=0.01, vertex_subset=subset)
    before = (model(betas=betas, global_orient=go0, body_pose=body_pose, transl=transl0).vertices[0]
              - truth).norm(dim=-1).mean()
    after = (out['vertices'][0] - truth).norm(dim=-1).mean()
    assert out['loss'][-1] < out['loss'][0]
    print(f"mean vertex error {float(before) * 100:.2f} -> {float(after) * 100:.2f} cm")
    assert float(after) < 0.3 * float(before) and float(after) < 0.015, (float(before), float(after))


def test_the_keypoint_term_pulls_the_projected_joints_onto_the_keypoints():
    """Fields that say nothing (a constant distance, no parts): only CHORE's 2D term moves the body, and its projected
    BODY_25 joints come onto keypoints projected from a body turned and shifted away from the start (one of them
    undetected, confidence 0). Without the term nothing moves."""
    from hoirecon.models.refiners.reprojection import keypoint_reprojection_loss
    from hoirecon.models.utils import perspective_project
    model, parts, betas, go, pose, transl = upright_test_body()
    camera = dict(focal=torch.tensor([[600.0, 600.0]], dtype=torch.float64),
                  principal=torch.tensor([[256.0, 192.0]], dtype=torch.float64),
                  box_size=torch.tensor([300.0], dtype=torch.float64))
    with torch.no_grad():
        truth25 = model.body25(model(betas=betas, global_orient=go, body_pose=pose, transl=transl).vertices)
    keypoints = torch.cat([perspective_project(truth25, camera['focal'], camera['principal']),
                           torch.ones(1, 25, 1, dtype=torch.float64)], -1)
    keypoints[0, 0, 2] = 0.0  # the nose undetected

    def blank(points):
        return dict(udf=torch.full(points.shape[:2] + (2, ), 0.05, dtype=points.dtype) + 0 * points[..., :2],
                    parts=torch.zeros(points.shape[:2] + (14, ), dtype=points.dtype) + 0 * points[..., :1])

    go0 = axis_angle_to_matrix(torch.tensor([[0.0, math.radians(10), 0.0]], dtype=torch.float64)) @ go
    transl0 = transl + torch.tensor([[0.06, -0.05, 0.0]], dtype=torch.float64)

    def error(out):
        return float(keypoint_reprojection_loss(model.body25(out['vertices']), keypoints, camera['focal'],
                                                camera['principal']))

    common = dict(steps=150, lr=0.01, vertex_subset=torch.arange(0, model.num_vertices, 12), camera=camera,
                  keypoints=keypoints)
    still = fit_body(blank, model, betas, go0, pose, transl0, parts, w_keypoints=0.0, **common)
    pulled = fit_body(blank, model, betas, go0, pose, transl0, parts, w_keypoints=10.0, **common)
    print(f'projected joint L1 {error(still):.2f} px (no term) -> {error(pulled):.2f} px')
    assert error(still) > 10.0
    assert error(pulled) < 0.15 * error(still)


def test_the_contact_term_brings_the_object_surface_to_the_contacts():
    """Fields whose object distance says nothing (constant): only CHORE's contact term moves the object, and the
    contact points (on the true surface; padded rows of weight 0 far away) end on the fitted surface. contact_vertices
    keeps the points the fields put within the threshold of the object."""
    from hoirecon.models.chore.fitting import contact_vertices
    template = ObjectLibrary('behave')['boxlarge']
    rng = np.random.default_rng(1)
    surface = torch.tensor(sample_surface(template.vertices, template.faces, 400, rng)[0])
    t = torch.tensor([0.1, 0.2, 2.5], dtype=torch.float64)
    contacts = torch.cat([surface[:40] + t, torch.full((5, 3), 9.0, dtype=torch.float64)])[None]
    weight = torch.cat([torch.ones(40), torch.zeros(5)]).to(torch.float64)[None]

    def blank(points):
        return dict(udf=torch.full(points.shape[:2] + (2, ), 0.05, dtype=points.dtype) + 0 * points[..., :2])

    t0 = (t + torch.tensor([0.06, -0.05, 0.04], dtype=torch.float64))[None]
    R0 = torch.eye(3, dtype=torch.float64)[None]

    def gap(out):
        posed = surface @ out['R'][0].T + out['t'][0]
        return float(torch.cdist(contacts[0, :40], posed).min(-1).values.mean())

    still = fit_object(blank, surface[None], R0, t0, steps=150, lr=0.005, contact_points=contacts,
                       contact_weight=weight, w_contact=0.0)
    pulled = fit_object(blank, surface[None], R0, t0, steps=150, lr=0.005, contact_points=contacts,
                        contact_weight=weight, w_contact=1.0)
    print(f'contact gap {gap(still) * 100:.2f} cm (no term) -> {gap(pulled) * 100:.2f} cm')
    assert gap(still) > 0.02 and gap(pulled) < 0.25 * gap(still)

    def near_object(points):
        d = torch.cdist(points, surface[None] + t).min(-1).values
        return dict(udf=torch.stack([d, d], -1))

    picked = contact_vertices(near_object, contacts, threshold=0.03)
    assert picked['weight'][0, :40].sum() == 40 and picked['weight'][0, 40:].sum() == 0


def held_box_scene():
    """An upright body (:func:`upright_test_body`, at the truth, arms out) and the ``boxtiny`` template (an
    axis-aligned box, 16 x 12 x 15 cm) right of its left hand, the box's left face at the fingertips: ``(model,
    parts, body dict for fit_joint, hand vertex ids, template samples (M, 3), box half sizes (3,), box R (3, 3),
    box t (3,), true vertices (V, 3))``."""
    model, parts, betas, go, body_pose, transl = upright_test_body()
    with torch.no_grad():
        vertices = model(betas=betas, global_orient=go, body_pose=body_pose, transl=transl).vertices[0]
    hand = torch.nonzero(torch.as_tensor(model.part_labels) == 20).flatten()  # the left hand, at +x (arms out)
    template = ObjectLibrary('behave')['boxtiny']
    samples = torch.tensor(sample_surface(template.vertices, template.faces, 1000, np.random.default_rng(2))[0])
    half = torch.tensor(template.vertices.max(0), dtype=torch.float64)
    R = torch.eye(3, dtype=torch.float64)
    t = vertices[hand].mean(0)
    t[0] = vertices[hand, 0].max() + half[0]  # the box's left face at the fingertips
    body = dict(betas=betas, global_orient=go, body_pose=body_pose, transl=transl,
                scale=torch.ones(1, dtype=torch.float64))
    return model, parts, body, hand, samples, half, R, t, vertices


def box_distance(points, half, R, t):
    """(N,) signed distance of ``points`` (N, 3) to the box of half sizes ``half`` posed by ``R``, ``t`` (negative
    inside), computed from the box itself (not from surface samples)."""
    q = ((points - t) @ R).abs() - half
    outside = q.clamp(min=0).norm(dim=-1)
    return outside + q.max(-1).values.clamp(max=0)


def test_the_joint_contacts_move_the_body_and_the_object_together():
    """CHORE's joint stage with only its contacts (every other weight 0), the box 6 cm to the right of its place at
    the fingertips. The fields label the contacts by region: the body's points right of the hand's centre are near the
    object, the box's points left of its left face near the person. Each direction alone brings the hand's outer half
    onto the box's surface (measured on the box itself, not on the term's samples) and moves **both** towards each
    other: the separate object fit holds the body fixed, the joint stage does not."""
    from hoirecon.models.chore.fitting import fit_joint
    model, parts, body, hand, samples, half, R, t, truth = held_box_scene()
    t0 = (t + torch.tensor([0.06, 0.0, 0.0], dtype=torch.float64))[None]
    hand_x, face_x = float(truth[hand, 0].mean()), float(t0[0, 0] - half[0])

    def fields(points):
        near = torch.tensor([0.0, 0.1], dtype=points.dtype)
        d_o = near[(points[..., 0] <= hand_x).long()]  # the hand's outer half touches the object
        d_h = near[(points[..., 0] >= face_x + 0.005).long()]  # the box's left face touches the person
        return dict(udf=torch.stack([d_h, d_o], -1), parts=torch.zeros(points.shape[:2] + (14, ), dtype=points.dtype))

    off = dict(w_udf=0.0, w_parts=0.0, w_pose=1.0, w_root=0.0)
    common = dict(steps=60, lr=0.002, vertex_subset=torch.arange(0, model.num_vertices, 3), body_terms=off,
                  object_terms=dict(w_udf=0.0, w_centre=0.0, w_rotation=0.0))

    outer = hand[truth[hand, 0] > hand_x]

    def gap(out):  # mean distance of the hand's outer half to the box (measured on the box itself)
        return float(box_distance(out['body']['vertices'][0, outer], half, out['R'][0], out['t'][0]).abs().mean())

    still = fit_joint(fields, model, body, R[None], t0, samples[None], parts, **common)
    for weights in (dict(w_contact=1.0), dict(w_contact_object=1.0)):
        out = fit_joint(fields, model, body, R[None], t0, samples[None], parts, **weights, **common)
        box_dx = float(out['t'][0, 0] - t0[0, 0])
        body_dx = float(out['body']['transl'][0, 0] - body['transl'][0, 0])
        counts = (int(out['contacts'][0]), int(out['object_contacts'][0]))
        print(weights, f'gap {gap(still) * 100:.2f} -> {gap(out) * 100:.2f} cm, box moved {box_dx * 100:.2f} cm, '
              f'body {body_dx * 100:.2f} cm, contacts (body, box) {counts}')
        assert gap(still) > 0.02 and abs(gap(out)) < 0.4 * gap(still)
        assert box_dx < -0.005 and body_dx > 0.005  # towards each other
        assert counts[0] > 0 and counts[1] > 0
    assert float((still['t'] - t0).abs().max()) < 1e-9  # no weight, no motion


def test_the_interpenetration_term_pushes_the_body_out_of_the_object():
    """The box pushed 5 cm into the body's fingers, fields that say nothing: the interpenetration term (w_collision:
    the body vertices inside the template by their winding number, pulled to its surface) brings the vertices inside
    the box (counted from the box itself) out of it, moving the box, the body or both."""
    from hoirecon.models.chore.fitting import fit_joint
    model, parts, body, hand, samples, half, R, t, truth = held_box_scene()
    template = ObjectLibrary('behave')['boxtiny']
    mesh = (torch.tensor(template.vertices), torch.tensor(template.faces))
    t0 = (t - torch.tensor([0.05, 0.0, 0.0], dtype=torch.float64))[None]

    def blank(points):
        return dict(udf=torch.full(points.shape[:2] + (2, ), 0.05, dtype=points.dtype) + 0 * points[..., :2],
                    parts=torch.zeros(points.shape[:2] + (14, ), dtype=points.dtype) + 0 * points[..., :1])

    def inside(out):
        return int((box_distance(out['body']['vertices'][0], half, out['R'][0], out['t'][0]) < 0).sum())

    common = dict(steps=60, lr=0.003, vertex_subset=torch.arange(0, model.num_vertices, 4),
                  body_terms=dict(w_pose=0.0, w_root=0.0), object_terms=dict(w_centre=0.0, w_rotation=0.0),
                  collision_meshes=[mesh])
    still = fit_joint(blank, model, body, R[None], t0, samples[None], parts, w_collision=0.0, **common)
    pushed = fit_joint(blank, model, body, R[None], t0, samples[None], parts, w_collision=10.0, **common)
    print(f'body vertices inside the box: {inside(still)} (no term) -> {inside(pushed)}')
    assert inside(still) >= 30
    assert inside(pushed) <= 0.1 * inside(still)


def test_the_interpenetration_loss_against_the_box_itself():
    """interpenetration_loss on a box turned and moved: points inside (decided by the box itself) count with the
    squared distance to the nearest surface sample, points outside (even beside an edge) not at all."""
    from hoirecon.models.chore.fitting import interpenetration_loss
    template = ObjectLibrary('behave')['boxtiny']
    half = torch.tensor(template.vertices.max(0), dtype=torch.float64)
    samples = torch.tensor(sample_surface(template.vertices, template.faces, 3000, np.random.default_rng(5))[0])
    R = axis_angle_to_matrix(torch.tensor([0.2, -0.5, 0.3], dtype=torch.float64))
    t = torch.tensor([0.1, -0.2, 2.4], dtype=torch.float64)
    points = torch.tensor(np.random.default_rng(6).uniform(-0.12, 0.12, (400, 3))) @ R.T + t
    scale = torch.tensor([1.1], dtype=torch.float64)
    surface = (1.1 * samples @ R.T + t)[None]
    loss = interpenetration_loss(points[None], [(torch.tensor(template.vertices), torch.tensor(template.faces))],
                                 surface, R[None], t[None], scale)
    local = ((points - t) @ R) / 1.1
    inside = box_distance(local, half, torch.eye(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)) < 0
    depth = 1.1 * box_distance(local, half, torch.eye(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))
    expected = float((depth[inside]**2).sum())
    assert 50 < int(inside.sum()) < 350
    # the nearest of 3000 samples is a little farther than the face itself
    assert float(loss[0]) == pytest.approx(expected, rel=0.15)


def test_the_joint_stage_keeps_an_exact_fit():
    """Started at the truth on exact fields of the whole scene (both distances, the parts, the votes), the joint stage
    with its contacts on leaves the body and the object where they are (within 5 mm and 1 degree)."""
    from hoirecon.models.chore.fitting import fit_joint
    model, parts, body, hand, samples, half, R, t, truth = held_box_scene()
    field_fn = oracle_field_fn(truth[::2], parts[::2], samples @ R.T + t, R, t)
    out = fit_joint(field_fn, model, body, R[None], t[None], samples[None], parts, steps=40, lr=0.003,
                    vertex_subset=torch.arange(0, model.num_vertices, 4), body_terms=dict(w_pose=0.01),
                    object_terms=dict(vote_centre=t[None], vote_R=R[None]), w_contact=0.3, w_contact_object=0.3)
    body_err = float((out['body']['vertices'][0] - truth).norm(dim=-1).mean())
    print(f"body {body_err * 100:.2f} cm, object {float(angle_deg(out['R'], R[None])):.3f} deg "
          f"{float((out['t'][0] - t).norm()) * 100:.2f} cm")
    assert body_err < 0.005
    assert float(angle_deg(out['R'], R[None])) < 1.0 and float((out['t'][0] - t).norm()) < 0.005
