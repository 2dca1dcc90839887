"""Single-image inference: from an image (and optional masks, keypoints, correspondences) to camera-space meshes.

Used by ``tools/demo.py``; see ``docs/demo.md``. One image, one person, one or more objects: every object gets its
own HOI crop (person box united with the object's box) and network pass; with a refiner the person is shared and
refined jointly with all objects (``person_id`` metainfo, :meth:`HOIReconstructor.predict`).
"""
import copy
import os.path as osp
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

from hoirecon.datasets.annotations import mask_box, union_box, upsample_half_mask
from hoirecon.datasets.behave_io import load_body_keypoints, load_correspondences, load_image, load_mask
from hoirecon.datasets.transforms.loading import fixed_size_correspondences
from hoirecon.engine.checkpoint_compat import hoirecon_checkpoint_loading
from hoirecon.models.refiners.pnp import mask_grid
from hoirecon.objects import ObjectLibrary, evaluator_object_library
from hoirecon.objects.catalogue import object_names
from hoirecon.objects.io import read_mesh
from hoirecon.objects.template import centred_vertices
from hoirecon.registry import MODELS
from .person_keypoints import detect_body25, keypoints_box
from .refinement import config_refiner

#: Focal length of a BEHAVE Kinect colour camera relative to the image width (976 px at 2048 px): the default
#: when no intrinsics are given.
DEFAULT_FOCAL_PER_WIDTH = 976.0 / 2048.0
#: Transforms of the config's test pipeline that the demo replaces by reading its own inputs.
LOADING_TRANSFORMS = ('LoadHOIImage', 'LoadCorrespondences')


@dataclass
class ObjectInput:
    """One object of the demo image.

    Attributes:
        name: object category of the model (e.g. ``'chairwood'``).
        mask_path: object mask (box from it), optional.
        correspondences_path: EPro-PnP-style pickle (``x3d``, ``x2d``, ``w2d``), optional.
        template_path: mesh (PLY/OBJ) to show/export instead of the library template, optional.
        bbox: (4,) xyxy pixels when there is no mask, optional.
        mask_scale: 2 for a half-resolution mask (BEHAVE-extended's ``mask_full.jpg``), else 1.
    """
    name: str
    mask_path: Optional[str] = None
    correspondences_path: Optional[str] = None
    template_path: Optional[str] = None
    bbox: Optional[Sequence[float]] = None
    mask_scale: int = 1


@dataclass
class DemoResult:
    """Reconstruction of one image.

    Attributes:
        samples: one :class:`HOIDataSample` per object (``pred_instances``; ``init_instances`` when refined).
        human_faces: (F, 3) body-model faces.
        object_meshes: per object, the (vertices, faces) template in its own frame.
        hypotheses: per object, a list of dicts (``log_prob``, ``human_vertices``, ``object_R``, ``object_t``).
        K: (3, 3) intrinsics used; image: (H, W, 3) uint8 RGB; boxes: per object the HOI box (xyxy).
        template_offsets: per object, the (3,) vertex mean subtracted from a ``--template`` mesh to centre it like the
            library's templates (metres, the file's frame), or None for the library's own template.
        template_sources: per object, where its mesh came from: the ``--template`` file, the library's template
            file, or ``'procedural'`` (the built-in stand-in, not the real object's shape).
    """
    samples: list
    human_faces: np.ndarray
    object_meshes: List[Tuple[np.ndarray, np.ndarray]]
    hypotheses: List[List[dict]]
    K: np.ndarray
    image: np.ndarray
    boxes: List[np.ndarray]
    notes: List[str] = field(default_factory=list)
    template_offsets: List[Optional[np.ndarray]] = field(default_factory=list)
    template_sources: List[str] = field(default_factory=list)


