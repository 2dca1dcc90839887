# StackFLOW's post-optimisation with its InterCap settings (method.md §6): 2 stages x 300 steps at lr 5e-2 (the official
# `optim_lr: 5e-2`), person keypoints weighted 1 instead of 0.1 (InterCap's 1920 x 1080 images: pixel_scale 1 keeps
# the paper's pixel weights).
_base_ = ['./stackflow_behave.py']

refiner = dict(steps_per_stage=300, lr=5e-2, loss_weights=dict(person_keypoints=1.0), reference_width=1920)
