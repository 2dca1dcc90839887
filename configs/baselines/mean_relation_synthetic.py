# Baseline: StackFLOW's body, but the object placed by a constant relation: each object's mean training offsets
# (OffsetPCA latent 0). Test-only: evaluate a StackFLOW checkpoint with it,
#   python tools/test.py configs/baselines/mean_relation_synthetic.py work_dirs/stackflow_synthetic/epoch_12.pth
_base_ = ['../stackflow_synthetic.py']

model = dict(test_relation='mean')
