"""StackFLOW-AUG: renders of the training fits seen from virtual cameras, read as BEHAVE-like samples, and mixed in.

The official StackFLOW-AUG trains on BEHAVE with, in place of each sample and with probability ``aug_ratio = 0.5``,
a render of a SCANimate clothed avatar posed by a BEHAVE fit, seen by one of 12 virtual cameras. Its layout (the
one written by ``tools/render_augmentation.py`` and read here)::

    <render_root>/                                  e.g. data/behave/rendered_images
    ├── render_manifest.json                        hoirecon's: intrinsics, image size, views, avatar, placement
    └── <seq>/<frame>/<avatar_name>/
        ├── k{cc}_hoi_color.jpg                     cc = 00 .. 11, the virtual camera
        ├── k{cc}_person_mask.jpg                   0/255, the visible person
        ├── k{cc}_object_mask.jpg                   0/255, the whole object silhouette (occluders ignored)
        └── k{cc}_params.json                       {smplh_params: {betas (10), pose (72), transl (3)},
                                                     object_RT: {R (9), T (3)}} in the virtual camera's frame

``pose`` is axis-angle of SMPL's 24 joints: the global orientation, 21 body joints and two hand joints that SMPL-H
replaces by its fingers (written as zeros). hoirecon adds a ``hoirecon`` entry (``hand_pose`` (90,) of the 30
finger joints, ``person_box`` / ``object_box`` (4,) pixel edges, ``visibility``) that a reader of the official files
ignores; a file without it (official renders) gets flat hands and boxes from the masks. The body is the **male**
training model posed with these betas (StackFLOW's ``gender = 'male'`` for augmentation samples); ``transl`` is
SMPL's (added after rotating about the rest root joint J0). ``object_RT`` maps the template centred at its vertex
mean (hoirecon's object frame): ``x = R v + T``, ``R`` row-major. Intrinsics: StackFLOW's fixed
``cam_intrinsics_aug`` at 2048 x 1536, or the manifest's (scaled to its image size). Image ids are StackFLOW's
``'{day}_{sub}_{obj}_{inter}_{frame}_{avatar:02}_{cam:02}'``.

:class:`BEHAVEAugmentationDataset` turns every view into the record format of the annotation cache
(:data:`~hoirecon.datasets.annotations.ANNOTATION_FIELDS`, plus ``aug=True``), so that the BEHAVE pipeline runs
unchanged; :class:`RandomMixDataset` swaps such a sample in for a real one with probability ``prob``.
"""
import json
import os
import os.path as osp
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmengine.registry import DefaultScope
from scipy.spatial.transform import Rotation

from hoirecon.models.utils import hoi_frame
from hoirecon.objects import BEHAVE_OBJECTS, ObjectLibrary
from hoirecon.objects.catalogue import MAX_KEYPOINTS
from hoirecon.registry import DATASETS
from hoirecon.structures.body_skeletons import NUM_BODY_JOINTS, NUM_HAND_JOINTS
from hoirecon.utils.file_lock import file_lock
from .annotations import (ANNOTATION_FIELDS, ANNOTATION_VERSION, DEFAULT_BODY_MODEL, BodyModelSet, _forward_joints,
                          image_id, load_annotations, mask_box, union_box, write_annotations)
from .behave_frames import BEHAVEFrameDataset
from .behave_io import BehaveFormatError, load_mask

#: StackFLOW's ``cam_intrinsics_aug`` = (cx, cy, fx, fy) in pixels at :data:`AUG_IMAGE_SIZE` (BEHAVE's kinect 1).
AUG_INTRINSICS = (1018.952, 779.486, 979.7844, 979.840)
#: (width, height) in pixels of the official renders.
AUG_IMAGE_SIZE = (2048, 1536)
#: Number of virtual cameras of the official renders.
AUG_VIEWS = 12
#: Written by ``tools/render_augmentation.py`` at the root of the renders.
RENDER_MANIFEST = 'render_manifest.json'
#: File name patterns of one view (``cam`` = virtual camera index).
VIEW_FILES = dict(image='k{cam:02d}_hoi_color.jpg', person_mask='k{cam:02d}_person_mask.jpg',
                  object_mask='k{cam:02d}_object_mask.jpg', params='k{cam:02d}_params.json')
