# The StackFLOW of configs/stackflow_intercap.py set up to run an OFFICIAL StackFLOW InterCap checkpoint converted by
# tools/model_converters/stackflow_to_hoirecon.py (docs/fidelity.md, "Official checkpoints"): the official input
# normalisation (no division by 255), the pose flow in pytorch3d's 6D layout (the head converts at its boundary) and
# the PCA from the converted file (or, without it, from the checkpoint's buffers); the same lines as
# configs/stackflow_behave_official.py on top of InterCap's paper config.
#   python tools/model_converters/stackflow_to_hoirecon.py CHECKPOINT.pth \
#       work_dirs/stackflow_intercap_official/converted.pth --pca data/datasets/intercap_pca_models_n32_64_d32.pkl \
#       --dataset intercap --template-dir data/intercap/objs \
#       --pca-out PCA_DIR/relation_pca_n32_64_d32.npz      # PCA_DIR: pca_dir below
#   python tools/test.py configs/stackflow_intercap_official.py \
#       work_dirs/stackflow_intercap_official/converted.pth --refine
_base_ = ['./stackflow_intercap.py']

# ---- The choices. ---------------------------------------------------------------------------------------------------
# the converted official PCA, in its own folder so that it never overwrites a PCA fitted by hoirecon
pca_dir = f'{_base_.data_root}/official'
pca_file = f'{pca_dir}/relation_pca_n{_base_.smpl_anchor_num}_{_base_.object_anchor_num}_d{_base_.pca_dim}.npz'

# ---- Built from the choices. --------------------------------------------------------------------------------------
model = dict(
    # StackFLOW feeds (pixel_0_255 - ImageNet mean in [0, 1]) / std in [0, 1] (data_formats: "does not divide by 255")
    data_preprocessor=dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    backbone=dict(init_cfg=None),  # every weight comes from the converted checkpoint
    head=dict(rot6d_convention='pytorch3d'),
    # a missing PCA file is taken from the checkpoint's buffers (the converter writes them)
    relation_encoder=dict(pca_file=pca_file, missing_file='checkpoint'))
