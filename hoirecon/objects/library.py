"""All templates of one dataset, procedural (:mod:`hoirecon.assets.procedural_objects`) or read from its files."""
import os.path as osp
from typing import Dict, Iterator, Optional, Tuple

from hoirecon.assets.procedural_objects import procedural_raw_mesh
from .catalogue import NUM_KEYPOINTS, OBJECT_FAMILY, object_index, object_names
from .hints import geometric_keypoints, interaction_hints
from .io import LAYOUT_HELP, find_template_file, keypoint_file_beside, read_keypoint_file, read_mesh
from .template import ObjectTemplate, centred_vertices, keypoints_from_groups


def make_procedural_template(name: str, dataset: str = 'behave') -> ObjectTemplate:
    """Build the licence-free procedural template of a BEHAVE or InterCap object.

    Args:
        name: object name, e.g. 'chairwood' (BEHAVE) or 'skate' (InterCap).
        dataset: 'behave' or 'intercap'.

    Returns:
        An :class:`ObjectTemplate` centred at its vertex mean, with ``source == 'procedural'``.
    """
    index = object_index(name, dataset)
    raw, faces, names, groups = procedural_raw_mesh(name)
    vertices = centred_vertices(raw)
    family = OBJECT_FAMILY[name]
    meta = interaction_hints(vertices, faces, family)
    meta['keypoint_source'] = 'procedural'
    return ObjectTemplate(name=name, index=index, dataset=dataset, vertices=vertices, faces=faces,
                          keypoints=keypoints_from_groups(vertices, groups), keypoint_vertex_ids=groups,
                          keypoint_names=names, family=family, meta=meta, source='procedural')


def load_template(name: str, dataset: str, template_path: str, keypoint_path: Optional[str] = None) -> ObjectTemplate:
    """Read one template file (and optionally its keypoint file).

    The mesh is read with ``process=False`` (vertex order kept) and centred at its vertex mean. Without a keypoint file
    the keypoints are derived from the geometry (:func:`hoirecon.objects.hints.geometric_keypoints`) and
    ``meta['keypoint_source']`` is 'geometric'.

    Args:
        name: object name.
        dataset: 'behave' or 'intercap'.
        template_path: the mesh file.
        keypoint_path: a ``{kp_name: [vertex ids]}`` json file, or None.
    """
    index = object_index(name, dataset)
    raw, faces = read_mesh(template_path)
    vertices = centred_vertices(raw)
    if keypoint_path is None:
        names, groups = geometric_keypoints(vertices, NUM_KEYPOINTS[name])
        keypoint_source = 'geometric'
    else:
        names, groups = read_keypoint_file(keypoint_path, len(vertices))
        keypoint_source = keypoint_path
    family = OBJECT_FAMILY[name]
    meta = interaction_hints(vertices, faces, family)
    meta['keypoint_source'] = keypoint_source
    return ObjectTemplate(name=name, index=index, dataset=dataset, vertices=vertices, faces=faces,
                          keypoints=keypoints_from_groups(vertices, groups), keypoint_vertex_ids=groups,
                          keypoint_names=names, family=family, meta=meta, source=template_path)


class ObjectLibrary:
    """The object templates of BEHAVE (20) or InterCap (10), loaded lazily and cached.

    Args:
        dataset: 'behave' or 'intercap'.
        template_dir: None for the licence-free procedural templates; otherwise the dataset's template folder (BEHAVE
            ``objects/`` with ``<name>/<name>_f1000.ply`` etc., InterCap ``objs/`` with ``01.ply`` .. ``10.ply``).
        keypoint_dir: folder of StackFLOW keypoint files ``<name>_keypoints.json``. When None, a keypoint file next to
            the template is used if present (as written by :func:`write_template_folder`), else keypoints are derived
            from the geometry. Ignored for procedural templates, which carry their own keypoints.

    Example:
        >>> library = ObjectLibrary('behave')
        >>> library['chairwood'].keypoints.shape
        (10, 3)
    """

    def __init__(self, dataset: str = 'behave', template_dir: Optional[str] = None,
                 keypoint_dir: Optional[str] = None):
        self.dataset = dataset
        self._names = object_names(dataset)
        if template_dir is not None and not osp.isdir(template_dir):
            raise FileNotFoundError(f'template folder {template_dir} not found; {LAYOUT_HELP[dataset]}')
        if keypoint_dir is not None and not osp.isdir(keypoint_dir):
            raise FileNotFoundError(f'keypoint folder {keypoint_dir} not found; expected a folder of '
                                    f'<name>_keypoints.json files')
        self.template_dir = template_dir
        self.keypoint_dir = keypoint_dir
        self._cache: Dict[str, ObjectTemplate] = {}

    @property
    def names(self) -> Tuple[str, ...]:
        """Object names in label order."""
        return self._names

    def index(self, name: str) -> int:
        """The label of ``name``."""
        return object_index(name, self.dataset)

    def by_index(self, index: int) -> ObjectTemplate:
        """The template with label ``index``."""
        if not 0 <= index < len(self._names):
            raise IndexError(f'{self.dataset} object label {index} out of range [0, {len(self._names)})')
        return self[self._names[index]]

    def _keypoint_path(self, name: str) -> Optional[str]:
        if self.keypoint_dir is not None:
            return osp.join(self.keypoint_dir, f'{name}_keypoints.json')
        beside = keypoint_file_beside(self.template_dir, name, self.dataset)
        return beside if osp.isfile(beside) else None

    def _load(self, name: str) -> ObjectTemplate:
        if self.template_dir is None:
            return make_procedural_template(name, self.dataset)
        return load_template(name, self.dataset, find_template_file(self.template_dir, name, self.dataset),
                             self._keypoint_path(name))

    def __getitem__(self, name: str) -> ObjectTemplate:
        if name not in self._cache:
            self.index(name)
            self._cache[name] = self._load(name)
        return self._cache[name]

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[ObjectTemplate]:
        return (self[name] for name in self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __repr__(self) -> str:
        source = 'procedural' if self.template_dir is None else self.template_dir
        return f'ObjectLibrary(dataset={self.dataset!r}, {len(self)} objects, templates: {source})'


def evaluator_object_library(evaluators) -> dict:
    """:class:`ObjectLibrary` arguments named by a config's evaluator (one metric config or a list of them).

    The first metric config with an ``object_library`` entry gives them; without one, the procedural BEHAVE
    library (``dict(dataset='behave')``). Tools that draw or pose objects of a config use it.
    """
    metrics = evaluators if isinstance(evaluators, (list, tuple)) else [evaluators or {}]
    return dict(next((m['object_library'] for m in metrics if m.get('object_library')), dict(dataset='behave')))
