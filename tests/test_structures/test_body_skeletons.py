"""Counts of the SMPL-family skeletons are defined once (skeletons.py) and used everywhere else."""
from hoirecon.datasets import annotations, behave_io
from hoirecon.models.body_models import skeletons, surrogate


def test_counts_agree_with_the_joint_tables():
    assert skeletons.NUM_BODY_JOINTS == len(skeletons.BODY_JOINT_NAMES) == len(skeletons.BODY_PARENTS) == 22
    assert skeletons.NUM_BODY_JOINTS == 1 + skeletons.NUM_BODY_POSE_JOINTS['smplh']
    assert skeletons.NUM_SKELETON_JOINTS['smplh'] == len(skeletons.SMPLH_JOINT_NAMES)
    assert skeletons.NUM_SKELETON_JOINTS['smpl'] == len(skeletons.SMPL_JOINT_NAMES)
    assert skeletons.NUM_BETAS == 10


def test_the_datasets_and_the_surrogate_use_the_one_definition():
    assert annotations.NUM_BODY_JOINTS == skeletons.NUM_BODY_JOINTS
    assert behave_io.NUM_BETAS == surrogate.NUM_BETAS == skeletons.NUM_BETAS
    assert annotations.ANNOTATION_FIELDS['joints_3d'][0] == (skeletons.NUM_BODY_JOINTS, 3)
    for module in (annotations, behave_io, surrogate):
        source = open(module.__file__).read()
        assert 'NUM_BODY_JOINTS =' not in source and 'NUM_BETAS =' not in source, module.__name__
