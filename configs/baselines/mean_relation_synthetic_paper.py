# Baseline: the body of the paper-settings StackFLOW (configs/stackflow_synthetic_paper.py), the object placed by each
# object's mean training offsets (OffsetPCA latent 0). Test-only:
#   python tools/test.py configs/baselines/mean_relation_synthetic_paper.py \
#       work_dirs/stackflow_synthetic_paper/epoch_12.pth
_base_ = ['../stackflow_synthetic_paper.py']

model = dict(test_relation='mean')
