# StackFLOW's sequence smoothing on InterCap (method.md §6): the per-frame terms and weights of the InterCap
# post-optimisation (stackflow_intercap.py: keypoints weighted 1, 1920 px reference width) plus temporal smoothness
# (weight 100, annealed with the stage factor), one betas per window, windows of 128 frames every 64; 2 x 200 steps
# at lr 5e-3 from the per-frame post-optimised reconstruction. See docs/refiners.md, "Sequence smoothing".
_base_ = ['./stackflow_intercap.py']

refiner = dict(
    type='SequenceSmoothingRefiner',
    num_stages=2,
    steps_per_stage=200,
    lr=5e-3,
    window=128,
    stride=64,
    smooth_weight=100.0,
    anneal_smoothness=True,
)
