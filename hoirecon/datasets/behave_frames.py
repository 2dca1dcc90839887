"""BEHAVE single-frame images as an mmengine dataset (real data, or the synthetic twin generated on first use)."""
import json
import os.path as osp
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmengine.registry import DefaultScope

from hoirecon.objects import BEHAVE_OBJECTS
from hoirecon.registry import DATASETS
from hoirecon.utils.file_lock import file_lock
from .annotations import (ANNOTATION_FIELDS, DEFAULT_BODY_MODEL, annotation_files, build_annotations,
                          load_annotations)

SYNTHETIC_MANIFEST = 'synthetic_manifest.json'
#: Path fields of the cache, made absolute in the data infos ('' stays '' for missing optional files).
PATH_FIELDS = ('img_path', 'person_mask_path', 'object_mask_path', 'object_full_mask_path', 'keypoints_path',
               'corr_path')
LAYOUT_HELP = ('Expected the BEHAVE layout: <data_root>/{calibs/, objects/, sequences/<Date0d_Sub0s_obj[_act]>/'
               't0003.000/..., split.json} (docs/datasets.md "Real BEHAVE"). To try hoirecon without BEHAVE, pass '
               "synthetic=dict(num_sequences=..., frames_per_sequence=..., seed=0, image_size=(512, 384)) to "
               'generate the synthetic twin there, or run hoirecon.synthetic.generate_synthetic_behave(data_root).')


def _synthetic_complete(data_root: str) -> bool:
    path = osp.join(data_root, SYNTHETIC_MANIFEST)
    if not osp.isfile(path):
        return False
    with open(path) as f:
        return bool(json.load(f).get('complete'))


def ensure_data_root(data_root: str, synthetic: Optional[dict] = None) -> str:
    """Return the absolute ``data_root``, generating the synthetic dataset there first when asked.

    The synthetic world is generated (or an interrupted generation resumed) when ``synthetic`` is given and
    ``data_root`` does not exist or holds an incomplete synthetic dataset; a file lock next to the folder stops
    concurrent ranks / workers from generating it twice.

    Args:
        data_root: Dataset root.
        synthetic: keyword arguments of :func:`hoirecon.synthetic.generate_synthetic_behave` (``num_sequences``,
            ``frames_per_sequence``, ``seed``, ``image_size``, ...), or None.

    Raises:
        FileNotFoundError: ``data_root`` does not exist and ``synthetic`` is None.
    """
    data_root = osp.abspath(data_root)
    if synthetic is None:
        if not osp.isdir(data_root):
            raise FileNotFoundError(f'BEHAVE data root {data_root} does not exist. {LAYOUT_HELP}')
        return data_root
    with file_lock(data_root + '.lock'):
        partial = osp.isfile(osp.join(data_root, SYNTHETIC_MANIFEST)) and not _synthetic_complete(data_root)
        if not osp.isdir(data_root) or partial:
            from hoirecon.synthetic.generate import generate_synthetic_behave
            print_log(f'{data_root} {"holds an incomplete synthetic dataset" if partial else "does not exist"}: '
                      f'generating the synthetic BEHAVE twin there with {dict(synthetic)}.', logger='current')
            generate_synthetic_behave(data_root, **synthetic)
    return data_root


