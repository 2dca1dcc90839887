"""The winding-number inside test against trimesh's ray test and against a box's own inequalities."""
import numpy as np
import torch
import trimesh

from hoirecon.models.utils.winding import inside_mesh, winding_numbers
from hoirecon.objects import ObjectLibrary


def test_inside_a_chair_agrees_with_trimesh():
    """A non-convex template (legs, seat, back): the winding number agrees with trimesh's ray test on all but a few
    of 3000 random points around it (the ray test itself errs on a few near the surface)."""
    template = ObjectLibrary('behave')['chairwood']
    mesh = trimesh.Trimesh(template.vertices, template.faces)
    assert mesh.is_watertight
    points = np.random.default_rng(0).uniform(template.vertices.min(0) - 0.05, template.vertices.max(0) + 0.05,
                                              (3000, 3))
    ours = inside_mesh(torch.tensor(points), torch.tensor(template.vertices), torch.tensor(template.faces)).numpy()
    reference = mesh.contains(points)
    print(f'inside: ours {ours.sum()}, trimesh {reference.sum()}, disagreeing {(ours != reference).sum()}')
    assert reference.sum() > 50
    assert (ours != reference).sum() <= 6


def test_a_box_inside_outside_and_the_winding_sign():
    template = ObjectLibrary('behave')['boxtiny']
    half = template.vertices.max(0)
    points = np.random.default_rng(1).uniform(-1.5 * half, 1.5 * half, (2000, 3))
    truth = (np.abs(points) < half).all(1)
    vertices, faces = torch.tensor(template.vertices), torch.tensor(template.faces)
    assert (inside_mesh(torch.tensor(points), vertices, faces).numpy() == truth).all()
    # the winding number is +-1 inside (the sign follows the faces' orientation), 0 outside; chunks add up
    w = winding_numbers(torch.tensor(points), vertices, faces, chunk=100).numpy()
    np.testing.assert_allclose(np.abs(w[truth]), 1.0, atol=1e-6)
    np.testing.assert_allclose(w[~truth], 0.0, atol=1e-6)
    flipped = winding_numbers(torch.tensor(points), vertices, faces[:, [0, 2, 1]]).numpy()
    np.testing.assert_allclose(flipped, -w, atol=1e-6)
