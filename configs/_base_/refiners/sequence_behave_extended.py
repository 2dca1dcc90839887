# StackFLOW's sequence smoothing on BEHAVE-extended (30 fps videos, method.md §6): the per-frame terms and weights of
# the BEHAVE-extended post-optimisation (stackflow_behave_extended.py) plus temporal smoothness of the body pose, the
# HOI rotation / translation and the object's camera pose (weight 100, annealed with the stage factor), one betas
# per window, windows of 128 frames every 64 (each frame from the window where it is most central); 2 x 100 steps at
# lr 2e-3: it starts from the per-frame post-optimised reconstruction of one camera of one sequence. See
# docs/refiners.md, "Sequence smoothing".
_base_ = ['./stackflow_behave_extended.py']

# The sequence settings only: the per-frame settings (weights, pixel scale, optimised variables, ...) are those of the
# config's `refiner` (apis.sequence_refiner_config merges them), so a top-level config that changes its per-frame
# refiner changes the smoothing's frame terms too. object_init=None: start from the per-frame result, no second PnP.
sequence_refiner = dict(
    type='SequenceSmoothingRefiner',
    num_stages=2,
    steps_per_stage=100,
    lr=2e-3,
    window=128,
    stride=64,
    smooth_weight=100.0,
    anneal_smoothness=True,
    object_init=None,
)
