# StackFLOW's sequence smoothing on InterCap (method.md §6): the per-frame terms and weights of the InterCap
# post-optimisation (stackflow_intercap.py: keypoints weighted 1, 1920 px reference width) plus temporal smoothness
# (weight 100, annealed with the stage factor), one betas per window, windows of 128 frames every 64; 2 x 200 steps
# at lr 5e-3 from the per-frame post-optimised reconstruction. See docs/refiners.md, "Sequence smoothing".
_base_ = ['./stackflow_intercap.py']

# The sequence settings only: the per-frame settings (weights, pixel scale, optimised variables, ...) are those of the
# config's `refiner` (apis.sequence_refiner_config merges them), so a top-level config that changes its per-frame
# refiner changes the smoothing's frame terms too. object_init=None: start from the per-frame result, no second PnP.
sequence_refiner = dict(
    type='SequenceSmoothingRefiner',
    num_stages=2,
    steps_per_stage=200,
    lr=5e-3,
    window=128,
    stride=64,
    smooth_weight=100.0,
    anneal_smoothness=True,
    object_init=None,
)
