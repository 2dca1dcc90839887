"""StackFLOW-AUG renders from a dataset's own fits: the body and the object posed from the ground truth of every
training frame, seen by a ring of virtual cameras, composited on backgrounds, written in StackFLOW's layout.

The official renders pose 8 SCANimate clothed avatars; those scans are not available. hoirecon's "avatar" is the
training body model itself (the real male SMPL-H when its files are there, else the licence-free surrogate) with
the synthetic world's random clothing colours per body part (:func:`~hoirecon.synthetic.appearance.clothing_colors`)
and no clothing geometry. The object is the dataset's template with one random colour. Both are lit by the synthetic
world's random key, fill and ambient lights and composited, without a floor, on a background: an image of
``background_dir`` (e.g. PASCAL VOC ``JPEGImages``) resized to the image, else a procedural wall
(:func:`~hoirecon.synthetic.appearance.random_background`).

**Virtual cameras** (:func:`ring_cameras`), per frame, in the frame of the reference camera (the frame's kinect 1, or
its lowest kinect): the *up* axis ``u`` is the mean of the image-up directions (``-y``) of the frame's kinects (their
relative rotations come from the cache's ``global_orient``: ``R_ref<-k = G_ref G_k^T``), so that the kinects' pitch
towards the person cancels out; the target ``p`` is the pelvis (root joint ``hoi_t``). The reference camera's centre
(the origin) is ``p + h u + r`` with ``h`` its height above the pelvis along ``u`` and ``r`` its horizontal offset;
virtual camera ``i`` (``i = 0 .. views - 1``) sits at ``p + h u + Rot(u, 2 pi i / views) r`` (camera 0 at the real
camera's place, the others every 30 degrees for 12 views, counter-clockwise seen from above), looks at ``p`` and has
its x axis horizontal (perpendicular to ``u``): the real camera's distance and height, around the person.

The intrinsics are StackFLOW's ``cam_intrinsics_aug`` at 2048 x 1536, scaled to ``image_size``
(:func:`hoirecon.datasets.behave_augmentation.scaled_intrinsics`). Parameters are written in each virtual camera's
frame (exact SMPL frame change about the rest root joint). ``render_manifest.json`` records every setting.
"""
import json
import os
import os.path as osp
import time
import zlib
from collections import OrderedDict
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from scipy.spatial.transform import Rotation
from tqdm import tqdm

from hoirecon.datasets.annotations import BodyModelSet, mask_box
from hoirecon.datasets.behave_augmentation import (AUG_IMAGE_SIZE, AUG_INTRINSICS, AUG_VIEWS, RENDER_MANIFEST,
                                                   VIEW_FILES, scaled_intrinsics)
from hoirecon.datasets.behave_frames import BEHAVEFrameDataset
from hoirecon.datasets.behave_io import transform_smplh_params
from hoirecon.evaluation.functional.visibility import object_visibility_ratio
from hoirecon.objects import ObjectLibrary
from hoirecon.utils.offscreen import Intrinsics
from .appearance import Lighting, clothing_colors, object_colors, random_background, sample_lighting
from .render import ColoredMesh, HOIRenderer, View
from .writer import atomic_folder, remove_stale_temporaries, write_image, write_mask

#: Bump when what is written changes; renders of another version are refused (re-render into a new folder).
RENDER_VERSION = 1
#: Manifest keys that must agree to resume into an existing folder.
RESUME_KEYS = ('version', 'split', 'kinects', 'body_model', 'avatar', 'views', 'image_size', 'background', 'seed')
#: Extensions of background images.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')
PLACEMENT = ('ring about the image-up axis (mean -y of the frame\'s kinects) through the pelvis; camera i at the '
             'reference kinect\'s height and horizontal distance, turned by 360 i / views degrees, looking at the '
             'pelvis, x axis horizontal')


def avatar_name(body_model: dict, surrogate: bool) -> str:
    """Folder name of hoirecon's avatar, e.g. ``'hoirecon_smplh_male'`` or ``'hoirecon_surrogate_smplh_male'``."""
    kind = 'surrogate_' if surrogate else ''
    return f"hoirecon_{kind}{str(body_model['type']).lower()}_{body_model.get('gender', 'male')}"


def frame_up_axis(global_orients: Sequence[np.ndarray], reference: int) -> np.ndarray:
    """(3,) unit image-up axis in the reference camera's frame: the mean of the kinects' ``-y`` axes.

    Args:
        global_orients: (3, 3) camera-frame global orientation of the same body in each kinect of one frame.
        reference: Index (into ``global_orients``) of the reference camera.
    """
    ref = np.asarray(global_orients[reference], np.float64)
    ups = [ref @ np.asarray(g, np.float64).T @ np.array([0.0, -1.0, 0.0]) for g in global_orients]
    up = np.mean(ups, axis=0)
    norm = np.linalg.norm(up)
    return up / norm if norm > 1e-6 else np.array([0.0, -1.0, 0.0])


