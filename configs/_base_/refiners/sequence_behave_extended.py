# StackFLOW's sequence smoothing on BEHAVE-extended (30 fps videos, method.md §6): the per-frame terms and weights of
# the BEHAVE-extended post-optimisation (stackflow_behave_extended.py) plus temporal smoothness of the body pose, the
# HOI rotation / translation and the object's camera pose (weight 100, annealed with the stage factor), one betas
# per window, windows of 128 frames every 64 (each frame from the window where it is most central); 2 x 100 steps at
# lr 2e-3: it starts from the per-frame post-optimised reconstruction of one camera of one sequence. See
# docs/refiners.md, "Sequence smoothing".
_base_ = ['./stackflow_behave_extended.py']

refiner = dict(
    type='SequenceSmoothingRefiner',
    num_stages=2,
    steps_per_stage=100,
    lr=2e-3,
    window=128,
    stride=64,
    smooth_weight=100.0,
    anneal_smoothness=True,
)
