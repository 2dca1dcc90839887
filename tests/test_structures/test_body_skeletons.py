"""Counts of the SMPL-family skeletons are defined once (structures/body_skeletons.py) and used everywhere else."""
from hoirecon.assets import surrogate_body
from hoirecon.datasets import annotations, behave_io
from hoirecon.structures import body_skeletons as skeletons


def test_counts_agree_with_the_joint_tables():
    assert skeletons.NUM_BODY_JOINTS == len(skeletons.BODY_JOINT_NAMES) == len(skeletons.BODY_PARENTS) == 22
    assert skeletons.NUM_BODY_JOINTS == 1 + skeletons.NUM_BODY_POSE_JOINTS['smplh']
    assert skeletons.NUM_SKELETON_JOINTS['smplh'] == len(skeletons.SMPLH_JOINT_NAMES)
    assert skeletons.NUM_SKELETON_JOINTS['smpl'] == len(skeletons.SMPL_JOINT_NAMES)
    assert skeletons.NUM_BETAS == 10


def test_the_datasets_and_the_surrogate_use_the_one_definition():
    assert annotations.NUM_BODY_JOINTS == skeletons.NUM_BODY_JOINTS
    assert behave_io.NUM_BETAS == surrogate_body.NUM_BETAS == skeletons.NUM_BETAS
    assert annotations.ANNOTATION_FIELDS['joints_3d'][0] == (skeletons.NUM_BODY_JOINTS, 3)
    for module in (annotations, behave_io, surrogate_body):
        source = open(module.__file__).read()
        assert 'NUM_BODY_JOINTS =' not in source and 'NUM_BETAS =' not in source, module.__name__


def test_smplx_vertex_ids_fit_the_output_joint_counts():
    smplh_ids = skeletons.smplx_vertex_ids('smplh')
    assert skeletons.smplx_vertex_ids('smpl') == smplh_ids and smplh_ids['nose'] == 332
    # smplx appends these landmark vertices as extra joints: 5 on the face, 6 on the feet, 10 fingertips
    assert len(smplh_ids) == 21 == skeletons.NUM_OUTPUT_JOINTS['smplh'] - skeletons.NUM_SKELETON_JOINTS['smplh']
    assert skeletons.NUM_OUTPUT_JOINTS['smpl'] - skeletons.NUM_SKELETON_JOINTS['smpl'] == 21