def ring_cameras(target: np.ndarray, up: np.ndarray, views: int = AUG_VIEWS,
                 camera_center: np.ndarray = np.zeros(3)) -> List[Tuple[np.ndarray, np.ndarray]]:
    """World -> camera transforms ``(R (3, 3), t (3,))`` (OpenCV axes, ``x_cam = R x + t``, metres) of ``views``
    cameras on a ring about ``up`` through ``target``, at ``camera_center``'s height and horizontal distance, looking
    at ``target`` (module docstring)."""
    target, up = np.asarray(target, np.float64), np.asarray(up, np.float64) / np.linalg.norm(up)
    offset = np.asarray(camera_center, np.float64) - target
    height = offset @ up
    radial = offset - height * up
    if np.linalg.norm(radial) < 1e-3:
        raise ValueError(f'the reference camera is straight above/below the person (horizontal distance '
                         f'{np.linalg.norm(radial):.4f} m): no ring can be placed.')
    cameras = []
    for i in range(views):
        turn = Rotation.from_rotvec(up * (2 * np.pi * i / views)).as_matrix()
        center = target + height * up + turn @ radial
        z = (target - center) / np.linalg.norm(target - center)
        x = np.cross(-up, z)
        x /= np.linalg.norm(x)
        rot = np.stack([x, np.cross(z, x), z])
        cameras.append((rot, -rot @ center))
    return cameras


def scene_to_camera_rotation(up: np.ndarray) -> np.ndarray:
    """(3, 3) rotation taking the synthetic world's scene frame (y up) to a frame whose up axis is ``up``."""
    up = np.asarray(up, np.float64) / np.linalg.norm(up)
    helper = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    e1 = helper - (helper @ up) * up
    e1 /= np.linalg.norm(e1)
    return np.stack([e1, up, np.cross(e1, up)], axis=1)


class BackgroundSource:
    """Background images: files of ``background_dir`` (resized to the image), or procedural walls when None.

    Raises:
        FileNotFoundError: ``background_dir`` is missing or holds no image (the message says what to pass).
    """

    def __init__(self, background_dir: Optional[str], width: int, height: int):
        self.width, self.height = width, height
        self.files = []
        if background_dir is not None:
            if not osp.isdir(background_dir):
                raise FileNotFoundError(f'--background-dir {background_dir} does not exist: give a folder of images '
                                        '(e.g. PASCAL VOC 2012 data/VOCdevkit/VOC2012/JPEGImages) or leave the option '
                                        'out for procedural backgrounds.')
            self.files = sorted(osp.join(background_dir, f) for f in os.listdir(background_dir)
                                if f.lower().endswith(IMAGE_EXTENSIONS))
            if not self.files:
                raise FileNotFoundError(f'--background-dir {background_dir} holds no .jpg/.jpeg/.png image; give a '
                                        'folder of images or leave the option out for procedural backgrounds.')

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """(H, W, 3) uint8 RGB background."""
        if not self.files:
            return random_background(rng, self.width, self.height)
        path = self.files[int(rng.integers(len(self.files)))]
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f'background image {path} cannot be read (corrupt or not an image); remove it from the '
                             'folder.')
        return cv2.cvtColor(cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA),
                            cv2.COLOR_BGR2RGB)


def group_frames(data_list: Sequence[dict]) -> 'OrderedDict[Tuple[str, str], List[dict]]':
    """The cache's records grouped by ``(sequence, frame)``, sorted, each group sorted by kinect."""
    groups = OrderedDict()
    for info in sorted(data_list, key=lambda d: (d['sequence'], d['frame'], d['kinect'])):
        groups.setdefault((info['sequence'], info['frame']), []).append(info)
    return groups


def _axis_angle(info: dict) -> np.ndarray:
    """(156,) float64 SMPL-H axis-angle (global, 21 body, 30 finger joints) of a cache record."""
    rotations = np.concatenate([info['global_orient'][None], info['body_pose'], info['hand_pose']])
    return Rotation.from_matrix(rotations.astype(np.float64)).as_rotvec().ravel()


