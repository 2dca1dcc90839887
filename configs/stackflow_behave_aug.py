# StackFLOW-AUG (the paper's best row, 4.43 / 8.30 cm with vis > 0.3): configs/stackflow_behave.py with renders of the
# training fits from 12 virtual cameras around the person swapped in for a training sample with probability 0.5
# (StackFLOW's aug_ratio). The official renders pose 8 SCANimate clothed avatars, which are not available: these pose
# the SMPL-H male (docs/fidelity.md row 10, docs/datasets.md "Augmentation renders (StackFLOW-AUG)").
#   python tools/render_augmentation.py configs/stackflow_behave_aug.py      # into data/behave/rendered_images
#   python tools/train.py configs/stackflow_behave_aug.py
_base_ = ['./stackflow_behave.py']

# ---- The choices (the base's table, plus the renders). -------------------------------------------------------------
# StackFLOW's layout and fixed intrinsics at 2048 x 1536, 12 views; backgrounds: the VOC images of background_dir
# (procedural walls when it is None).
augmentation_renders = dict(render_dir='rendered_images', views=12, image_size=(2048, 1536),
                            background_dir=_base_.background_dir)
augmentation_prob = 0.5

# ---- Built from the choices. --------------------------------------------------------------------------------------
train_dataloader = dict(
    dataset=dict(
        type='BEHAVEFrameAugDataset',
        augmentation=dict(render_dir=augmentation_renders['render_dir'],
                          render_command='python tools/render_augmentation.py configs/stackflow_behave_aug.py'),
        augmentation_prob=augmentation_prob))
