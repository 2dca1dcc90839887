"""Licence-free stand-ins for the data assets that hoirecon cannot ship: procedural object meshes (and their
primitives) and the SURROGATE SMPL / SMPL-H body model files.

Generators only: they depend on numpy / scipy / trimesh, :mod:`hoirecon.utils` and the SMPL-family facts of
:mod:`hoirecon.structures`, never on the method's packages. The readers call them:
:class:`hoirecon.objects.ObjectLibrary` falls back on :mod:`.procedural_objects` when it has no template folder, and
the body models (``SMPL('surrogate')``) build :mod:`.surrogate_body` into the cache. See ``docs/layout.md``.
"""
from .procedural_objects import PROCEDURAL_OBJECTS, procedural_raw_mesh
from .surrogate_body import SURROGATE_VERSION, build_surrogate_struct, ensure_surrogate_body, write_surrogate_body

__all__ = [
    'PROCEDURAL_OBJECTS', 'procedural_raw_mesh', 'SURROGATE_VERSION', 'build_surrogate_struct', 'ensure_surrogate_body',
    'write_surrogate_body'
]
