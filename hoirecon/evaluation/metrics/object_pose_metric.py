"""``ObjectPoseMetric``: pose accuracy of the correspondence network's PnP poses, and the refiner's input files.

A thin mmengine wrapper around :mod:`hoirecon.evaluation.functional.object_pose`. With ``out_dir`` it also writes,
per image, the predicted correspondences in the layout the refiner reads (StackFLOW's EPro-PnP files,
:func:`hoirecon.datasets.load_correspondences` / ``LoadCorrespondences``)::

    <out_dir>/epro_pnp/<sequence>/<frame>/k<kinect>.obj_coor.pkl
        {'x3d': (S*S, 3) float32 object-frame metres, 'x2d': (S*S, 2) float32 full-image pixels,
         'w2d': (S*S, 2) float32 weights (0 off the predicted visible mask)}
"""
import os
import os.path as osp
import pickle
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from hoirecon.objects import ObjectLibrary
from hoirecon.objects.symmetry import object_symmetries, symmetry_centre
from hoirecon.registry import METRICS
from hoirecon.structures.file_layout import correspondence_file
from ..functional.array_utils import to_numpy
from ..functional.object_pose import object_diameter, object_pose_errors, summarise_object_pose
from ..functional.sampling import sample_surface


def write_correspondence_file(out_dir: str, sequence: str, frame: str, kinect: int, x3d: np.ndarray, x2d: np.ndarray,
                              w2d: np.ndarray) -> str:
    """Write one image's ``epro_pnp/<sequence>/<frame>/k<kinect>.obj_coor.pkl`` atomically; returns its path."""
    path = correspondence_file(out_dir, sequence, frame, kinect)
    os.makedirs(osp.dirname(path), exist_ok=True)
    data = {'x3d': np.asarray(x3d, np.float32).reshape(-1, 3), 'x2d': np.asarray(x2d, np.float32).reshape(-1, 2),
            'w2d': np.asarray(w2d, np.float32).reshape(-1, 2)}
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'wb') as f:
        pickle.dump(data, f)
    os.replace(tmp, path)
    return path


class ObjectGeometry:
    """Per object of a library, computed once: template vertices, surface samples and diameter; with
    ``symmetries`` (:func:`~hoirecon.objects.symmetry.object_symmetries` keyword arguments) also its symmetries."""

    def __init__(self, library: ObjectLibrary, num_surface_samples: int = 4000, seed: int = 0,
                 symmetries: Optional[dict] = None):
        self.library, self.num, self.seed = library, int(num_surface_samples), int(seed)
        self.symmetry_cfg = symmetries
        self._cache = {}

    def symmetries(self, name: str):
        """``(rotations (S, 3, 3), centre (3,))`` of the object's symmetries, or ``(None, None)`` without the
        option."""
        if self.symmetry_cfg is None:
            return None, None
        key = ('symmetries', name)
        if key not in self._cache:
            template = self.library[name]
            self._cache[key] = (object_symmetries(template.vertices, template.faces, **self.symmetry_cfg),
                                symmetry_centre(template.vertices))
        return self._cache[key]

    def __getitem__(self, name: str):
        if name not in self._cache:
            template = self.library[name]
            surface = sample_surface(np.asarray(template.vertices, np.float64), np.asarray(template.faces), self.num,
                                     self.seed, keys=[name])
            self._cache[name] = (np.asarray(template.vertices, np.float64), np.asarray(surface, np.float64),
                                 object_diameter(template.vertices))
        return self._cache[name]


def score_pose_records(records: List[dict], geometry: ObjectGeometry, symmetric_objects: Sequence[str] = (),
                       add_threshold: float = 0.1, pixel_threshold: float = 5.0) -> List[Dict[str, float]]:
    """:func:`object_pose_errors` of each record (``object_name``, ``R_pred``/``t_pred`` or None, ``R_gt``,
    ``t_gt``, ``x3d``, ``x2d`` of the rows given to PnP, ``cam_K``)."""
    scored = []
    for record in records:
        vertices, surface, diameter = geometry[record['object_name']]
        symmetries, centre = geometry.symmetries(record['object_name'])
        scored.append(object_pose_errors(vertices, surface, diameter, record['R_pred'], record['t_pred'],
                                         record['R_gt'], record['t_gt'], record['x3d'], record['x2d'],
                                         record['cam_K'], record['object_name'] in symmetric_objects, add_threshold,
                                         pixel_threshold, symmetries, centre))
    return scored


