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

# ---- The choices: change one line here and everything built below follows (docs/configs.md). ----------------------
data_root = 'data/behave'
# StackFLOW on BEHAVE predicts the male SMPL-H. Others (docs/body_models.md):
#   dict(type='SMPLH', model_path='surrogate', gender='male')            the licence-free surrogate (not SMPL-H numbers)
#   dict(type='SMPLX', model_path='data/body_models', gender='neutral')  SMPL-X, as StackFLOW on InterCap
body_model = dict(type='SMPLH', model_path='data/body_models', gender='male')
img_size = 256  # side of the square crop around the person and the object, in pixels
# StackFLOW's init_cam_translation, added to the camera head's (s, tx, ty): s starts near 0 (a far camera) until the
# translation loss is switched on after its warm-up (docs/fidelity.md, row 11)
init_cam = (0., 0.75, 2.)
# Offset-PCA relation encoder: human anchors per body part, object anchors, latent dimensions.
smpl_anchor_num, object_anchor_num, pca_dim = 32, 64, 32
batch_size = 32
num_workers = 4
# PASCAL VOC 2012 images behind the person and the object in half of the training crops, as StackFLOW trains
# (docs/datasets.md, "Caveats"); None trains without the swap (a departure from the paper: docs/fidelity.md).
background_dir = 'data/VOCdevkit/VOC2012/JPEGImages'

# ---- Built from the choices. --------------------------------------------------------------------------------------
# tools/fit_relation_pca.py writes this file; its name records the three numbers it was fitted with.
pca_file = f'{data_root}/relation_pca_n{smpl_anchor_num}_{object_anchor_num}_d{pca_dim}.npz'
object_library = dict(dataset='behave', template_dir=f'{data_root}/objects')
train_pipeline = [
    dict(type='LoadHOIImage', with_masks=background_dir is not None),
    dict(type='HOICrop', img_size=img_size, padding_ratio=0.2, augment=True, shift=0.1, scale=0.3, rot_deg=30.0,
         rot_prob=0.5),
] + ([dict(type='BackgroundSwap', bg_dir=background_dir, prob=0.5)] if background_dir is not None else []) + [
    dict(type='ColorGain', low=0.8, high=1.2),
    dict(type='PackHOIInputs', body_target='male'),
]
test_pipeline = [
    dict(type='LoadHOIImage'),
    # EPro-PnP-style object correspondences of epro_pnp/ (zeros when absent): the refiner's object evidence
    dict(type='LoadCorrespondences', num_points=4096),
    dict(type='HOICrop', img_size=img_size, padding_ratio=0.2),
    # ground truth = the subject's own (gendered) fit, posed by the metric with the gendered body model
    dict(type='PackHOIInputs', body_target='gendered'),
]

model = dict(
    body_model=body_model,
    shape_head=dict(init_cam_translation=init_cam),
    head=dict(num_objects=_base_.num_objects),
    relation_encoder=dict(pca_file=pca_file, smpl_anchor_num=smpl_anchor_num, object_anchor_num=object_anchor_num,
                          pca_dim=pca_dim))
train_dataloader = dict(batch_size=batch_size, num_workers=num_workers, persistent_workers=num_workers > 0,
                        dataset=dict(data_root=data_root, body_model=body_model, pipeline=train_pipeline))
val_dataloader = dict(batch_size=batch_size, num_workers=num_workers, persistent_workers=num_workers > 0,
                      dataset=dict(data_root=data_root, body_model=body_model, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(body_model=body_model, object_library=object_library)
test_evaluator = dict(body_model=body_model, object_library=object_library)