def intrinsics_matrix(intrinsics: Optional[Sequence[float]], image_size: Tuple[int, int],
                      notes: List[str]) -> np.ndarray:
    """(3, 3) K from ``(fx, fy, cx, cy)``, or a BEHAVE-like default (noted) for an image of ``(W, H)``.

    A principal point outside the image is accepted with a note: it usually means the values were given in another
    order (StackFLOW's files write ``[cx, cy, fx, fy]``).
    """
    width, height = image_size
    if intrinsics is None:
        focal = DEFAULT_FOCAL_PER_WIDTH * width
        notes.append(f'no intrinsics: assumed fx = fy = {focal:.1f} px (a BEHAVE Kinect field of view) and the '
                     'principal point at the image centre; depth and size scale with fx, pass the real values.')
        return np.array([[focal, 0, (width - 1) / 2], [0, focal, (height - 1) / 2], [0, 0, 1]])
    if len(intrinsics) != 4 or not all(np.isfinite(intrinsics)) or min(intrinsics[:2]) <= 0:
        raise ValueError(f'intrinsics must be 4 finite numbers fx fy cx cy with fx, fy > 0, got {intrinsics}.')
    fx, fy, cx, cy = (float(v) for v in intrinsics)
    if not (0 <= cx <= width and 0 <= cy <= height):
        notes.append(f'WARNING: the principal point ({cx:g}, {cy:g}) lies outside the {width} x {height} image; were '
                     'the intrinsics given in another order? --intrinsics is FX FY CX CY (StackFLOW writes '
                     '[cx, cy, fx, fy]); --fx/--fy/--cx/--cy or --calibration avoid the question.')
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])


def mask_file_box(path: str, image_size: Tuple[int, int], what: str) -> np.ndarray:
    """xyxy box (4,) of a mask file, as the dataset boxes its masks, or an error naming the file when it is empty."""
    box = mask_box(load_mask(path, image_size))
    if not box.any():
        raise ValueError(f'{what} {path} is empty (no pixel > 127); give another mask or a --bbox.')
    return box


def _check_box(box, what: str) -> np.ndarray:
    box = np.asarray(box, np.float32).reshape(-1)
    if box.shape != (4, ) or not np.all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f'{what} must be x0 y0 x1 y1 with x1 > x0 and y1 > y0, got {box.tolist()}.')
    return box


def read_template_file(path: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ``--template`` PLY/OBJ centred like the library's templates (vertex order kept; :func:`read_mesh`).

    Returns:
        (V, 3) vertices minus their mean, (F, 3) faces and the (3,) mean that was subtracted (metres, file frame).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'--template {path} does not exist.')
    vertices, faces = read_mesh(path)
    centred = centred_vertices(vertices)
    return centred, faces, np.asarray(vertices, np.float64).mean(axis=0)


def object_library(cfg: Config, objects: Sequence['ObjectInput'], data_hint: str = '') -> Optional[ObjectLibrary]:
    """The config's object library (its evaluator's ``object_library``), or None when every object has a
    ``--template`` (then no template folder is needed); a missing template folder names the fix."""
    kwargs = evaluator_object_library(cfg.get('test_evaluator'))
    if all(obj.template_path for obj in objects):
        return None
    template_dir = kwargs.get('template_dir')
    if template_dir is not None and not osp.isdir(template_dir):
        raise FileNotFoundError(f'the object templates of the config (test_evaluator.object_library.template_dir = '
                                f'{template_dir}) are missing; give --template MESH for every --object, or '
                                + (data_hint or 'point the config at the template folder.'))
    return ObjectLibrary(**kwargs)


def _test_transforms(cfg: Config) -> Compose:
    """The config's test pipeline without its loading steps (the demo provides image and correspondences)."""
    pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
    kept = [t for t in pipeline if t['type'] not in LOADING_TRANSFORMS]
    with DefaultScope.overwrite_default_scope('hoirecon'):
        return Compose(kept)