def format_object_pose_table(summary: Dict[str, float], title: str = 'object pose after PnP') -> str:
    """A few lines of text of :func:`summarise_object_pose`'s numbers."""
    return (f'{title} ({int(summary["num_images"])} images): PnP success {100 * summary["pnp_success"]:.1f} %, '
            f'ADD(-S) < 10 % diameter {100 * summary["add_accuracy"]:.1f} %, '
            f'2D points within 5 px {100 * summary["points_within_px"]:.1f} %\n'
            f'  rotation {summary["rotation_deg"]:.2f} deg (median {summary["rotation_deg_median"]:.2f}), '
            f'translation {summary["translation_cm"]:.2f} cm (median {summary["translation_cm_median"]:.2f}), '
            f'object Chamfer {summary["chamfer_cm"]:.2f} cm (median {summary["chamfer_cm_median"]:.2f}; unaligned, '
            'object only; means over PnP successes)')


@METRICS.register_module()
class ObjectPoseMetric(BaseMetric):
    """ADD(-S) accuracy, rotation / translation errors, 2D accuracy and object Chamfer of the PnP pose.

    Reads ``pred_instances`` of :class:`~hoirecon.models.correspondence.ObjectCorrespondenceNet` (``object_R``,
    ``object_t``, ``pnp_ok``, ``corr_x3d``, ``corr_x2d``, ``corr_w2d``, ``corr_used``) and the ground truth
    ``gt_instances.object_R`` / ``object_t``, ``metainfo['cam_K']``, ``object_name``.

    Args:
        object_library: :class:`~hoirecon.objects.ObjectLibrary` keyword arguments (templates of ADD and Chamfer).
        symmetric_objects: object names scored with ADD-S instead of ADD (none by default).
        symmetries: :func:`~hoirecon.objects.symmetry.object_symmetries` keyword arguments (``{}`` for its
            defaults): score every pose up to the symmetries found on its template (the rotation, translation and
            ADD against the closest symmetric twin of the truth); None scores against the truth alone.
        add_threshold: ADD(-S) threshold as a fraction of the object diameter (0.1).
        pixel_threshold: pixels of the 2D test (5).
        num_surface_samples: surface samples per object for the Chamfer distance.
        out_dir: when set, write every image's correspondences under ``<out_dir>/epro_pnp/`` (module doc).
        collect_device, prefix: mmengine's.
    """
    default_prefix = 'object_pose'

    def __init__(self,
                 object_library: Optional[dict] = None,
                 symmetric_objects: Sequence[str] = (),
                 symmetries: Optional[dict] = None,
                 add_threshold: float = 0.1,
                 pixel_threshold: float = 5.0,
                 num_surface_samples: int = 4000,
                 out_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.object_library = dict(object_library or dict(dataset='behave'))
        self.symmetric_objects = tuple(symmetric_objects)
        self.symmetries = None if symmetries is None else dict(symmetries)
        self.add_threshold, self.pixel_threshold = float(add_threshold), float(pixel_threshold)
        self.num_surface_samples = int(num_surface_samples)
        self.out_dir = out_dir
        self.files_written = 0

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            sample = sample if isinstance(sample, dict) else sample.to_dict()
            pred, gt, meta = sample['pred_instances'], sample['gt_instances'], sample
            x3d, x2d, w2d = (to_numpy(pred[k])[0] for k in ('corr_x3d', 'corr_x2d', 'corr_w2d'))
            used = to_numpy(pred['corr_used'])[0].astype(bool)
            ok = bool(to_numpy(pred['pnp_ok'])[0])
            if self.out_dir is not None:
                write_correspondence_file(self.out_dir, meta['sequence'], meta['frame'], meta['kinect'], x3d, x2d, w2d)
                self.files_written += 1
            self.results.append(dict(
                img_id=meta.get('img_id'), object_name=meta['object_name'],
                R_pred=to_numpy(pred['object_R'])[0].astype(np.float64) if ok else None,
                t_pred=to_numpy(pred['object_t'])[0].astype(np.float64) if ok else None,
                R_gt=to_numpy(gt['object_R'])[0].astype(np.float64),
                t_gt=to_numpy(gt['object_t'])[0].astype(np.float64),
                x3d=x3d[used], x2d=x2d[used], cam_K=np.asarray(meta['cam_K'], np.float64)))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        geometry = ObjectGeometry(ObjectLibrary(**self.object_library), self.num_surface_samples,
                                  symmetries=self.symmetries)
        scored = score_pose_records(results, geometry, self.symmetric_objects, self.add_threshold,
                                    self.pixel_threshold)
        summary = summarise_object_pose(scored)
        text = format_object_pose_table(summary)
        if self.out_dir is not None:
            text += f'\n  correspondences written under {osp.join(self.out_dir, "epro_pnp")}'
        print_log(text, logger='current')
        return summary
