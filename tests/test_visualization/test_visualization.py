"""hoirecon.visualization: overlay geometry (OpenCV pixel centres), side views, renderer lifetime, contact sheets,
mesh export round trips and input checks."""
import cv2
import numpy as np
import pytest
import trimesh

from hoirecon.visualization import (CV_TO_GLTF, Mesh, MeshRenderer, contact_sheet, default_colors, export_meshes,
                                    export_scene_glb, render_overlay, render_side_view, render_views)

WIDTH, HEIGHT = 200, 150
# anisotropic focal lengths, principal point ~9 px off the image centre (99.5, 74.5)
K_ANISO = np.array([[225.0, 0.0, 90.3], [0.0, 175.0, 65.6], [0.0, 0.0, 1.0]])
K_ISO = np.array([[200.0, 0.0, 99.5], [0.0, 200.0, 74.5], [0.0, 0.0, 1.0]])


@pytest.fixture(scope='module')
def renderer():
    with MeshRenderer() as renderer:
        yield renderer


@pytest.fixture(scope='module')
def noise_image():
    return np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def box_mesh(extents, centre, euler=(0.0, 0.0, 0.0), color=(0.9, 0.5, 0.2, 1.0), name='box') -> Mesh:
    box = trimesh.creation.box(extents=extents)
    rotation = trimesh.transformations.euler_matrix(*euler)[:3, :3]
    return Mesh(box.vertices @ rotation.T + np.asarray(centre), box.faces, color, name)


CUBE = dict(extents=[0.7, 0.7, 0.7], centre=[0.1, -0.05, 2.2], euler=(0.4, -0.6, 0.3))


def projected_hull(mesh: Mesh, K: np.ndarray) -> np.ndarray:
    """(N, 2) float convex hull of the projected vertices (pixels, OpenCV convention)."""
    uvw = mesh.vertices @ K.T
    uv = (uvw[:, :2] / uvw[:, 2:]).astype(np.float32)
    return cv2.convexHull(uv)[:, 0].astype(np.float64)


def hull_mask_fill(hull: np.ndarray) -> np.ndarray:
    """The silhouette as cv2.fillConvexPoly draws it (8 fractional bits)."""
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.fillConvexPoly(mask, np.rint(hull * 256).astype(np.int32), 1, lineType=cv2.LINE_8, shift=8)
    return mask.astype(bool)


def hull_mask_centres(hull: np.ndarray) -> np.ndarray:
    """Pixels whose centre (integer u, v) lies inside the convex polygon ``hull``."""
    cols, rows = np.meshgrid(np.arange(WIDTH, dtype=np.float64), np.arange(HEIGHT, dtype=np.float64))
    signs = []
    for p, q in zip(hull, np.roll(hull, -1, axis=0)):
        signs.append((q[0] - p[0]) * (rows - p[1]) - (q[1] - p[1]) * (cols - p[0]))
    signs = np.stack(signs)
    return (signs >= 0).all(axis=0) | (signs <= 0).all(axis=0)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / (a | b).sum()


