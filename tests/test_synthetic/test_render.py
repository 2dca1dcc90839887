"""The pyrender renderer: OpenCV pixel convention, visible / full masks, depth, background."""
import numpy as np
import pytest
import trimesh
from scipy.ndimage import binary_dilation

from hoirecon.synthetic.appearance import Lighting
from hoirecon.synthetic.render import ColoredMesh, HOIRenderer, View
from hoirecon.utils.offscreen import Intrinsics

INTR = Intrinsics(fx=100.0, fy=101.0, cx=63.3, cy=47.6, width=128, height=96)
LIGHT = Lighting(direction=np.array([0.0, 1.0, 1.0]), color=np.ones(3), intensity=3.0, fill_intensity=1.0,
                 ambient=np.full(3, 0.3))


@pytest.fixture(scope='module')
def renderer():
    renderer = HOIRenderer(INTR.width, INTR.height)
    yield renderer
    renderer.close()


def box(extents, centre, rotation=np.eye(3)) -> ColoredMesh:
    mesh = trimesh.creation.box(extents=extents)
    vertices = mesh.vertices @ rotation.T + centre
    return ColoredMesh(vertices, mesh.faces, np.full((len(vertices), 4), 200, np.uint8))


def rasterise(mesh: ColoredMesh, view: View) -> np.ndarray:
    """Independent reference: pixel centres (OpenCV: pixel (u, v) at integer u, v) inside a projected triangle."""
    uv = view.intrinsics.project(mesh.vertices @ view.rotation.T + view.translation)
    cols, rows = np.meshgrid(np.arange(view.intrinsics.width), np.arange(view.intrinsics.height))
    mask = np.zeros(cols.shape, bool)
    for a, b, c in uv[mesh.faces]:
        area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        if abs(area) < 1e-12:
            continue
        edges = [((q[0] - p[0]) * (rows - p[1]) - (q[1] - p[1]) * (cols - p[0])) * np.sign(area)
                 for p, q in ((a, b), (b, c), (c, a))]
        mask |= (edges[0] >= 0) & (edges[1] >= 0) & (edges[2] >= 0)
    return mask


def test_silhouette_follows_opencv_pixel_centres(renderer):
    rot = trimesh.transformations.euler_matrix(0.4, -0.7, 0.2)[:3, :3]
    view = View(INTR, np.eye(3), np.zeros(3))
    mesh = box([0.5, 0.3, 0.4], np.array([0.05, -0.02, 2.0]), rot)
    rendered = renderer.silhouettes([mesh], view)[0]
    reference = rasterise(mesh, view)
    assert (rendered != reference).sum() <= 2  # at most a tie on an edge; a half-pixel shift flips dozens


def test_visible_and_full_masks(renderer):
    view = View(INTR, np.eye(3), np.zeros(3), background=np.full((96, 128, 3), 37, np.uint8))
    body = box([0.4, 0.8, 0.2], np.array([0.0, 0.0, 2.5]))
    front = box([0.3, 0.3, 0.1], np.array([0.15, 0.1, 2.0]))
    behind = box([0.3, 0.3, 0.1], np.array([0.15, 0.1, 3.0]))
    body_sil, front_sil, behind_sil = renderer.silhouettes([body, front, behind], view)
    out = renderer.render(body, front, None, LIGHT, [view])[0]
    np.testing.assert_array_equal(out.object_full, front_sil)
    np.testing.assert_array_equal(out.object_mask, front_sil)
    np.testing.assert_array_equal(out.person_mask, body_sil & ~front_sil)
    np.testing.assert_allclose(out.object_depth[front_sil], 1.95, atol=1e-4)  # the front face of the object
    assert np.all(out.object_depth[~front_sil] == 0)
    empty = ~binary_dilation(body_sil | front_sil)  # anti-aliased edges aside
    assert np.all(out.color[empty] == 37)  # the background shows where nothing was rendered
    assert np.all(out.color[body_sil & ~front_sil].astype(int).sum(axis=1) > 3 * 37)  # the lit body
    out = renderer.render(body, behind, None, LIGHT, [view])[0]
    np.testing.assert_array_equal(out.person_mask, body_sil)
    np.testing.assert_array_equal(out.object_mask, behind_sil & ~body_sil)
    np.testing.assert_array_equal(out.object_full, behind_sil)
    assert not (out.person_mask & out.object_mask).any()


def test_renderer_rejects_a_camera_of_another_size(renderer):
    view = View(Intrinsics(100, 100, 32, 24, 64, 48), np.eye(3), np.zeros(3))
    with pytest.raises(ValueError, match='differs from the renderer size 128x96'):
        renderer.silhouettes([box([1, 1, 1], np.array([0, 0, 3.0]))], view)