def check_manifest(out_dir: str, settings: dict) -> None:
    """Refuse to resume into ``out_dir`` when its manifest was written with other settings."""
    path = osp.join(out_dir, RENDER_MANIFEST)
    if not osp.isfile(path):
        others = [n for n in os.listdir(out_dir) if n != 'annotations'] if osp.isdir(out_dir) else []
        if others:
            raise FileExistsError(f'{out_dir} is not empty and has no {RENDER_MANIFEST}: it is not a folder of '
                                  'tools/render_augmentation.py (official renders?). Give another --out.')
        return
    with open(path) as f:
        old = json.load(f)
    settings = json.loads(json.dumps(settings))  # tuples -> lists, as read back
    diffs = [f'{key}: {old.get(key)!r} there, {settings.get(key)!r} now' for key in RESUME_KEYS
             if old.get(key) != settings.get(key)]
    if diffs:
        raise ValueError(f'{out_dir} holds renders made with other settings ({"; ".join(diffs)}). Render into '
                         'another --out, or delete the folder to re-render it.')


def _write_manifest(out_dir: str, manifest: dict) -> None:
    os.makedirs(out_dir, exist_ok=True)
    tmp = osp.join(out_dir, f'.{RENDER_MANIFEST}.tmp{os.getpid()}')
    with open(tmp, 'w') as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, osp.join(out_dir, RENDER_MANIFEST))


def render_augmentation(data_root: str,
                        body_model: dict,
                        out_dir: Optional[str] = None,
                        split: str = 'train',
                        kinects: Sequence[int] = (0, 1, 2, 3),
                        views: int = AUG_VIEWS,
                        image_size: Tuple[int, int] = AUG_IMAGE_SIZE,
                        limit: Optional[int] = None,
                        background_dir: Optional[str] = None,
                        seed: int = 0,
                        progress: bool = True) -> dict:
    """Render StackFLOW-AUG samples of every frame of a split into ``out_dir`` (skipping finished frames).

    Args:
        data_root: BEHAVE-layout root (real or synthetic); its annotation cache is read (and built when missing) by
            :class:`~hoirecon.datasets.BEHAVEFrameDataset`.
        body_model: ``BODY_MODELS`` config of the male training model (the avatar): the config's ``body_model``.
        out_dir: Output folder (default ``<data_root>/rendered_images``).
        split: Split of ``split.json`` whose frames are rendered (StackFLOW: the training frames).
        kinects: Kinects whose records give the frame (the reference is kinect 1 when present, else the lowest).
        views: Virtual cameras per frame.
        image_size: (width, height) in pixels; the intrinsics are ``cam_intrinsics_aug`` scaled to it.
        limit: Render only the first ``limit`` frames (sorted by sequence and frame).
        background_dir: Folder of background images; None for procedural ones.
        seed: Seed of the appearance (clothing, object colour, lights, backgrounds), drawn per frame from
            ``(seed, crc32('<seq>/<frame>'))``.
        progress: Show a tqdm bar.

    Returns:
        Summary dict: ``out_dir``, ``frames`` (in the split), ``rendered``, ``skipped`` (already there), ``views``,
        ``seconds``.
    """
    start = time.time()
    width, height = int(image_size[0]), int(image_size[1])
    if width < 8 or height < 8 or views < 1:
        raise ValueError(f'image_size {image_size} and views {views} must be at least 8 x 8 pixels and 1 view.')
    out_dir = osp.abspath(out_dir or osp.join(data_root, 'rendered_images'))
    dataset = BEHAVEFrameDataset(data_root, split=split, kinects=kinects, body_model=body_model, pipeline=[])
    models = BodyModelSet(body_model)
    avatar = avatar_name(body_model, models.is_surrogate)
    cam_K = scaled_intrinsics((width, height))
    settings = dict(version=RENDER_VERSION, data_root=dataset.data_root, split=split, kinects=sorted(kinects),
                    body_model=dict(body_model), avatar=avatar, views=int(views), image_size=[width, height],
                    cam_K=cam_K.tolist(), official_intrinsics=dict(zip(('cx', 'cy', 'fx', 'fy'), AUG_INTRINSICS),
                                                                   image_size=list(AUG_IMAGE_SIZE)),
                    background=osp.abspath(background_dir) if background_dir else 'procedural', seed=int(seed),
                    placement=PLACEMENT,
                    avatar_note='SCANimate avatars are not available: the training body model with random clothing '
                                'colours per body part')
    check_manifest(out_dir, settings)
    groups = group_frames([dataset.get_data_info(i) for i in range(len(dataset))])
    keys = list(groups)[:limit] if limit is not None else list(groups)
    _write_manifest(out_dir, dict(settings, complete=False, frames=len(groups)))
    backgrounds = BackgroundSource(background_dir, width, height)
    library = ObjectLibrary('behave', template_dir=osp.join(dataset.data_root, 'objects'))
    model = models.training
    labels = np.argmax(model.skinning_weights, axis=1)
    intrinsics = Intrinsics(fx=cam_K[0, 0], fy=cam_K[1, 1], cx=cam_K[0, 2], cy=cam_K[1, 2], width=width,
                            height=height)
    renderer = HOIRenderer(width, height)
    rendered = skipped = 0
    try:
        for seq, frame in tqdm(keys, desc='rendering augmentation frames', disable=not progress):
            final = osp.join(out_dir, seq, frame, avatar)
            if osp.isdir(final):
                skipped += 1
                continue
            remove_stale_temporaries(osp.dirname(final))
            _render_frame(renderer, model, labels, library, backgrounds, intrinsics, groups[(seq, frame)], final,
                          views, np.random.default_rng([int(seed), zlib.crc32(f'{seq}/{frame}'.encode())]))
            rendered += 1
    finally:
        renderer.close()
    complete = len(keys) == len(groups)
    _write_manifest(out_dir, dict(settings, complete=complete, frames=len(groups),
                                  frames_rendered=sum(osp.isdir(osp.join(out_dir, s, f, avatar)) for s, f in groups)))
    return dict(out_dir=out_dir, frames=len(groups), rendered=rendered, skipped=skipped, views=int(views),
                seconds=round(time.time() - start, 2))


