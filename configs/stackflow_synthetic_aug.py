# StackFLOW-AUG on the synthetic world: configs/stackflow_synthetic.py with renders of the training fits from 12
# virtual cameras swapped in for half of the training samples (StackFLOW's aug_ratio = 0.5; docs/fidelity.md row 10).
# The renders are not made on first use: render them once (about 10 min here for the 520 training frames), then train.
#   python tools/render_augmentation.py configs/stackflow_synthetic_aug.py
#   python tools/train.py configs/stackflow_synthetic_aug.py
_base_ = ['./stackflow_synthetic.py']

# ---- The choices (the base's table, plus the renders). -------------------------------------------------------------
# Rendered by tools/render_augmentation.py into <data_root>/<render_dir>: the surrogate body (SCANimate avatars are not
# available) posed by each training frame's fit, 12 views at the world's image size with StackFLOW's fixed intrinsics
# scaled to it, procedural backgrounds (background_dir=None) or a folder of images.
augmentation_renders = dict(render_dir='rendered_images', views=12, image_size=(512, 384), background_dir=None)
augmentation_prob = 0.5

# ---- Built from the choices. --------------------------------------------------------------------------------------
train_dataloader = dict(
    dataset=dict(
        type='BEHAVEFrameAugDataset',
        augmentation=dict(render_dir=augmentation_renders['render_dir'],
                          render_command='python tools/render_augmentation.py configs/stackflow_synthetic_aug.py'),
        augmentation_prob=augmentation_prob))
