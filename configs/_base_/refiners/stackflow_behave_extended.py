# StackFLOW's post-optimisation with its BEHAVE-extended (30 fps sequences) settings: 2 stages x 200 steps at lr 5e-2
# (the official `optim_lr: 5e-2`), BEHAVE weights. StackFLOW's sequence smoothing terms are not part of
# StackFLOWRefiner (docs/refiners.md).
_base_ = ['./stackflow_behave.py']

refiner = dict(steps_per_stage=200, lr=5e-2)
