"""The object template: a centred mesh with keypoints, anchors and interaction hints."""
from dataclasses import dataclass, field
from typing import Dict, List, Sequence

import numpy as np
import trimesh

from .catalogue import MAX_KEYPOINTS
from .hints import farthest_point_sampling


def centred_vertices(vertices: np.ndarray) -> np.ndarray:
    """(V, 3) float64 vertices minus their mean, as BEHAVE and StackFLOW centre a template."""
    vertices = np.asarray(vertices, dtype=np.float64)
    return vertices - vertices.mean(axis=0)


def keypoints_from_groups(vertices: np.ndarray, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """(K, 3) float64 keypoints, each the mean of its group of vertex ids."""
    return np.stack([vertices[np.asarray(group, dtype=np.int64)].mean(axis=0) for group in groups])


@dataclass
class ObjectTemplate:
    """One object's template mesh in its canonical frame.

    Attributes:
        name: object name, e.g. 'chairwood'.
        index: the object's label in its dataset (position in ``BEHAVE_OBJECTS`` / ``INTERCAP_OBJECTS``).
        dataset: 'behave' or 'intercap'.
        vertices: (V, 3) float64 [m], centred at the vertex mean, in the file's vertex order.
        faces: (F, 3) int64 vertex ids.
        keypoints: (K, 3) float64 [m], K <= 16; keypoint k is the mean of ``vertices[keypoint_vertex_ids[k]]``.
        keypoint_vertex_ids: K groups of vertex ids (the values of a StackFLOW ``{kp_name: [ids]}`` file, in order).
        keypoint_names: K names.
        family: shape family, e.g. 'box', 'chair', 'ball' (see ``hoirecon.objects.catalogue.OBJECT_FAMILY``).
        meta: interaction hints (see :func:`hoirecon.objects.hints.interaction_hints`) and ``keypoint_source``
            ('procedural', 'geometric' or the keypoint file).
        source: 'procedural' or the template file it was read from.
    """
    name: str
    index: int
    dataset: str
    vertices: np.ndarray
    faces: np.ndarray
    keypoints: np.ndarray
    keypoint_vertex_ids: List[List[int]]
    keypoint_names: List[str]
    family: str
    meta: Dict[str, object] = field(default_factory=dict)
    source: str = 'procedural'

    def __post_init__(self):
        self.vertices = np.asarray(self.vertices, dtype=np.float64)
        self.faces = np.asarray(self.faces, dtype=np.int64)
        self.keypoints = np.asarray(self.keypoints, dtype=np.float64)
        where = f'template {self.name!r} ({self.source})'
        if self.vertices.ndim != 2 or self.vertices.shape[1] != 3 or not np.isfinite(self.vertices).all():
            raise ValueError(f'{where}: vertices must be finite (V, 3), got shape {self.vertices.shape}')
        if self.faces.ndim != 2 or self.faces.shape[1] != 3 or len(self.faces) == 0:
            raise ValueError(f'{where}: faces must be (F >= 1, 3), got shape {self.faces.shape}')
        if self.faces.min() < 0 or self.faces.max() >= len(self.vertices):
            raise ValueError(f'{where}: face ids must lie in [0, {len(self.vertices)})')
        num = len(self.keypoint_names)
        if not 1 <= num <= MAX_KEYPOINTS or len(self.keypoint_vertex_ids) != num or self.keypoints.shape != (num, 3):
            raise ValueError(f'{where}: need 1..{MAX_KEYPOINTS} keypoints with one name, one vertex-id group and one '
                             f'(3,) position each; got {num} names, {len(self.keypoint_vertex_ids)} groups, '
                             f'keypoints of shape {self.keypoints.shape}')
        for name, group in zip(self.keypoint_names, self.keypoint_vertex_ids):
            if len(group) == 0 or min(group) < 0 or max(group) >= len(self.vertices):
                raise ValueError(f'{where}: keypoint {name!r} needs a non-empty group of vertex ids in '
                                 f'[0, {len(self.vertices)}), got {list(group)[:8]}')

    def anchor_indices(self, num: int = 64, radius: float = 0.02, seed: int = 7) -> np.ndarray:
        """Vertex ids spread evenly over the surface, as StackFLOW picks its object anchors.

        ``trimesh.sample.sample_surface_even`` draws up to ``num`` surface points at least ``radius`` apart (seeded);
        each contributes the first vertex of its face. Repeated vertices are dropped and, if fewer than ``num`` remain,
        the set is completed by farthest-point sampling over the vertices.

        Args:
            num: number of anchors (<= number of vertices).
            radius: minimum distance between the sampled surface points [m] (StackFLOW: 0.02 BEHAVE, 0.01 InterCap).
            seed: random seed; the result is deterministic for a seed.

        Returns:
            (num,) int64 distinct vertex ids.
        """
        if not 0 < num <= len(self.vertices):
            raise ValueError(f'template {self.name!r} has {len(self.vertices)} vertices; cannot pick {num} anchors')
        _, face_ids = trimesh.sample.sample_surface_even(self.to_trimesh(), num, radius=radius, seed=seed)
        first_vertices = self.faces[face_ids, 0]
        _, first_seen = np.unique(first_vertices, return_index=True)
        picked = first_vertices[np.sort(first_seen)]
        if len(picked) < num:
            picked = farthest_point_sampling(self.vertices, num, selected=picked)
        return picked[:num].astype(np.int64)

    def posed(self, rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
        """Template vertices moved by ``R @ v + t``.

        Args:
            rotation: (3, 3) rotation matrix R.
            translation: (3,) translation t [m].

        Returns:
            (V, 3) float64 posed vertices [m].
        """
        rotation = np.asarray(rotation, dtype=np.float64)
        translation = np.asarray(translation, dtype=np.float64)
        if rotation.shape != (3, 3) or translation.shape != (3, ):
            raise ValueError(f'posed() needs R (3, 3) and t (3,), got {rotation.shape} and {translation.shape}')
        return self.vertices @ rotation.T + translation

    def to_trimesh(self) -> trimesh.Trimesh:
        """The template as a ``trimesh.Trimesh`` (``process=False``: vertex order kept)."""
        return trimesh.Trimesh(vertices=self.vertices, faces=self.faces, process=False)
