# StackFLOW on the real BEHAVE release with the paper's settings: SMPL-H male, ResNet-50 at 256 px, offsets of
# 22 x 32 human anchors and 64 object anchors compressed to 32 dims, two stacked flows, AdamW 1e-4, 200 epochs.
# Needs data/behave (docs/datasets.md) and data/body_models/smplh/SMPLH_MALE.pkl (docs/body_models.md).
#   python tools/train.py configs/stackflow_behave.py
#   python tools/test.py  configs/stackflow_behave.py work_dirs/stackflow_behave/epoch_200.pth [--refine]
_base_ = [
    './_base_/default_runtime.py',
    './_base_/models/stackflow.py',
    './_base_/datasets/behave.py',
    './_base_/schedules/stackflow_behave.py',
    './_base_/refiners/stackflow_behave.py',
]

model = dict(relation_encoder=dict(pca_file='data/behave/relation_pca_n32_64_d32.npz'))
