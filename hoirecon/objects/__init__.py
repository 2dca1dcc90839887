"""The object library: BEHAVE's 20 and InterCap's 10 object templates, real or licence-free procedural ones.

The procedural meshes are made by :mod:`hoirecon.assets.procedural_objects`; this package names, labels and reads them.

See ``docs/objects.md`` for the catalogue, the file layouts and the keypoint format.
"""
from .catalogue import BEHAVE_OBJECTS, INTERCAP_OBJECTS, NUM_KEYPOINTS, OBJECT_FAMILY
from .io import read_keypoint_file, write_keypoint_file, write_template_folder
from .library import ObjectLibrary, evaluator_object_library, load_template, make_procedural_template
from .template import ObjectTemplate

__all__ = [
    'BEHAVE_OBJECTS', 'INTERCAP_OBJECTS', 'NUM_KEYPOINTS', 'OBJECT_FAMILY', 'ObjectLibrary', 'ObjectTemplate',
    'evaluator_object_library', 'load_template', 'make_procedural_template', 'read_keypoint_file',
    'write_keypoint_file', 'write_template_folder'
]
