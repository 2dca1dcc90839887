"""Human and object meshes of HOI data samples, from vertices or from parameters.

A data sample (an mmengine ``BaseDataElement`` or its ``to_dict()``) carries
``pred_instances`` and ``gt_instances`` (see :class:`HOIMeshBuilder` for the keys).
Instance fields may keep mmengine's leading instance dimension of 1 (``(1, 10)``
betas); it is dropped here.
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.structures import BaseDataElement

from hoirecon.registry import BODY_MODELS
from ..functional.array_utils import to_numpy

Mesh = Tuple[np.ndarray, np.ndarray]

#: Instance keys of a parametric human (SMPL-H rotation matrices, camera frame, metres).
BODY_PARAM_SHAPES = dict(betas=(None, ), global_orient=(3, 3), body_pose=(21, 3, 3), transl=(3, ))
#: Instance keys of a posed object template: ``v = R v_template + t``.
OBJECT_PARAM_SHAPES = dict(object_R=(3, 3), object_t=(3, ))
#: Instance keys of meshes given directly (faces optional: the body model / object library provide them).
VERTEX_KEYS = ('human_vertices', 'human_faces', 'object_vertices', 'object_faces')


def sample_to_dict(data_sample: Any, pred_field: str = 'pred_instances') -> Dict[str, Any]:
    """Return a data sample as a flat dict of metainfo and fields (instances as dicts of numpy arrays).

    ``pred_field`` names the field scored as the prediction (e.g. ``'init_instances'``: the reconstruction before
    a refiner); it is returned under ``'pred_instances'``.
    """
    if isinstance(data_sample, BaseDataElement):
        data_sample = data_sample.to_dict()
    if not isinstance(data_sample, dict):
        raise TypeError(f'data samples must be BaseDataElement or dict, got {type(data_sample).__name__}')
    out = dict(data_sample)
    if pred_field != 'pred_instances':
        if pred_field not in out:
            raise KeyError(f"data sample has no '{pred_field}' to score (fields: {sorted(out)}); "
                           "'init_instances' exists only when the model has a refiner.")
        out['pred_instances'] = out[pred_field]
    for field in ('pred_instances', 'gt_instances'):
        instances = out.get(field)
        if isinstance(instances, BaseDataElement):
            instances = instances.to_dict()
        if instances is not None:
            out[field] = {
                key: to_numpy(value)
                for key, value in dict(instances).items()
                if key in BODY_PARAM_SHAPES or key in OBJECT_PARAM_SHAPES or key in VERTEX_KEYS
            }
    return out


def _has_area(vertices: np.ndarray, faces: np.ndarray) -> bool:
    """Whether a mesh has a positive, finite surface area (it can be sampled)."""
    corners = np.asarray(vertices, np.float64)[np.asarray(faces)]
    area = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1).sum()
    return bool(np.isfinite(area) and area > 0)


def _single_instance(value: np.ndarray, ndim: int) -> np.ndarray:
    """Drop a leading instance dimension (only the first instance of an image is scored)."""
    return value[0] if value.ndim == ndim + 1 else value


class HOIMeshBuilder:
    """Builds the meshes of one side (prediction or ground truth) of many samples.

    Keys read from ``sample[side]`` (``side`` is ``'pred_instances'`` or ``'gt_instances'``):

    - human: ``human_vertices`` (V, 3) [m] (+ optional ``human_faces`` (F, 3)),
      or ``betas`` (10,), ``global_orient`` (3, 3), ``body_pose`` (21, 3, 3),
      ``transl`` (3,) posed with the configured body model;
    - object: ``object_vertices`` (V, 3) [m] (+ optional ``object_faces``), or
      ``object_R`` (3, 3), ``object_t`` (3,) posing the template of
      ``sample['object_name']`` from the object library.

    Args:
        body_model: ``BODY_MODELS`` config for parametric humans, e.g.
            ``dict(type='SMPLH', model_path='surrogate', gender='male')``; also
            gives the faces of humans passed as vertices without faces.
        object_library: keyword arguments of :class:`hoirecon.objects.ObjectLibrary`
            (e.g. ``dict(dataset='behave')``) for parametric objects and for the
            faces of objects passed as vertices.
        gendered: build parametric humans with the gender in ``sample['gender']``
            when present (ground truth), instead of the configured one.
    """

    def __init__(self,
                 body_model: Optional[dict] = None,
                 object_library: Optional[dict] = None,
                 gendered: bool = False) -> None:
        self.body_model_cfg = body_model
        self.object_library_cfg = object_library
        self.gendered = gendered
        self._body_models: Dict[Optional[str], torch.nn.Module] = {}
        self._library = None

    @property
    def uses_surrogate_body(self) -> Optional[bool]:
        """Whether a surrogate (licence-free) body model was used; None if no body model was built."""
        if not self._body_models:
            return None
        return any(getattr(model, 'is_surrogate', False) for model in self._body_models.values())

    def _body_model(self, gender: Optional[str]) -> torch.nn.Module:
        if self.body_model_cfg is None:
            raise ValueError('a sample has a parametric human (or vertices without faces) but the metric has no '
                             "body_model; set e.g. body_model=dict(type='SMPLH', model_path='surrogate', "
                             "gender='male')")
        key = gender if self.gendered else None
        if key not in self._body_models:
            cfg = dict(self.body_model_cfg)
            if key is not None:
                cfg['gender'] = key
            self._body_models[key] = BODY_MODELS.build(cfg).eval()
        return self._body_models[key]

    def _object_library(self):
        if self._library is None:
            if self.object_library_cfg is None:
                raise ValueError('a sample has a parametric object (or object vertices without faces) but the metric '
                                 "has no object_library; set e.g. object_library=dict(dataset='behave')")
            from hoirecon.objects import ObjectLibrary
            self._library = ObjectLibrary(**self.object_library_cfg)
        return self._library

    def build(self, samples: Sequence[Dict[str, Any]],
              side: str) -> Tuple[List[Optional[Mesh]], List[Optional[Mesh]], List[Optional[str]]]:
        """Build the human and object meshes of ``side`` for every sample.

        Returns:
            ``(humans, objects, problems)``: per sample a (vertices (V, 3) float64,
            faces (F, 3) int64) mesh or None, and None or the reason it could
            not be built (missing fields, non-finite values), for skip counting.
        """
        what = 'prediction' if side.startswith('pred') else 'ground truth'
        humans: List[Optional[Mesh]] = [None] * len(samples)
        objects: List[Optional[Mesh]] = [None] * len(samples)
        problems: List[Optional[str]] = [None] * len(samples)
        parametric: Dict[Optional[str], List[int]] = {}
        for i, sample in enumerate(samples):
            instances = sample.get(side)
            if not instances:
                problems[i] = f'missing {what}'
                continue
            try:
                objects[i] = self._object_mesh(instances, sample.get('object_name'))
                if 'human_vertices' in instances:
                    humans[i] = self._vertex_mesh(instances, 'human', sample)
                elif all(key in instances for key in BODY_PARAM_SHAPES):
                    parametric.setdefault(sample.get('gender') if self.gendered else None, []).append(i)
                else:
                    raise KeyError('human_vertices or ' + ', '.join(BODY_PARAM_SHAPES))
            except KeyError as error:
                problems[i] = f'missing {what} field {error.args[0]}'
        for gender, indices in parametric.items():
            self._pose_humans(samples, side, indices, gender, humans)
        for i, (human, obj) in enumerate(zip(humans, objects)):
            if problems[i] is None and not (np.isfinite(human[0]).all() and np.isfinite(obj[0]).all()):
                problems[i] = f'non-finite {what}'
            elif problems[i] is None and not (_has_area(*human) and _has_area(*obj)):
                problems[i] = f'degenerate {what} mesh (zero or non-finite surface area)'
        return humans, objects, problems

    def _vertex_mesh(self, instances: Dict[str, np.ndarray], part: str, sample: Dict[str, Any]) -> Mesh:
        vertices = _single_instance(np.asarray(instances[f'{part}_vertices'], dtype=np.float64), 2)
        if f'{part}_faces' in instances:
            faces = _single_instance(np.asarray(instances[f'{part}_faces']), 2)
        elif part == 'human':
            faces = self._body_model(sample.get('gender')).faces
        else:
            faces = self._template(sample.get('object_name')).faces
        return vertices, np.asarray(faces, dtype=np.int64)

    def _template(self, name: Optional[str]):
        if name is None:
            raise KeyError('object_name')
        return self._object_library()[name]

    def _object_mesh(self, instances: Dict[str, np.ndarray], name: Optional[str]) -> Mesh:
        if 'object_vertices' in instances:
            return self._vertex_mesh(instances, 'object', dict(object_name=name))
        if not all(key in instances for key in OBJECT_PARAM_SHAPES):
            raise KeyError('object_vertices or object_R, object_t')
        template = self._template(name)
        rotation = _single_instance(np.asarray(instances['object_R'], dtype=np.float64), 2)
        translation = _single_instance(np.asarray(instances['object_t'], dtype=np.float64), 1)
        return template.posed(rotation, translation), template.faces

    @torch.no_grad()
    def _pose_humans(self, samples: Sequence[Dict[str, Any]], side: str, indices: List[int], gender: Optional[str],
                     humans: List[Optional[Mesh]]) -> None:
        """Pose the parametric humans at ``indices`` in one body-model call."""
        model = self._body_model(gender)
        params = {}
        for key, shape in BODY_PARAM_SHAPES.items():
            values = [
                _single_instance(np.asarray(samples[i][side][key], dtype=np.float32), len(shape)) for i in indices
            ]
            params[key] = torch.from_numpy(np.stack(values))
        output = model(**params)
        for i, vertices in zip(indices, output.vertices.double().numpy()):
            humans[i] = (vertices, model.faces)
