"""The object categories of BEHAVE and InterCap: names, label order, families and keypoint counts.

Indices follow StackFLOW: BEHAVE's 20 objects in alphabetical order (``OBJECT_NAME2IDX``), InterCap's 10 objects in the
order of their template files ``objs/01.ply`` .. ``objs/10.ply``.
"""
from typing import Dict, Tuple

#: BEHAVE's 20 objects; the position is the object label.
BEHAVE_OBJECTS = ('backpack', 'basketball', 'boxlarge', 'boxlong', 'boxmedium', 'boxsmall', 'boxtiny', 'chairblack',
                  'chairwood', 'keyboard', 'monitor', 'plasticcontainer', 'stool', 'suitcase', 'tablesmall',
                  'tablesquare', 'toolbox', 'trashbin', 'yogaball', 'yogamat')

#: InterCap's 10 objects; the position is the object label and ``f'{label + 1:02d}'`` the template file id.
INTERCAP_OBJECTS = ('suitcase1', 'skate', 'sports', 'umbrella', 'tennis', 'suitcase2', 'chair1', 'bottle', 'cup',
                    'chair2')

DATASET_OBJECTS: Dict[str, Tuple[str, ...]] = {'behave': BEHAVE_OBJECTS, 'intercap': INTERCAP_OBJECTS}

#: Suffix of each BEHAVE registration template, ``objects/<name>/<name><suffix>.ply`` (the others use ``_f1000``).
BEHAVE_TEMPLATE_SUFFIX = {'chairblack': '_f2500', 'chairwood': '_f2500', 'monitor': '_closed_f1000',
                          'tablesquare': '_f2000'}

#: Suffixes tried, in this order, when looking for a BEHAVE template (as StackFLOW does).
BEHAVE_SUFFIX_ORDER = ('_f1000', '_f2000', '_f2500', '_closed_f1000')

#: Maximum number of keypoints of an object (StackFLOW pads keypoint arrays to this length).
MAX_KEYPOINTS = 16

#: Keypoints per object in the StackFLOW keypoint files.
NUM_KEYPOINTS = {
    'backpack': 8, 'basketball': 1, 'boxlarge': 8, 'boxlong': 8, 'boxmedium': 8, 'boxsmall': 8, 'boxtiny': 8,
    'chairblack': 16, 'chairwood': 10, 'keyboard': 4, 'monitor': 8, 'plasticcontainer': 8, 'stool': 6, 'suitcase': 8,
    'tablesmall': 10, 'tablesquare': 8, 'toolbox': 8, 'trashbin': 2, 'yogaball': 1, 'yogamat': 2,
    'suitcase1': 12, 'skate': 11, 'sports': 1, 'umbrella': 12, 'tennis': 7, 'suitcase2': 12, 'chair1': 16,
    'bottle': 2, 'cup': 2, 'chair2': 10,
}

#: Shape family of each object.
OBJECT_FAMILY = {
    'backpack': 'backpack', 'basketball': 'ball', 'boxlarge': 'box', 'boxlong': 'box', 'boxmedium': 'box',
    'boxsmall': 'box', 'boxtiny': 'box', 'chairblack': 'chair', 'chairwood': 'chair', 'keyboard': 'keyboard',
    'monitor': 'monitor', 'plasticcontainer': 'container', 'stool': 'stool', 'suitcase': 'suitcase',
    'tablesmall': 'table', 'tablesquare': 'table', 'toolbox': 'toolbox', 'trashbin': 'bin', 'yogaball': 'ball',
    'yogamat': 'mat',
    'suitcase1': 'suitcase', 'skate': 'skateboard', 'sports': 'ball', 'umbrella': 'umbrella', 'tennis': 'racket',
    'suitcase2': 'suitcase', 'chair1': 'chair', 'bottle': 'bottle', 'cup': 'cup', 'chair2': 'chair',
}

#: Per family: where hands go (see :func:`hoirecon.objects.hints.grasp_points`) and what a person does with it.
FAMILY_HINTS = {
    'backpack': ('top', ('lift', 'carry', 'hold')),
    'ball': ('sides', ('hold', 'carry', 'throw')),
    'bin': ('sides', ('lift', 'carry', 'push')),
    'bottle': ('side', ('hold', 'lift', 'drink')),
    'box': ('sides', ('lift', 'carry', 'push', 'sit')),
    'chair': ('top_ends', ('sit', 'lift', 'push', 'lean')),
    'container': ('sides', ('lift', 'carry', 'push')),
    'cup': ('side', ('hold', 'lift', 'drink')),
    'keyboard': ('sides', ('hold', 'lift', 'type')),
    'mat': ('sides', ('lift', 'carry', 'hold')),
    'monitor': ('sides', ('lift', 'carry', 'move')),
    'racket': ('bottom', ('hold', 'swing')),
    'skateboard': ('sides', ('hold', 'carry', 'stand')),
    'stool': ('sides', ('sit', 'lift', 'carry', 'push')),
    'suitcase': ('top', ('lift', 'carry', 'pull', 'push')),
    'table': ('top_ends', ('lift', 'push', 'lean')),
    'toolbox': ('top', ('lift', 'carry')),
    'umbrella': ('bottom', ('hold', 'carry')),
}

#: Families a person sits on; their templates get a ``seat_height`` hint.
SEAT_FAMILIES = ('chair', 'stool')


def object_names(dataset: str) -> Tuple[str, ...]:
    """The object names of ``dataset`` ('behave' or 'intercap') in label order."""
    if dataset not in DATASET_OBJECTS:
        raise ValueError(f'unknown dataset {dataset!r}; use one of {sorted(DATASET_OBJECTS)}')
    return DATASET_OBJECTS[dataset]


def object_index(name: str, dataset: str) -> int:
    """The label of object ``name`` in ``dataset``; ``KeyError`` listing the valid names otherwise."""
    names = object_names(dataset)
    if name not in names:
        raise KeyError(f'{name!r} is not a {dataset} object; valid names: {", ".join(names)}')
    return names.index(name)
