"""Licence-free stand-ins for the data assets that hoirecon cannot ship: procedural object meshes (and their
primitives).

Generators only: they depend on numpy / scipy / trimesh and :mod:`hoirecon.utils`, never on the method's packages.
The readers call them: :class:`hoirecon.objects.ObjectLibrary` falls back on :mod:`.procedural_objects` when it has no
template folder. See ``docs/layout.md``.
"""
from .procedural_objects import PROCEDURAL_OBJECTS, procedural_raw_mesh

__all__ = ['PROCEDURAL_OBJECTS', 'procedural_raw_mesh']