# ---------------------------------------------------------------------------------------------------- overlay
def test_overlay_changes_exactly_the_projected_silhouette(renderer, noise_image):
    cube = box_mesh(**CUBE)
    out = render_overlay(noise_image, [cube], K_ANISO, alpha=0.8, renderer=renderer)
    assert out.shape == noise_image.shape and out.dtype == np.uint8
    changed = (out != noise_image).any(axis=2)
    hull = projected_hull(cube, K_ANISO)
    assert 2000 < changed.sum() < WIDTH * HEIGHT / 2  # a sizeable silhouette, well inside the image
    assert iou(changed, hull_mask_fill(hull)) > 0.97
    # sharper: OpenCV pixel centres; a half-pixel (pyrender) shift of the principal point would flip ~100 pixels
    assert (changed != hull_mask_centres(hull)).sum() <= 3
    outside = ~cv2.dilate(hull_mask_fill(hull).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    np.testing.assert_array_equal(out[outside], noise_image[outside])
    # the layers say the same: the mesh index covers the changed pixels, depth is the cube's camera z
    layers = renderer.render_layers([cube], K_ANISO, (WIDTH, HEIGHT))
    np.testing.assert_array_equal(layers.mask, changed)
    z = cube.vertices[:, 2]
    assert np.all((layers.depth[changed] > z.min() - 1e-3) & (layers.depth[changed] < z.max() + 1e-3))
    assert np.all(layers.depth[~changed] == 0)


def test_overlay_blends_with_alpha_and_mesh_opacity(renderer, noise_image):
    cube = box_mesh(**CUBE)
    black = np.zeros_like(noise_image)
    opaque = render_overlay(black, [cube], K_ANISO, alpha=1.0, renderer=renderer)
    mask = (opaque != 0).any(axis=2)
    lit = opaque[mask].astype(int)
    assert lit.std(axis=0).max() > 5  # shaded: the visible faces differ in brightness
    np.testing.assert_array_equal(render_overlay(noise_image, [cube], K_ANISO, alpha=1.0, renderer=renderer)[mask],
                                  opaque[mask])  # alpha 1: the image does not show through
    half = render_overlay(noise_image, [cube], K_ANISO, alpha=0.5, renderer=renderer).astype(int)
    np.testing.assert_allclose(half[mask], 0.5 * lit + 0.5 * noise_image[mask], atol=1.0)
    np.testing.assert_array_equal(render_overlay(noise_image, [cube], K_ANISO, alpha=0.0, renderer=renderer),
                                  noise_image)
    # the colour's alpha multiplies the overlay alpha
    faint = box_mesh(**CUBE, color=(230, 128, 51, 128))
    quarter = render_overlay(noise_image, [faint], K_ANISO, alpha=0.5, renderer=renderer).astype(int)
    weight = 0.5 * 128 / 255
    np.testing.assert_allclose(quarter[mask], weight * lit + (1 - weight) * noise_image[mask], atol=1.5)
    # the front mesh wins: a second cube behind the first one is hidden where they overlap
    behind = box_mesh([1.6, 1.2, 0.1], [0.1, -0.05, 3.5], color=(0.1, 0.9, 0.1, 1.0), name='behind')
    layers = renderer.render_layers([behind, cube], K_ANISO, (WIDTH, HEIGHT))
    np.testing.assert_array_equal(layers.index[mask], 1)
    assert (layers.index == 0).any()


def test_empty_scene_and_functional_api_without_renderer(noise_image):
    np.testing.assert_array_equal(render_overlay(noise_image, [], K_ANISO), noise_image)
    side = render_side_view([], K_ANISO, (WIDTH, HEIGHT), background=(10, 20, 30))
    assert side.shape == (HEIGHT, WIDTH, 3) and np.all(side == [10, 20, 30])


# ---------------------------------------------------------------------------------------------------- side view
def test_side_view_turns_depth_into_image_x(renderer):
    rod = box_mesh([0.1, 0.1, 0.8], [0.0, 0.0, 3.0], name='rod')  # elongated along the optical axis
    marker = box_mesh([0.12, 0.12, 0.06], [0.0, 0.0, 2.64], color=(0.1, 0.3, 0.9, 1.0), name='near_end')
    background = (255, 255, 255)

    def extent(image):
        rows, cols = np.nonzero((image != background).any(axis=2))
        return cols.max() - cols.min() + 1, rows.max() - rows.min() + 1, cols.mean(), rows.mean()

    front = render_side_view([rod, marker], K_ISO, (WIDTH, HEIGHT), angle_deg=0, renderer=renderer)
    side = render_side_view([rod, marker], K_ISO, (WIDTH, HEIGHT), angle_deg=90, renderer=renderer)
    front_w, front_h, _, _ = extent(front)
    side_w, side_h, side_u, side_v = extent(side)
    assert front_w < 1.5 * front_h  # seen end-on
    assert side_w > 4 * side_h and side_w > 40  # 0.8 m at 3 m, f = 200 px: ~53 px long
    # turned about the bounding-box centre (0, 0, 2.99): it stays at the principal point
    assert abs(side_u - K_ISO[0, 2]) < 3 and abs(side_v - K_ISO[1, 2]) < 2
    # +90 deg: what was near the camera appears on the left, -90 deg on the right
    for angle, sign in ((90, -1), (-90, 1)):
        layers = renderer.render_layers([rod, marker], K_ISO, (WIDTH, HEIGHT), angle_deg=angle)
        cols = np.nonzero(layers.index == 1)[1]
        assert sign * (cols.mean() - K_ISO[0, 2]) > 15
    # the background is untouched off the meshes
    layers = renderer.render_layers([rod, marker], K_ISO, (WIDTH, HEIGHT), angle_deg=90)
    assert np.all(side[~layers.mask] == background)


def test_render_views_equals_separate_calls(renderer, noise_image):
    meshes = [box_mesh(**CUBE), box_mesh([0.1, 0.1, 0.6], [0.3, 0.1, 2.5], color=default_colors(1)[0], name='b')]
    views = render_views(noise_image, meshes, K_ANISO, side_angles=(90, -45), alpha=0.7, background=(0, 0, 0),
                         renderer=renderer)
    assert len(views) == 3
    np.testing.assert_array_equal(views[0], render_overlay(noise_image, meshes, K_ANISO, 0.7, renderer=renderer))
    for view, angle in zip(views[1:], (90, -45)):
        np.testing.assert_array_equal(view, render_side_view(meshes, K_ANISO, (WIDTH, HEIGHT), angle, (0, 0, 0),
                                                             renderer=renderer))


# ---------------------------------------------------------------------------------------------------- lifetime
def _rss_mb() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS'):
                return int(line.split()[1]) / 1024
    return 0.0


def test_renderer_is_reusable_closable_and_does_not_leak(renderer, noise_image):
    cube = box_mesh(**CUBE)
    reference = renderer.overlay(noise_image, [cube], K_ANISO)
    # one renderer, several sizes
    small = renderer.side_view([cube], K_ANISO, (64, 48), angle_deg=0)
    assert small.shape == (48, 64, 3)
    np.testing.assert_array_equal(renderer.overlay(noise_image, [cube], K_ANISO), reference)
    # closing other renderers leaves this one working (pyrender's own delete would terminate the shared display)
    for _ in range(3):  # warm-up: allocator, shader compilation
        with MeshRenderer() as other:
            other.overlay(noise_image, [cube], K_ANISO)
    before = _rss_mb()
    for _ in range(10):
        np.testing.assert_array_equal(render_overlay(noise_image, [cube], K_ANISO), reference)
    assert _rss_mb() - before < 40  # an EGL context left open costs ~10 MB each
    np.testing.assert_array_equal(renderer.overlay(noise_image, [cube], K_ANISO), reference)
    closed = MeshRenderer()
    closed.close()
    closed.close()  # idempotent
    assert closed.closed
    with pytest.raises(RuntimeError, match='closed'):
        closed.overlay(noise_image, [cube], K_ANISO)


def test_renderer_survives_another_renderer_terminating_egl(renderer, noise_image):
    import pyrender
    cube = box_mesh(**CUBE)
    reference = renderer.overlay(noise_image, [cube], K_ANISO)
    pyrender.OffscreenRenderer(32, 24).delete()  # pyrender's own teardown: eglTerminate on the shared display
    np.testing.assert_array_equal(renderer.overlay(noise_image, [cube], K_ANISO), reference)


def test_closing_the_synthetic_renderer_leaves_others_working(renderer, noise_image):
    from hoirecon.synthetic.render import HOIRenderer
    cube = box_mesh(**CUBE)
    reference = renderer.overlay(noise_image, [cube], K_ANISO)
    live = renderer._offscreen
    HOIRenderer(32, 24).close()
    np.testing.assert_array_equal(renderer.overlay(noise_image, [cube], K_ANISO), reference)
    assert renderer._offscreen is live  # the same context kept working: no fresh start was needed


# ---------------------------------------------------------------------------------------------------- sheet
def test_contact_sheet_layout_and_captions():
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (30, 40, 3), dtype=np.uint8) for _ in range(4)] + [np.zeros((20, 25, 3),
                                                                                                np.uint8)]
    originals = [image.copy() for image in images]
    titles = ['#0 log p = -1.0', '#1 log p = -2.5', '', 'a very long caption that cannot fit', 'tiny']
    sheet = contact_sheet(images, titles, columns=3, pad=4, background=(255, 255, 255))
    assert sheet.shape == (2 * 30 + 3 * 4, 3 * 40 + 4 * 4, 3) and sheet.dtype == np.uint8
    for image, original in zip(images, originals):
        np.testing.assert_array_equal(image, original)  # inputs untouched
    for k, image in enumerate(images):
        row, col = divmod(k, 3)
        top, left = 4 + row * 34, 4 + col * 44
        tile = sheet[top:top + image.shape[0], left:left + image.shape[1]]
        captioned = (tile != image).any(axis=2)
        if titles[k]:
            assert captioned[:image.shape[0] // 2].any()  # a caption near the top
            assert not captioned[image.shape[0] * 4 // 5:].any()  # the rest of the image as it was
        else:
            assert not captioned.any()
    assert np.all(sheet[:4] == 255) and np.all(sheet[:, :4] == 255)  # padding
    assert np.all(sheet[4 + 34 + 20:4 + 34 + 30, 4 + 44:4 + 44 + 40] == 255)  # below the smaller last image
    assert np.all(sheet[4 + 34:4 + 34 + 30, 4 + 2 * 44:4 + 2 * 44 + 40] == 255)  # the empty sixth cell
    # the default grid is ceil(sqrt(n)) wide, and captions read on white and on black tiles
    assert contact_sheet(images, titles).shape == (2 * 30 + 3 * 4, 3 * 40 + 4 * 4, 3)
    for value in (0, 255):
        tile = contact_sheet([np.full((60, 120, 3), value, np.uint8)], ['log p = 3.2'], pad=0)
        assert tile.shape == (60, 120, 3)
        text = tile[:25].astype(int).sum(axis=2)
        assert (text > 600).any() and (text < 150).any()  # light text on a dark band / outline


# ---------------------------------------------------------------------------------------------------- export
def test_export_round_trip(tmp_path):
    person = trimesh.creation.icosphere(2, radius=0.3)
    rng = np.random.default_rng(2)
    permutation = rng.permutation(len(person.vertices))  # a vertex order trimesh would not produce
    inverse = np.empty_like(permutation)
    inverse[permutation] = np.arange(len(permutation))
    person_color = default_colors(0)[0]
    meshes = [Mesh(person.vertices[permutation].astype(np.float32), inverse[person.faces], person_color, 'person'),
              box_mesh([0.3, 0.2, 0.4], [0.2, 0.1, 2.0], color=(255, 128, 0, 200), name='object')]
    paths = export_meshes(tmp_path / 'meshes', meshes)
    assert list(paths) == ['person', 'object']
    for mesh in meshes:
        for kind in ('ply', 'obj'):
            loaded = trimesh.load(paths[mesh.name][kind], process=False, force='mesh')
            assert loaded.vertices.shape == mesh.vertices.shape
            np.testing.assert_allclose(loaded.vertices, mesh.vertices, atol=1e-6)
            np.testing.assert_array_equal(loaded.faces, mesh.faces)
        loaded = trimesh.load(paths[mesh.name]['ply'], process=False, force='mesh')
        assert np.all(loaded.visual.vertex_colors == mesh.rgba_uint8)
    for to_gltf_axes in (True, False):
        path = export_scene_glb(str(tmp_path / f'scene_{to_gltf_axes}.glb'), meshes, to_gltf_axes=to_gltf_axes)
        scene = trimesh.load(path, process=False)
        assert isinstance(scene, trimesh.Scene)
        assert sorted(scene.geometry) == ['object', 'person']
        assert sorted(scene.graph.nodes_geometry) == ['object', 'person']
        for mesh in meshes:
            transform, geometry = scene.graph[mesh.name]
            np.testing.assert_allclose(transform, CV_TO_GLTF if to_gltf_axes else np.eye(4))
            np.testing.assert_allclose(scene.geometry[geometry].vertices, mesh.vertices, atol=1e-6)
            np.testing.assert_array_equal(scene.geometry[geometry].faces, mesh.faces)
        if to_gltf_axes:  # y up: the top of the person (min camera y) is the max glTF y
            world = scene.to_geometry() if hasattr(scene, 'to_geometry') else scene.dump(concatenate=True)
            assert np.isclose(world.vertices[:, 1].max(), -min(m.vertices[:, 1].min() for m in meshes))


# ---------------------------------------------------------------------------------------------------- checks
def test_default_colors():
    colors = default_colors(12)
    assert len(colors) == 13 and default_colors(0) == colors[:1]
    rgba = np.array(colors)
    assert rgba.shape == (13, 4) and rgba.min() >= 0 and rgba.max() <= 1 and np.all(rgba[:, 3] == 1)
    distances = np.linalg.norm(rgba[:, None, :3] - rgba[None, :, :3], axis=2) + np.eye(13)
    assert distances.min() > 0.1
    with pytest.raises(ValueError, match='num_objects'):
        default_colors(-1)


GOOD_IMAGE = np.zeros((HEIGHT, WIDTH, 3), np.uint8)


def _good_mesh():
    return box_mesh([0.2, 0.2, 0.2], [0, 0, 2])


@pytest.mark.parametrize('call, argument', [
    (lambda: Mesh(np.zeros((4, 2)), [[0, 1, 2]]), 'vertices'),
    (lambda: Mesh(np.array([['a'] * 3] * 3), [[0, 1, 2]]), 'vertices'),
    (lambda: Mesh(np.full((3, 3), np.nan), [[0, 1, 2]]), 'vertices'),
    (lambda: Mesh(np.zeros((3, 3)), np.array([[0.0, 1.0, 2.0]])), 'faces'),
    (lambda: Mesh(np.zeros((3, 3)), [[0, 1, 3]]), 'faces'),
    (lambda: Mesh(np.zeros((3, 3)), np.zeros((0, 3), int)), 'faces'),
    (lambda: Mesh(np.zeros((3, 3)), [[0, 1, 2]], color=(1.5, 0, 0, 1)), 'color'),
    (lambda: Mesh(np.zeros((3, 3)), [[0, 1, 2]], color=(300, 0, 0, 255)), 'color'),
    (lambda: Mesh(np.zeros((3, 3)), [[0, 1, 2]], color=(1, 0)), 'color'),
    (lambda: Mesh(np.zeros((3, 3)), [[0, 1, 2]], name=''), 'name'),
    (lambda: render_overlay(GOOD_IMAGE.astype(np.float32), [_good_mesh()], K_ISO), 'image'),
    (lambda: render_overlay(GOOD_IMAGE[..., 0], [_good_mesh()], K_ISO), 'image'),
    (lambda: render_overlay(GOOD_IMAGE, [_good_mesh()], K_ISO[:2]), 'K'),
    (lambda: render_overlay(GOOD_IMAGE, [_good_mesh()], np.diag([-1.0, 1.0, 1.0])), 'K'),
    (lambda: render_overlay(GOOD_IMAGE, [_good_mesh()], K_ISO + np.eye(3, k=1)), 'K'),
    (lambda: render_overlay(GOOD_IMAGE, [_good_mesh()], K_ISO, alpha=1.5), 'alpha'),
    (lambda: render_overlay(GOOD_IMAGE, _good_mesh(), K_ISO), 'meshes'),
    (lambda: render_overlay(GOOD_IMAGE, [_good_mesh(), 'box'], K_ISO), r'meshes\[1\]'),
    (lambda: render_side_view([_good_mesh()], K_ISO, (0, 10)), 'image_size'),
    (lambda: render_side_view([_good_mesh()], K_ISO, (10.5, 10)), 'image_size'),
    (lambda: render_side_view([_good_mesh()], K_ISO, (10, 10), background=(0, 0, 256)), 'background'),
    (lambda: render_side_view([_good_mesh()], K_ISO, (10, 10), angle_deg=float('nan')), 'angle_deg'),
    (lambda: render_views(GOOD_IMAGE, [_good_mesh()], K_ISO, side_angles=90), 'side_angles'),
    (lambda: contact_sheet([], []), 'images'),
    (lambda: contact_sheet([GOOD_IMAGE, GOOD_IMAGE.astype(np.int16)], ['a', 'b']), r'images\[1\]'),
    (lambda: contact_sheet([GOOD_IMAGE], ['a', 'b']), 'titles'),
    (lambda: contact_sheet([GOOD_IMAGE], ['a'], columns=0), 'columns'),
    (lambda: contact_sheet([GOOD_IMAGE], ['a'], pad=-1), 'pad'),
    (lambda: export_meshes('/nonexistent', [_good_mesh(), _good_mesh()]), 'same name'),
    (lambda: export_meshes('/nonexistent', [box_mesh([1, 1, 1], [0, 0, 2], name='a/b')]), 'file name'),
    (lambda: export_scene_glb('/nonexistent/x.glb', []), 'meshes'),
])
def test_bad_inputs_raise_value_errors_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()