def build_model(cfg: Config, checkpoint: str, device: str = 'cpu', refine: bool = False,
                hypotheses: int = 0) -> torch.nn.Module:
    """The config's model with the checkpoint loaded, in eval mode; ``refine`` adds the config's ``refiner``."""
    model_cfg = copy.deepcopy(cfg.model)
    if refine:
        model_cfg.refiner = config_refiner(cfg)
    else:
        model_cfg.refiner = None
    model_cfg.num_test_hypotheses = int(hypotheses)
    encoder = model_cfg.get('relation_encoder', {})
    if encoder.get('type') == 'OffsetPCA' and not osp.isfile(encoder.get('pca_file', '')):
        encoder['missing_file'] = 'checkpoint'  # hoirecon checkpoints carry the whole PCA
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'--checkpoint {checkpoint} does not exist; train one with tools/train.py.')
    with DefaultScope.overwrite_default_scope('hoirecon'):
        model = MODELS.build(model_cfg)
    with hoirecon_checkpoint_loading():
        load_checkpoint(model, checkpoint, map_location='cpu', logger='current')
    if getattr(model.relation_encoder, 'awaiting_checkpoint', False):
        raise FileNotFoundError(f"the relation PCA file {encoder['pca_file']} does not exist and {checkpoint} does "
                                'not hold the PCA buffers; give the config the PCA file the model was trained with.')
    return model.to(device).eval()


def _person_keypoints(keypoints, image: np.ndarray, notes: List[str]) -> Optional[np.ndarray]:
    """(25, 3) BODY_25 keypoints from a JSON file, ``'auto'`` (detected, :mod:`hoirecon.apis.person_keypoints`),
    an array, or None (noted)."""
    if keypoints is None:
        notes.append('no --keypoints: the refiner runs without the person keypoint term.')
        return None
    if isinstance(keypoints, str) and keypoints == 'auto':
        detected = detect_body25(image)
        if detected is None:
            notes.append('--keypoints auto: the keypoint detector found no person; the refiner runs without the '
                         'person keypoint term.')
        else:
            notes.append(f'--keypoints auto: {int((detected[:, 2] >= 0.5).sum())} of 25 BODY_25 keypoints detected '
                         'with confidence >= 0.5 (MediaPipe BlazePose mapped to BODY_25).')
        return detected
    if isinstance(keypoints, str):
        return load_body_keypoints(keypoints)
    keypoints = np.asarray(keypoints, np.float32)
    if keypoints.shape != (25, 3):
        raise ValueError(f'keypoints: expected (25, 3) BODY_25 x, y, confidence, got {keypoints.shape}.')
    return keypoints


@dataclass
class PreparedImage:
    """One image made ready for the model (:func:`prepare_image`): the test pipeline's output per object.

    Attributes:
        packed: per object, the packed pipeline output (``inputs``, ``data_samples``) of its HOI crop.
        image: (H, W, 3) uint8 RGB; K: (3, 3) intrinsics; boxes: per object the HOI box (xyxy).
        object_meshes, template_offsets, template_sources, notes: as :class:`DemoResult`.
    """
    packed: list
    image: np.ndarray
    K: np.ndarray
    boxes: List[np.ndarray]
    object_meshes: List[Tuple[np.ndarray, np.ndarray]]
    template_offsets: List[Optional[np.ndarray]]
    template_sources: List[str]
    notes: List[str]