@DATASETS.register_module()
class BEHAVEFrameDataset(BaseDataset):
    """Single images of BEHAVE (one per frame and kinect) with StackFLOW's training targets.

    The per-image targets come from the annotation cache ``<annotation_dir>/behave_<split>.npz``
    (:mod:`hoirecon.datasets.annotations`), built on first use under a file lock. Each data info holds absolute
    paths and the arrays of :data:`~hoirecon.datasets.annotations.ANNOTATION_FIELDS` (camera frame, metres;
    ``betas``/``transl`` of the gendered fit and ``betas_male``/``transl_male`` of the male training model).

    Args:
        data_root: BEHAVE root (see ``docs/datasets.md``).
        split: 'train' or 'test' (from ``split.json``).
        kinects: Cameras to use.
        body_model: ``BODY_MODELS`` config of the male SMPL-H the targets are made for.
        min_visibility: Drop images whose object visibility ratio is below this.
        synthetic: If given and ``data_root`` does not exist, generate the synthetic dataset there with these
            :func:`~hoirecon.synthetic.generate_synthetic_behave` arguments.
        pipeline: Transforms (see :mod:`hoirecon.datasets.transforms`).
        test_mode: mmengine's test mode (no re-fetching of failed items).
        annotation_dir: Cache folder (default ``<data_root>/annotations``).
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments (``indices``, ``serialize_data``,
            ``lazy_init``, ``max_refetch``, ``metainfo``).

    Example:
        >>> dataset = BEHAVEFrameDataset('data/behave_synthetic', split='train',
        ...                              synthetic=dict(num_sequences=4, frames_per_sequence=2, seed=0))
        >>> dataset[0]['hoi_box']  # (4,) xyxy pixels
    """

    METAINFO = dict(dataset_name='behave', classes=BEHAVE_OBJECTS)

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 kinects: Sequence[int] = (0, 1, 2, 3),
                 body_model: dict = DEFAULT_BODY_MODEL,
                 min_visibility: float = 0.0,
                 synthetic: Optional[dict] = None,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 annotation_dir: Optional[str] = None,
                 **kwargs):
        data_root = ensure_data_root(data_root, synthetic)
        self.split = split
        self.kinects = tuple(sorted(int(k) for k in kinects))
        self.body_model = dict(body_model)
        self.min_visibility = float(min_visibility)
        self.annotation_dir = osp.abspath(annotation_dir or osp.join(data_root, 'annotations'))
        ann_file = annotation_files(self.annotation_dir, split)[0]
        # outside a runner (no default scope) the pipeline's type names resolve in hoirecon's registries
        scope = None if DefaultScope.get_current_instance() is not None else 'hoirecon'
        with DefaultScope.overwrite_default_scope(scope):
            super().__init__(ann_file=ann_file, data_root=data_root, pipeline=pipeline, test_mode=test_mode,
                             **kwargs)

    def _load_cache(self):
        """Read the cache, building it first (once, under a file lock) when it is missing."""
        npz_path, _ = annotation_files(self.annotation_dir, self.split)
        with file_lock(npz_path[:-len('.npz')] + '.lock'):
            if not osp.isfile(npz_path):
                print_log(f'{npz_path} not found: building the BEHAVE {self.split} annotation cache (once).',
                          logger='current')
                build_annotations(self.data_root, self.split, self.kinects, self.body_model, self.annotation_dir)
        arrays, params = load_annotations(self.annotation_dir, self.split)
        problems = []
        if dict(params['body_model']) != self.body_model:
            problems.append(f'body_model {params["body_model"]} != {self.body_model}')
        if not set(self.kinects) <= set(params['kinects']):
            problems.append(f'kinects {params["kinects"]} do not include {list(self.kinects)}')
        if problems:
            raise ValueError(f'{npz_path} was built with other settings ({"; ".join(problems)}). Rebuild it with '
                             f'`python tools/dataset_converters/behave.py --data-root {self.data_root} --split '
                             f'{self.split} --kinects {" ".join(map(str, self.kinects))}` or pass another '
                             'annotation_dir.')
        return arrays, params

    def load_data_list(self) -> List[dict]:
        """One dict per image of the wanted kinects: absolute paths plus the cache's arrays."""
        arrays, params = self._load_cache()
        self._metainfo.update(surrogate_body=bool(params['surrogate']), synthetic=bool(params.get('synthetic')),
                              split=self.split)
        keep = np.flatnonzero(np.isin(arrays['kinect'], self.kinects))
        data_list = []
        for i in keep:
            info = {}
            for name, (shape, _) in ANNOTATION_FIELDS.items():
                value = arrays[name][i]
                info[name] = value.item() if not shape else value
            for name in PATH_FIELDS:
                info[name] = osp.join(self.data_root, info[name]) if info[name] else ''
            data_list.append(info)
        return data_list

    def filter_data(self) -> List[dict]:
        """Drop images without a person or object box, and those below ``min_visibility``."""
        kept = [info for info in self.data_list
                if info['hoi_box'][2] > info['hoi_box'][0] and info['hoi_box'][3] > info['hoi_box'][1]]
        empty = len(self.data_list) - len(kept)
        kept_visible = [info for info in kept if info['visibility'] >= self.min_visibility]
        print_log(f'BEHAVEFrameDataset {self.split}: {len(kept_visible)} images (dropped {empty} without a person or '
                  f'object in view and {len(kept) - len(kept_visible)} with visibility < {self.min_visibility}).',
                  logger='current')
        return kept_visible