def _render_frame(renderer: HOIRenderer, model, labels: np.ndarray, library: ObjectLibrary,
                  backgrounds: BackgroundSource, intrinsics: Intrinsics, records: List[dict], final: str, views: int,
                  rng: np.random.Generator) -> None:
    """Pose one frame in its reference camera, render every virtual view and write the avatar folder atomically."""
    kinects = [info['kinect'] for info in records]
    ref_index = kinects.index(1) if 1 in kinects else 0
    ref = records[ref_index]
    up = frame_up_axis([info['global_orient'] for info in records], ref_index)
    cameras = ring_cameras(ref['hoi_t'].astype(np.float64), up, views)
    pose = _axis_angle(ref)
    betas = ref['betas_male'].astype(np.float64)
    transl = ref['transl_male'].astype(np.float64)
    with torch.no_grad():
        body = model.forward_axis_angle(torch.as_tensor(betas[None]), torch.as_tensor(pose[None]),
                                        torch.as_tensor(transl[None]))
        root = model.rest_root_joint(torch.as_tensor(betas[None]))[0].numpy()
    template = library[ref['object_name']]
    object_R, object_t = ref['object_R'].astype(np.float64), ref['object_t'].astype(np.float64)
    object_verts = template.vertices @ object_R.T + object_t
    scene = scene_to_camera_rotation(up)
    light = sample_lighting(rng)
    lighting = Lighting(direction=scene @ light.direction, color=light.color, intensity=light.intensity,
                        fill_intensity=light.fill_intensity, ambient=light.ambient)
    body_mesh = ColoredMesh(body.vertices[0].numpy().astype(np.float64), model.faces, clothing_colors(rng, labels))
    obj_mesh = ColoredMesh(object_verts, template.faces, object_colors(rng, len(template.vertices)))
    view_list = [View(intrinsics, rot, trans, backgrounds.draw(rng)) for rot, trans in cameras]
    renders = renderer.render(body_mesh, obj_mesh, None, lighting, view_list)
    with atomic_folder(final) as tmp:
        for cam, ((rot, trans), render) in enumerate(zip(cameras, renders)):
            pose_v, transl_v = transform_smplh_params(pose, transl, root, rot, trans)
            params = {
                'smplh_params': {'betas': betas.tolist(),
                                 'pose': np.concatenate([pose_v[:66], np.zeros(6)]).tolist(),
                                 'transl': transl_v.tolist()},
                'object_RT': {'R': (rot @ object_R).ravel().tolist(), 'T': (rot @ object_t + trans).tolist()},
                'hoirecon': {
                    'hand_pose': pose_v[66:].tolist(), 'person_box': mask_box(render.person_mask).tolist(),
                    'object_box': mask_box(render.object_full).tolist(),
                    'visibility': float(object_visibility_ratio(render.object_mask, render.object_full)),
                    'source_img_id': ref['img_id'], 'gender': 'male',
                    'world_to_camera': {'R': rot.ravel().tolist(), 'T': trans.tolist()}},
            }
            names = {key: osp.join(tmp, pattern.format(cam=cam)) for key, pattern in VIEW_FILES.items()}
            write_image(names['image'], render.color)
            write_mask(names['person_mask'], render.person_mask)
            write_mask(names['object_mask'], render.object_full)
            with open(names['params'], 'w') as f:
                json.dump(params, f)
