"""CHORE's object mask term (ObjectMaskTerm) on masks rendered from known poses: zero at the truth, blind to the
pixels the person claims, unchanged by the fields' scene scale, and enough on its own to pull a shifted object back
onto its mask through fit_object."""
import math

import numpy as np
import torch

from hoirecon.models.baselines.phosa import cluster_decimate
from hoirecon.models.chore.fitting import fit_object
from hoirecon.models.chore.mask_term import ObjectMaskTerm
from hoirecon.models.utils import axis_angle_to_matrix
from hoirecon.models.utils.soft_silhouette import hard_silhouette
from hoirecon.objects import ObjectLibrary

IMAGE = (512, 384)
K = torch.tensor([[600.0, 0.0, 255.5], [0.0, 600.0, 191.5], [0.0, 0.0, 1.0]])


def render(template, R, t):
    vertices = torch.as_tensor(template.vertices, dtype=torch.float32) @ R.T + t
    return hard_silhouette(vertices[None], torch.as_tensor(template.faces), K, IMAGE)[0].numpy()


def scene():
    library = ObjectLibrary('behave')
    box, stool = library['boxlarge'], library['stool']
    R = torch.stack([axis_angle_to_matrix(torch.tensor([0.3, -0.8, 0.2])),
                     axis_angle_to_matrix(torch.tensor([-0.2, 0.4, 0.1]))])
    t = torch.tensor([[0.1, 0.05, 2.5], [-0.2, 0.1, 3.0]])
    full = [render(box, R[0], t[0]), render(stool, R[1], t[1])]
    person = np.zeros(IMAGE[::-1], bool)
    rows, cols = np.nonzero(full[0])
    person[:, :int(np.median(cols))] = True  # the person covers the box's left half
    visible = full[0] & ~person
    return dict(box=box, stool=stool, R=R, t=t, full=full, person=person, visible=visible)


def term_of(s, objects, persons, sigma=0.3, max_faces=None):
    meshes = [(s['box'].vertices, s['box'].faces), (s['stool'].vertices, s['stool'].faces)][:len(objects)]
    if max_faces is not None:
        meshes = [cluster_decimate(v, f, max_faces) for v, f in meshes]
    names = ['boxlarge', 'stool'][:len(objects)]
    return ObjectMaskTerm.from_masks(meshes, names, persons, objects, K.expand(len(objects), 3, 3), size=64,
                                     sigma=sigma)


def test_the_term_is_small_at_the_truth_and_ignores_what_the_person_claims():
    s = scene()
    aware = term_of(s, [s['visible'], s['full'][1]], [s['person'], None])
    blind = term_of(s, [s['visible'], s['full'][1]], [None, None])  # the occluded half counted as background
    at_truth, blind_truth = aware(s['R'], s['t']), blind(s['R'], s['t'])
    shifted = aware(s['R'], s['t'] + torch.tensor([0.04, 0.0, 0.0]))
    print(f'truth {at_truth.tolist()}, occlusion-blind {blind_truth.tolist()}, shifted 4 cm {shifted.tolist()}')
    # the box's truth scores only its edges (a hard mask area-averaged into the 64 px square against a soft
    # silhouette); the stool's thin legs, partly covering their cells, cost more, still a fraction of a 4 cm shift
    assert float(at_truth[0]) < 0.02
    assert (at_truth < 0.3 * shifted).all()
    assert float(blind_truth[0]) > 5 * float(at_truth[0])  # the hidden half of the box would count against it
    # images are rendered per template; each image's loss is its own
    alone = term_of(s, [s['visible']], [s['person']])
    torch.testing.assert_close(alone(s['R'][:1], s['t'][:1]), at_truth[:1])
    # the decimated stool (legs thickened by the vertex clustering) still scores far below a 4 cm shift
    decimated = term_of(s, [s['visible'], s['full'][1]], [s['person'], None], max_faces=300)(s['R'], s['t'])
    assert (decimated < 0.5 * shifted).all()


def test_scaling_about_the_camera_leaves_the_term_unchanged_and_no_mask_scores_zero():
    s = scene()
    term = term_of(s, [s['full'][0], None], [None, None])
    R = s['R'] @ axis_angle_to_matrix(torch.tensor([0.1, 0.0, 0.0]))
    t = s['t'] + torch.tensor([0.02, -0.01, 0.0])
    scale = torch.tensor([1.7, 0.6])
    plain = term(R, t)
    torch.testing.assert_close(term(R, t * scale[:, None], scale), plain, atol=1e-5, rtol=1e-4)
    assert float(plain[1]) == 0.0 and float(plain[0]) > 0


def test_the_mask_term_alone_pulls_the_object_back_onto_its_mask():
    """Fields that say nothing (constant distance): fit_object moves a box shifted by 5 cm and turned by 10 degrees
    back onto its mask with the mask term alone."""
    s = scene()
    term = term_of(s, [s['visible']], [s['person']], sigma=1.0)
    R, t = s['R'][:1], s['t'][:1]

    def blank(points):
        return dict(udf=torch.full(points.shape[:2] + (2, ), 0.05) + 0 * points[..., :2])

    R0 = axis_angle_to_matrix(torch.tensor([[0.0, math.radians(10), 0.0]])) @ R
    t0 = t + torch.tensor([[0.05, -0.03, 0.0]])
    points = torch.as_tensor(s['box'].vertices, dtype=torch.float32)[None]
    out = fit_object(blank, points, R0, t0, steps=120, lr=0.005, mask_term=term, w_mask=1.0)
    before, after = float(term(R0, t0)), float(term(out['R'], out['t']))
    lateral = float((out['t'] - t)[0, :2].norm())
    print(f'mask loss {before:.4f} -> {after:.4f}; lateral error 5.8 -> {lateral * 100:.2f} cm')
    assert after < 0.3 * before
    assert lateral < 0.015
    still = fit_object(blank, points, R0, t0, steps=5, lr=0.005, mask_term=term, w_mask=0.0)
    torch.testing.assert_close(still['t'], t0)
