"""The synthetic HOI world: BEHAVE-like interactions rendered and written in the real BEHAVE layout.

``generate_synthetic_behave`` (and ``tools/make_synthetic_dataset.py``) write a
dataset that the BEHAVE readers of :mod:`hoirecon.datasets.behave_io` read as is;
see ``docs/synthetic_world.md``. ``generate_synthetic_sequences`` writes continuous 30 fps sequences in the
BEHAVE-extended layout (:mod:`hoirecon.synthetic.behave_extended`, motion in :mod:`hoirecon.synthetic.sequences`),
``generate_synthetic_intercap`` the same kind of motion in the InterCap layout (:mod:`hoirecon.synthetic.intercap`).
"""
from .cameras import BEHAVE_COLOR_INTRINSICS, CameraRig, behave_like_intrinsics, sample_camera_rig
from .generate import SequenceSpec, add_world_arguments, generate_synthetic_behave, plan_sequences
from .scene import ACTIONS, BodyGeometry, HOIState, ObjectGeometry, allowed_actions, interaction_state, plan_motion

__all__ = [
    'ACTIONS', 'BEHAVE_COLOR_INTRINSICS', 'BodyGeometry', 'CameraRig', 'HOIState', 'add_world_arguments',
    'ObjectGeometry', 'SequenceSpec', 'allowed_actions', 'behave_like_intrinsics', 'generate_synthetic_behave',
    'interaction_state', 'plan_motion', 'plan_sequences', 'sample_camera_rig', 'generate_synthetic_sequences',
    'generate_synthetic_intercap'
]


def generate_synthetic_sequences(*args, **kwargs) -> dict:
    """:func:`hoirecon.synthetic.behave_extended.generate_synthetic_sequences` (imported on first use: it loads the
    renderer and the body model, which importing this package does not)."""
    from .behave_extended import generate_synthetic_sequences as generate
    return generate(*args, **kwargs)


def generate_synthetic_intercap(*args, **kwargs) -> dict:
    """:func:`hoirecon.synthetic.intercap.generate_synthetic_intercap` (imported on first use, like
    :func:`generate_synthetic_sequences`)."""
    from .intercap import generate_synthetic_intercap as generate
    return generate(*args, **kwargs)
