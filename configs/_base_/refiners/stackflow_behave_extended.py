# StackFLOW's post-optimisation with its BEHAVE-extended (30 fps sequences) settings: 2 stages x 200 steps, BEHAVE
# weights. StackFLOW's sequence smoothing terms are not part of StackFLOWRefiner (docs/refiners.md).
_base_ = ['./stackflow_behave.py']

refiner = dict(steps_per_stage=200)