#: Name of the cache files (``<render_root>/annotations/behave_aug_<split>.npz``).
CACHE_NAME = 'behave_aug'
#: The command that writes the renders of a config (``{config}``) into ``{out}``.
RENDER_COMMAND = 'python tools/render_augmentation.py {config}'


def scaled_intrinsics(image_size: Sequence[int]) -> np.ndarray:
    """(3, 3) float64 camera matrix of :data:`AUG_INTRINSICS` scaled to ``image_size`` = (width, height) px
    (fx, cx by ``width / 2048``; fy, cy by ``height / 1536``, as the synthetic world scales BEHAVE's k1)."""
    cx, cy, fx, fy = AUG_INTRINSICS
    sx, sy = image_size[0] / AUG_IMAGE_SIZE[0], image_size[1] / AUG_IMAGE_SIZE[1]
    return np.array([[fx * sx, 0.0, cx * sx], [0.0, fy * sy, cy * sy], [0.0, 0.0, 1.0]])


def aug_image_id(sequence: str, frame: str, avatar_id: int, cam: int) -> str:
    """StackFLOW's augmentation image id ``'{day}_{sub}_{obj}_{inter}_{frame}_{avatar:02}_{cam:02}'``."""
    return image_id(sequence, frame, 0)[:-2] + f'_{avatar_id:02d}_{cam:02d}'


def _field(data: dict, keys: Tuple[str, str], size: int, path: str) -> np.ndarray:
    try:
        value = np.asarray(data[keys[0]][keys[1]], dtype=np.float64).ravel()
    except (KeyError, TypeError, ValueError) as err:
        raise BehaveFormatError(f"{path}: missing or non-numeric '{keys[0]}.{keys[1]}' ({err!r}); expected "
                                '{"smplh_params": {"betas": 10, "pose": 72, "transl": 3}, "object_RT": {"R": 9, '
                                '"T": 3}} as tools/render_augmentation.py writes it. Re-render this frame (delete its '
                                'folder and run the tool again).') from err
    if value.size != size or not np.isfinite(value).all():
        raise BehaveFormatError(f"{path}: '{keys[0]}.{keys[1]}' has {value.size} values (finite: "
                                f'{bool(np.isfinite(value).all())}), expected {size} finite numbers. Re-render this '
                                'frame (delete its folder and run tools/render_augmentation.py again).')
    return value