def _object_mask(obj: ObjectInput, image_size: Tuple[int, int]) -> np.ndarray:
    """(H, W) bool object mask at the image's size; a ``mask_scale`` of 2 reads a half-resolution mask (e.g.
    BEHAVE-extended's ``mask_full.jpg``) and repeats its pixels."""
    width, height = image_size
    scale = int(obj.mask_scale)
    if scale == 1:
        return load_mask(obj.mask_path, image_size)
    if scale != 2:
        raise ValueError(f'--object-mask of {obj.name}: mask_scale must be 1 or 2, got {obj.mask_scale}.')
    return upsample_half_mask(load_mask(obj.mask_path, (width // 2, height // 2)), image_size)


def _template(obj: ObjectInput, library: Optional[ObjectLibrary], notes: List[str]):
    """(vertices, faces), offset and source of an object's mesh (``--template`` or the library's)."""
    if obj.template_path:
        vertices, faces, offset = read_template_file(obj.template_path)
        if np.linalg.norm(offset) > 1e-3:
            notes.append(f'--template {obj.template_path}: centred at its vertex mean like the library templates '
                         f'(moved by {np.round(-offset, 4).tolist()} m; template_offset in the JSON).')
        return (vertices, faces), offset, obj.template_path
    template = library[obj.name]
    if template.source == 'procedural':
        notes.append(f'{obj.name}: no mesh file, so the built-in procedural template stands in for the '
                     "drawings and exports (not the real object's size and axes); give --template MESH (e.g. "
                     f'BEHAVE objects/{obj.name}/{obj.name}.obj) or set test_evaluator.object_library.'
                     'template_dir in the config.')
    return ((np.asarray(template.vertices, np.float64), np.asarray(template.faces, np.int64)), None,
            template.source)


def prepare_image(cfg: Config,
                  image_path: str,
                  objects: Sequence[ObjectInput],
                  person_mask: Optional[str] = None,
                  person_bbox: Optional[Sequence[float]] = None,
                  keypoints: Union[str, np.ndarray, None] = None,
                  intrinsics: Optional[Sequence[float]] = None,
                  num_correspondences: int = 4096,
                  data_hint: str = '',
                  cache: Optional[dict] = None) -> PreparedImage:
    """Read one image and its inputs and run the config's test pipeline on each object's HOI crop.

    Arguments as :func:`reconstruct_image`; ``cache``: a dict kept between calls on the frames of one video (the
    pipeline, the object library and the templates are then built once).
    """
    if not objects:
        raise ValueError('give at least one --object NAME.')
    cache = {} if cache is None else cache
    notes: List[str] = []
    image = load_image(image_path)
    height, width = image.shape[:2]
    K = intrinsics_matrix(intrinsics, (width, height), notes)
    person_kpts = _person_keypoints(keypoints, image, notes)
    kpts_box = None if person_kpts is None else keypoints_box(person_kpts, (width, height))
    if person_mask is not None:
        person_box = mask_file_box(person_mask, (width, height), '--person-mask')
    elif person_bbox is not None:
        person_box = _check_box(person_bbox, '--bbox')
    elif kpts_box is not None:
        person_box = kpts_box
        notes.append('person box from the keypoints (no --person-mask or --bbox): '
                     f'{np.round(person_box, 1).tolist()}.')
    else:
        raise ValueError('the person needs a box: pass --person-mask MASK (e.g. *.person_mask.jpg), --bbox x0 y0 '
                         'x1 y1 (pixels) around the person (and the object), or keypoints (--keypoints FILE or auto).')
    if 'classes' not in cache:
        cache['classes'] = list(object_names(evaluator_object_library(cfg.get('test_evaluator'))['dataset']))
    classes = cache['classes']
    for obj in objects:
        if obj.name not in classes:
            raise ValueError(f'--object {obj.name!r} is not a category of this model; choose one of {classes}.')
    if 'library' not in cache:
        cache['library'] = object_library(cfg, objects, data_hint)
    if 'transforms' not in cache:
        cache['transforms'] = _test_transforms(cfg)
    library, transforms = cache['library'], cache['transforms']
    packed_list, boxes, templates, offsets, sources = [], [], [], [], []
    for index, obj in enumerate(objects):
        corr = load_correspondences(obj.correspondences_path) if obj.correspondences_path else {}
        if obj.correspondences_path and not corr:
            notes.append(f'{obj.correspondences_path}: empty (object not visible); no object reprojection term.')
        mask_box_xyxy, grid = mask_grid(np.zeros((1, 1)))  # no mask: the PnP check skips the mask overlap
        object_box = None
        if obj.mask_path is not None:
            mask = _object_mask(obj, (width, height))
            object_box = mask_box(mask)
            if object_box.any():
                mask_box_xyxy, grid = mask_grid(mask)
            elif obj.mask_scale == 1:
                raise ValueError(f'--object-mask of {obj.name} {obj.mask_path} is empty (no pixel > 127); give '
                                 'another mask or a --bbox.')
            else:  # a video frame where the object is hidden: the box of the next source
                object_box = None
                notes.append(f'{obj.name}: its mask is empty; the box comes from the next source.')
        if object_box is not None:
            pass  # from the mask
        elif obj.bbox is not None:
            object_box = _check_box(obj.bbox, f'--object-bbox of {obj.name}')
        elif corr:
            used = np.asarray(corr['w2d']).sum(axis=1) > 0
            x2d = np.asarray(corr['x2d'])[used]
            object_box = np.array([*x2d.min(axis=0), *x2d.max(axis=0)], np.float32)
            notes.append(f'{obj.name}: no object mask; its box comes from the correspondences.')
        else:
            object_box = person_box
            notes.append(f'{obj.name}: no object mask, box or correspondences; the crop is the person box only.')
        hoi_box = union_box(person_box, object_box)
        results = dict(img=image.copy(), img_path=image_path, img_shape=(height, width), ori_shape=(height, width),
                       cam_K=K.astype(np.float32), hoi_box=hoi_box, object_name=obj.name,
                       object_label=classes.index(obj.name), img_id=f'{osp.basename(image_path)}#{index}',
                       object_mask_box=mask_box_xyxy, object_mask_grid=grid,
                       **fixed_size_correspondences(corr, num_correspondences))
        if person_kpts is not None:
            results['person_kpts'] = person_kpts
        packed = transforms(results)
        packed['data_samples'].set_metainfo(dict(person_id=0))
        packed_list.append(packed)
        boxes.append(hoi_box)
        key = ('template', obj.name, obj.template_path)
        if key not in cache:
            template_notes: List[str] = []
            cache[key] = _template(obj, library, template_notes) + (template_notes, )
        template, offset, source, template_notes = cache[key]
        notes.extend(template_notes)
        templates.append(template)
        offsets.append(offset)
        sources.append(source)
    return PreparedImage(packed=packed_list, image=image, K=K, boxes=boxes, object_meshes=templates,
                         template_offsets=offsets, template_sources=sources, notes=notes)


def run_model(model: torch.nn.Module, packed: list, notes: List[str]) -> list:
    """``model.predict`` on packed pipeline outputs (of one or more images); the refiner's warnings become notes.

    Returns:
        The predicted data samples, in the order of ``packed``.
    """
    with torch.no_grad():
        data = model.data_preprocessor(pseudo_collate(packed), False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always', UserWarning)
            out = model.predict(data['inputs'], data['data_samples'])
    for message in dict.fromkeys(str(w.message) for w in caught if 'Refiner' in str(w.message)):
        notes.append(f'WARNING: {message}')
    return out


def reconstruct_image(model: torch.nn.Module,
                      cfg: Config,
                      image_path: str,
                      objects: Sequence[ObjectInput],
                      person_mask: Optional[str] = None,
                      person_bbox: Optional[Sequence[float]] = None,
                      keypoints: Union[str, np.ndarray, None] = None,
                      intrinsics: Optional[Sequence[float]] = None,
                      num_correspondences: int = 4096,
                      data_hint: str = '') -> DemoResult:
    """Reconstruct the person and every object of one image.

    Args:
        model: from :func:`build_model`.
        cfg: the model's config (test pipeline, object library).
        image_path: RGB image.
        objects: the objects (at least one).
        person_mask: person mask image (box from it); or ``person_bbox`` (xyxy pixels).
        keypoints: OpenPose JSON (BEHAVE or OpenPose layout), ``'auto'`` (detected in the image; needs the
            ``keypoints`` extra), a (25, 3) array, or None. Without a mask or box, the person box comes from them.
        intrinsics: ``(fx, fy, cx, cy)`` pixels; None assumes a BEHAVE-like camera (noted).
        num_correspondences: rows kept per correspondence file.
        data_hint: a sentence for missing data files (:func:`~hoirecon.utils.paths.data_path_hint`).

    Returns:
        :class:`DemoResult`.
    """
    prepared = prepare_image(cfg, image_path, objects, person_mask=person_mask, person_bbox=person_bbox,
                             keypoints=keypoints, intrinsics=intrinsics, num_correspondences=num_correspondences,
                             data_hint=data_hint)
    notes = prepared.notes
    out = run_model(model, prepared.packed, notes)
    hypotheses = _hypotheses(out)
    for obj, sample in zip(objects, out):
        status = sample.metainfo.get('pnp_status', '')
        if status.startswith('network pose kept'):
            notes.append(f'{obj.name}: {status}.')
    return DemoResult(samples=out, human_faces=human_faces(model), object_meshes=prepared.object_meshes,
                      hypotheses=hypotheses, K=prepared.K, image=prepared.image, boxes=prepared.boxes, notes=notes,
                      template_offsets=prepared.template_offsets, template_sources=prepared.template_sources)


def human_faces(model: torch.nn.Module) -> np.ndarray:
    """(F, 3) int64 faces of the model's body model."""
    return model.body_model.faces_tensor.cpu().numpy().astype(np.int64)


def _hypotheses(samples) -> List[List[dict]]:
    """Per sample, the flow hypotheses ``predict`` decoded (camera-space human vertices, object pose, log p)."""
    result = []
    for sample in samples:
        pred = sample.pred_instances
        if 'human_vertices_samples' not in pred:
            result.append([])
            continue
        result.append([dict(log_prob=float(pred.log_prob[0, i]), human_vertices=vertices.cpu().numpy(),
                            object_R=pred.object_R_samples[0, i].cpu().numpy(),
                            object_t=pred.object_t_samples[0, i].cpu().numpy())
                       for i, vertices in enumerate(pred.human_vertices_samples[0])])
    return result


def posed_object(template: Tuple[np.ndarray, np.ndarray], R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Camera-frame vertices (V, 3) of an object template posed by ``x = R v + t``."""
    return template[0] @ np.asarray(R, np.float64).T + np.asarray(t, np.float64)


def _as_list(value) -> list:
    return np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value, np.float64).tolist()


#: Parameters of a prediction written to the JSON files (camera frame, metres; rotations as matrices).
PARAMETER_KEYS = ('betas', 'global_orient', 'body_pose', 'transl', 'hoi_t', 'rel_R', 'rel_t', 'object_R', 'object_t')


def instance_parameters(inst) -> Dict:
    """JSON-ready :data:`PARAMETER_KEYS` of the first row of an ``InstanceData`` prediction."""
    return {key: _as_list(inst[key][0]) for key in PARAMETER_KEYS if key in inst}


def parameters_json(result: DemoResult) -> Dict:
    """JSON-ready parameters of the reconstruction (camera frame, metres; rotations as matrices)."""
    instances = instance_parameters
    objects = []
    offsets = result.template_offsets or [None] * len(result.samples)
    sources = result.template_sources or [None] * len(result.samples)
    for sample, box, hyps, offset, source in zip(result.samples, result.boxes, result.hypotheses, offsets, sources):
        entry = dict(name=sample.metainfo['object_name'], hoi_box_xyxy=_as_list(box),
                     prediction=instances(sample.pred_instances), template_source=source)
        if offset is not None:  # object vertices = R (v_file - template_offset) + t
            entry['template_offset'] = _as_list(offset)
        if 'init_instances' in sample:
            entry['network_prediction'] = instances(sample.init_instances)
            entry['pnp_initialised'] = bool(sample.pred_instances.pnp_used[0])
            entry['pnp_status'] = sample.metainfo.get('pnp_status')
        entry['hypotheses'] = [dict(log_prob=h['log_prob'], object_R=_as_list(h['object_R']),
                                    object_t=_as_list(h['object_t'])) for h in hyps]
        objects.append(entry)
    return dict(intrinsics=_as_list(result.K), image_size=[int(result.image.shape[1]), int(result.image.shape[0])],
                refined=any('init_instances' in s for s in result.samples), objects=objects, notes=result.notes,
                frame='OpenCV camera frame of the image: x right, y down, z forward; metres')