def read_render_params(path: str) -> dict:
    """One view's ``k{cc}_params.json``.

    Returns:
        dict of float64 arrays: ``betas`` (10,), ``pose`` (72,) axis-angle, ``transl`` (3,) m, ``object_R`` (3, 3),
        ``object_T`` (3,) m, ``hand_pose`` (90,) (zeros when the file has no ``hoirecon.hand_pose``), and the
        ``hoirecon`` entry (a dict, empty for official files).

    Raises:
        FileNotFoundError, BehaveFormatError: naming the file and the fix.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found: the view was not rendered; run tools/render_augmentation.py '
                                'again (it skips finished frames).')
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as err:
        raise BehaveFormatError(f'{path}: not readable JSON ({err}); delete its frame folder and run '
                                'tools/render_augmentation.py again.') from err
    extra = data.get('hoirecon') or {} if isinstance(data, dict) else {}
    out = dict(betas=_field(data, ('smplh_params', 'betas'), 10, path),
               pose=_field(data, ('smplh_params', 'pose'), 72, path),
               transl=_field(data, ('smplh_params', 'transl'), 3, path),
               object_R=_field(data, ('object_RT', 'R'), 9, path).reshape(3, 3),
               object_T=_field(data, ('object_RT', 'T'), 3, path), hoirecon=extra)
    out['hand_pose'] = (_field(data, ('hoirecon', 'hand_pose'), 2 * NUM_HAND_JOINTS * 3, path)
                        if 'hand_pose' in extra else np.zeros(2 * NUM_HAND_JOINTS * 3))
    return out


def read_render_manifest(render_root: str) -> dict:
    """``render_manifest.json`` of hoirecon's renders, or the official renders' settings when it is absent
    (:data:`AUG_INTRINSICS` at :data:`AUG_IMAGE_SIZE`)."""
    path = osp.join(render_root, RENDER_MANIFEST)
    if not osp.isfile(path):
        return dict(image_size=list(AUG_IMAGE_SIZE), cam_K=scaled_intrinsics(AUG_IMAGE_SIZE).tolist(), official=True)
    with open(path) as f:
        return json.load(f)


def list_render_views(render_root: str) -> List[Tuple[str, str, str, int]]:
    """Every rendered view ``(sequence, frame, avatar, cam)`` under ``render_root``, sorted (hidden folders, i.e.
    unfinished frames, skipped)."""
    views = []
    for seq in sorted(os.listdir(render_root)):
        seq_dir = osp.join(render_root, seq)
        if seq.startswith('.') or seq == 'annotations' or not osp.isdir(seq_dir):
            continue
        for frame in sorted(f for f in os.listdir(seq_dir) if not f.startswith('.')):
            for avatar in sorted(a for a in os.listdir(osp.join(seq_dir, frame)) if not a.startswith('.')):
                folder = osp.join(seq_dir, frame, avatar)
                for name in sorted(os.listdir(folder)):
                    if name.endswith('_params.json'):
                        views.append((seq, frame, avatar, int(name[1:3])))
    return views


def check_render_root(render_root: str, render_command: Optional[str] = None) -> str:
    """The absolute ``render_root`` when it holds renders; a ``FileNotFoundError`` naming the tool otherwise."""
    render_root = osp.abspath(render_root)
    done = osp.isdir(render_root) and any(not name.startswith('.') and name not in ('annotations', RENDER_MANIFEST)
                                          for name in os.listdir(render_root))
    if done:
        return render_root
    command = render_command or (RENDER_COMMAND.format(config='CONFIG') + f' --out {render_root}')
    raise FileNotFoundError(
        f'StackFLOW-AUG renders not found in {render_root} (no <seq>/<frame>/<avatar>/k<cc>_params.json). Render '
        f'them from the training fits with `{command}` (minutes on the synthetic world; docs/datasets.md '
        '"Augmentation renders (StackFLOW-AUG)"), or train without them (the config without _aug).')


def _avatar_ids(avatars: Sequence[str]) -> dict:
    """Avatar folder -> id: StackFLOW's numbering for its 8 names is unknown beyond '00032_shortlong' -> 1, so ids
    are 1, 2, ... in sorted order of the avatars present."""
    return {name: i + 1 for i, name in enumerate(sorted(set(avatars)))}


def read_view_record(render_root: str, sequence: str, frame: str, avatar: str, cam: int,
                     image_size: Tuple[int, int]) -> dict:
    """Paths (relative to ``render_root``), boxes, visibility and parameters of one rendered view (reads the masks
    only when the params file has no ``hoirecon`` boxes)."""
    folder = osp.join(render_root, sequence, frame, avatar)
    files = {key: osp.join(folder, pattern.format(cam=cam)) for key, pattern in VIEW_FILES.items()}
    params = read_render_params(files['params'])
    extra = params['hoirecon']
    if 'person_box' in extra and 'object_box' in extra:
        person_box = np.asarray(extra['person_box'], np.float32)
        object_box = np.asarray(extra['object_box'], np.float32)
    else:
        person_box = mask_box(load_mask(files['person_mask'], image_size))
        object_box = mask_box(load_mask(files['object_mask'], image_size))
    rel = {key: osp.relpath(files[key], render_root) for key in ('image', 'person_mask', 'object_mask')}
    return dict(params=params, person_box=person_box, object_box=object_box,
                visibility=np.float32(extra.get('visibility', 1.0)), img_path=rel['image'],
                person_mask_path=rel['person_mask'], object_full_mask_path=rel['object_mask'])


def build_augmentation_annotations(render_root: str, data_root: str, body_model: dict = DEFAULT_BODY_MODEL,
                                   workers: int = 4) -> Tuple[dict, dict]:
    """Turn every rendered view into the annotation cache's record format, and cache it.

    Writes ``<render_root>/annotations/behave_aug_train.{npz,json}`` (:func:`~hoirecon.datasets.annotations.
    write_annotations`); the cache is rebuilt when the views on disk or the body model differ from its sidecar.

    Args:
        render_root: Folder of the renders.
        data_root: BEHAVE root whose ``objects/`` hold the templates (labels, keypoints).
        body_model: The training body model (male SMPL-H); augmentation samples are posed with it.
        workers: Threads reading the params files (and masks of official renders).

    Returns:
        ``(field -> stacked array, sidecar parameters)`` as :func:`~hoirecon.datasets.annotations.load_annotations`.
    """
    annotation_dir = osp.join(render_root, 'annotations')
    views = list_render_views(render_root)
    if not views:
        raise FileNotFoundError(f'{render_root} holds no rendered view (<seq>/<frame>/<avatar>/k<cc>_params.json); '
                                'run tools/render_augmentation.py (it resumes unfinished renders).')
    signature = f'{len(views)}:{zlib.crc32(repr(views).encode()):08x}'
    body_model = dict(body_model)
    with file_lock(osp.join(annotation_dir, f'{CACHE_NAME}_train.lock')):
        try:
            arrays, params = load_annotations(annotation_dir, 'train', CACHE_NAME)
            if params.get('views') == signature and params.get('body_model') == body_model:
                return arrays, params
        except (FileNotFoundError, BehaveFormatError):
            pass
        manifest = read_render_manifest(render_root)
        size = tuple(int(v) for v in manifest['image_size'])
        cam_K = np.asarray(manifest['cam_K'], np.float64)
        with ThreadPoolExecutor(max(1, workers)) as pool:
            records = list(pool.map(lambda v: read_view_record(render_root, *v, size), views))
        arrays = _records_to_arrays(views, records, data_root, body_model, cam_K, size)
        params = dict(version=ANNOTATION_VERSION, dataset=CACHE_NAME, split='train',
                      kinects=list(range(AUG_VIEWS)), body_model=body_model, views=signature,
                      num_images=len(views), manifest=manifest, surrogate=BodyModelSet(body_model).is_surrogate,
                      synthetic=osp.isfile(osp.join(data_root, 'synthetic_manifest.json')))
        write_annotations(annotation_dir, 'train', arrays, params, CACHE_NAME)
    print_log(f'StackFLOW-AUG renders: {len(views)} views of {render_root} -> {annotation_dir}', logger='current')
    return arrays, params


def _records_to_arrays(views: list, records: list, data_root: str, body_model: dict, cam_K: np.ndarray,
                       size: Tuple[int, int]) -> dict:
    """Stack the views' records into the cache's fields (body posed with the male training model, batched)."""
    num = len(views)
    models = BodyModelSet(body_model)
    library = ObjectLibrary('behave', template_dir=osp.join(data_root, 'objects'))
    avatar_ids = _avatar_ids([v[2] for v in views])
    betas = np.stack([r['params']['betas'] for r in records])
    # SMPL-H skeleton order: the 22 body joints of the 72-vector, then the 30 finger joints
    pose = np.concatenate([np.stack([r['params']['pose'][:3 * NUM_BODY_JOINTS] for r in records]),
                           np.stack([r['params']['hand_pose'] for r in records])], axis=1)
    transl = np.stack([r['params']['transl'] for r in records])
    with torch.no_grad():
        root = models.training.rest_root_joint(torch.as_tensor(betas)).numpy()
    joints = _forward_joints(models.training, betas, pose[:, :3 * NUM_BODY_JOINTS], transl)
    rotmats = Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix().reshape(num, -1, 3, 3)
    hoi_R, hoi_t = rotmats[:, 0], transl + root
    object_R = np.stack([r['params']['object_R'] for r in records])
    object_t = np.stack([r['params']['object_T'] for r in records])
    rel_R, rel_t = (v.numpy() for v in hoi_frame.decompose_object_pose(*(
        torch.as_tensor(np.asarray(a, np.float64)) for a in (hoi_R, hoi_t, object_R, object_t))))
    columns = {name: [] for name in ANNOTATION_FIELDS}
    for i, ((seq, frame, avatar, cam), record) in enumerate(zip(views, records)):
        obj_name = seq.split('_')[2]
        if obj_name not in BEHAVE_OBJECTS:
            raise BehaveFormatError(f'{osp.join(seq, frame, avatar)}: the sequence name {seq!r} does not name one of '
                                    f'the 20 BEHAVE objects (Date<dd>_Sub<ss>_<obj>[_<action>]).')
        template = library[obj_name]
        kpts = np.zeros((MAX_KEYPOINTS, 3), np.float32)
        kpts[:len(template.keypoints)] = template.keypoints
        weights = np.zeros(MAX_KEYPOINTS, np.float32)
        weights[:len(template.keypoints)] = 1.0
        row = dict(
            img_id=aug_image_id(seq, frame, avatar_ids[avatar], cam), sequence=seq, frame=frame, kinect=cam,
            img_path=record['img_path'], person_mask_path=record['person_mask_path'], object_mask_path='',
            object_full_mask_path=record['object_full_mask_path'], object_full_mask_scale=1, keypoints_path='',
            corr_path='', gender='male', object_name=obj_name, object_label=library.index(obj_name), cam_K=cam_K,
            image_size=np.asarray(size), person_box=record['person_box'], object_box=record['object_box'],
            hoi_box=union_box(record['person_box'], record['object_box']), visibility=record['visibility'],
            betas=betas[i], global_orient=hoi_R[i], body_pose=rotmats[i, 1:NUM_BODY_JOINTS],
            hand_pose=rotmats[i, -2 * NUM_HAND_JOINTS:], transl=transl[i], hoi_R=hoi_R[i], hoi_t=hoi_t[i],
            object_R=object_R[i], object_t=object_t[i], rel_R=rel_R[i], rel_t=rel_t[i], betas_male=betas[i],
            transl_male=transl[i], joints_3d=joints[i], person_kpts=np.zeros((25, 3), np.float32),
            object_kpts_3d=kpts, object_kpts_weights=weights)
        for name in ANNOTATION_FIELDS:
            columns[name].append(row[name])
    out = {}
    for name, (shape, dtype) in ANNOTATION_FIELDS.items():
        if dtype is str:
            out[name] = np.array(columns[name], dtype=str)
        else:
            out[name] = np.asarray(columns[name], dtype=dtype).reshape((num, ) + shape)
    return out


@DATASETS.register_module()
class BEHAVEAugmentationDataset(BaseDataset):
    """StackFLOW-AUG renders (``tools/render_augmentation.py``) as BEHAVE training samples.

    Each view becomes one record of the annotation cache's format (:data:`~hoirecon.datasets.annotations.
    ANNOTATION_FIELDS`, camera = the virtual camera, metres) with ``gender='male'`` (``betas`` = ``betas_male``, the
    avatar is the male training model), ``aug=True``, no OpenPose keypoints (zeros) and no correspondences, so the
    BEHAVE training pipeline (``LoadHOIImage``, ``HOICrop``, ``BackgroundSwap``, ``PackHOIInputs``) runs unchanged.
    The records are cached in ``<render_root>/annotations/behave_aug_train.npz`` (rebuilt when the views change).

    Args:
        data_root: BEHAVE root of the fits the renders were made from (its ``objects/`` give labels and keypoints).
        render_dir: The renders' folder, relative to ``data_root`` (default ``rendered_images``) or absolute.
        body_model: ``BODY_MODELS`` config of the male training model (the config's ``body_model``).
        min_visibility: Drop views whose object visibility (visible / whole object pixels) is below this.
        render_command: The command that writes the renders, quoted in the error of a missing folder (the configs
            give theirs, e.g. ``python tools/render_augmentation.py configs/stackflow_synthetic_aug.py``).
        pipeline, test_mode, **kwargs: as :class:`mmengine.dataset.BaseDataset`.

    Raises:
        FileNotFoundError: no renders in the folder (the message names ``tools/render_augmentation.py``).
    """

    METAINFO = dict(dataset_name='behave_aug', classes=BEHAVE_OBJECTS)

    def __init__(self,
                 data_root: str,
                 render_dir: str = 'rendered_images',
                 body_model: dict = DEFAULT_BODY_MODEL,
                 min_visibility: float = 0.0,
                 render_command: Optional[str] = None,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 **kwargs):
        self.render_root = check_render_root(osp.join(data_root, render_dir), render_command)
        self.body_model = dict(body_model)
        self.min_visibility = float(min_visibility)
        scope = None if DefaultScope.get_current_instance() is not None else 'hoirecon'
        with DefaultScope.overwrite_default_scope(scope):
            super().__init__(data_root=osp.abspath(data_root), pipeline=pipeline, test_mode=test_mode, **kwargs)

    def load_data_list(self) -> List[dict]:
        """One dict per rendered view: absolute paths, the record's arrays, ``aug=True``."""
        arrays, params = build_augmentation_annotations(self.render_root, self.data_root, self.body_model)
        self._metainfo.update(surrogate_body=bool(params['surrogate']), synthetic=bool(params.get('synthetic')),
                              split='train')
        data_list = []
        for i in range(len(arrays['img_id'])):
            info = {name: (arrays[name][i].item() if not shape else arrays[name][i])
                    for name, (shape, _) in ANNOTATION_FIELDS.items()}
            for name in ('img_path', 'person_mask_path', 'object_mask_path', 'object_full_mask_path'):
                info[name] = osp.join(self.render_root, info[name]) if info[name] else ''
            info['aug'] = True
            data_list.append(info)
        return data_list

    def filter_data(self) -> List[dict]:
        """Drop views without a person or object box, and those below ``min_visibility``."""
        kept = [info for info in self.data_list
                if info['hoi_box'][2] > info['hoi_box'][0] and info['hoi_box'][3] > info['hoi_box'][1]
                and info['visibility'] >= self.min_visibility]
        print_log(f'{type(self).__name__}: {len(kept)} rendered views (dropped {len(self.data_list) - len(kept)}).',
                  logger='current')
        return kept


class MixDraw:
    """The draw of :class:`RandomMixDataset` and :class:`BEHAVEFrameAugDataset`: which sample of the mixed-in
    dataset replaces sample ``idx`` on this call, with probability ``prob``.

    With ``seed=None`` each call draws from ``np.random``, the stream of the transforms, which mmengine's
    ``randomness=dict(seed=...)`` and its worker seeding make reproducible and which differs from epoch to epoch (a
    fixed draw per index would never show some real images). With an int ``seed``, the n-th call for index ``i`` in
    this process draws from ``np.random.default_rng((seed, i, n))``: reproducible per index, fresh on each call.

    Args:
        prob: Probability of replacing a sample, in [0, 1].
        seed: See above.
    """

    def __init__(self, prob: float = 0.5, seed: Optional[int] = None):
        if not 0.0 <= float(prob) <= 1.0:
            raise ValueError(f'the mixing probability must be in [0, 1], got {prob}.')
        self.prob, self.seed = float(prob), seed
        self._calls = {}

    def __call__(self, idx: int, num_mix: int) -> Optional[int]:
        """An index into the mixed-in dataset of ``num_mix`` samples, or None to keep sample ``idx``."""
        if self.prob <= 0.0 or num_mix == 0:
            return None
        if self.seed is None:
            u, j = np.random.random(), np.random.randint(num_mix)
        else:
            calls = self._calls.get(idx, 0)
            self._calls[idx] = calls + 1
            rng = np.random.default_rng((int(self.seed), int(idx), calls))
            u, j = rng.random(), rng.integers(num_mix)
        return int(j) if u < self.prob else None


@DATASETS.register_module()
class BEHAVEFrameAugDataset(BEHAVEFrameDataset):
    """BEHAVE frames with StackFLOW-AUG renders mixed in: each sample is, with probability ``augmentation_prob``
    (StackFLOW's ``aug_ratio`` = 0.5), a random view of :class:`BEHAVEAugmentationDataset` instead.

    Everything else is :class:`~hoirecon.datasets.BEHAVEFrameDataset`'s (length, ``metainfo``, ``get_data_info``,
    the cache), so tools that read a training config's ``train_dataloader.dataset`` (the synthetic world's generation
    and the PCA fit of ``prepare_experiment``, the config-choice check) see a BEHAVE dataset.

    Args:
        data_root: BEHAVE root (real or synthetic).
        augmentation: Overrides of the :class:`BEHAVEAugmentationDataset` config, whose defaults are this dataset's
            ``data_root``, ``body_model`` and ``pipeline`` and ``render_dir='rendered_images'``.
        augmentation_prob: Probability of a rendered sample.
        augmentation_seed: Seed of the draw (:class:`MixDraw`; None: ``np.random``).
        **kwargs: :class:`~hoirecon.datasets.BEHAVEFrameDataset` arguments.
    """

    def __init__(self, data_root: str, augmentation: Optional[dict] = None, augmentation_prob: float = 0.5,
                 augmentation_seed: Optional[int] = None, **kwargs):
        self.draw = MixDraw(augmentation_prob, augmentation_seed)
        aug_cfg = dict(type='BEHAVEAugmentationDataset', data_root=data_root,
                       body_model=kwargs.get('body_model', DEFAULT_BODY_MODEL), pipeline=kwargs.get('pipeline', []))
        aug_cfg.update(augmentation or {})
        self.augmentation = DATASETS.build(aug_cfg) if self.draw.prob > 0 else None
        super().__init__(data_root, **kwargs)

    def __getitem__(self, idx: int) -> dict:
        j = self.draw(idx, len(self.augmentation) if self.augmentation is not None else 0)
        return super().__getitem__(idx) if j is None else self.augmentation[j]


@DATASETS.register_module()
class RandomMixDataset:
    """A dataset that returns, for each index, a random sample of ``mix_dataset`` with probability ``prob`` and the
    sample of ``dataset`` otherwise (StackFLOW-AUG: ``aug_ratio = 0.5``, renders in place of real images).

    The length, ``metainfo`` and ``get_data_info`` are ``dataset``'s (an epoch has as many samples as the real set);
    the mixed-in sample is drawn uniformly from ``mix_dataset``.

    Randomness: :class:`MixDraw`. Configs use :class:`BEHAVEFrameAugDataset`, the same draw built into the
    BEHAVE dataset.

    Args:
        dataset: The real dataset (config or object).
        mix_dataset: The dataset mixed in (e.g. :class:`BEHAVEAugmentationDataset`).
        prob: Probability of returning a ``mix_dataset`` sample, in [0, 1].
        seed: Seed of the draw (:class:`MixDraw`; None: ``np.random``).
        lazy_init: Defer ``full_init`` of both datasets.
    """

    def __init__(self, dataset, mix_dataset, prob: float = 0.5, seed: Optional[int] = None, lazy_init: bool = False):
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.mix_dataset = DATASETS.build(mix_dataset) if isinstance(mix_dataset, dict) else mix_dataset
        self.draw = MixDraw(prob, seed)
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def full_init(self):
        if self._fully_initialized:
            return
        for part in (self.dataset, self.mix_dataset):
            if hasattr(part, 'full_init'):
                part.full_init()
        if self.draw.prob > 0 and len(self.mix_dataset) == 0:
            raise ValueError('RandomMixDataset: mix_dataset is empty but prob > 0.')
        self._fully_initialized = True

    def __len__(self) -> int:
        return len(self.dataset)

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(idx)

    def __getitem__(self, idx: int):
        if not self._fully_initialized:
            self.full_init()
        j = self.draw(idx, len(self.mix_dataset))
        return self.dataset[idx] if j is None else self.mix_dataset[j]

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.draw.prob}, seed={self.draw.seed}, '
                f'dataset={type(self.dataset).__name__} ({len(self.dataset)}), '
                f'mix_dataset={type(self.mix_dataset).__name__} ({len(self.mix_dataset)}))')
