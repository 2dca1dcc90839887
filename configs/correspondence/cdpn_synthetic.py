# The object correspondence network (CDPN / EPro-PnP family, docs/correspondence.md) on the synthetic BEHAVE-layout
# world, sized for a laptop CPU: ResNet-18 on a 128 px object crop, the object label FiLM'd into its 4 x 4 feature map,
# four x2 deconvolutions to a 64 x 64 map of normalised object coordinates, 2D weights and the visible-mask logit;
# RANSAC PnP turns them into the object pose. Targets are rendered once from the annotation cache.
#   python tools/train.py configs/correspondence/cdpn_synthetic.py
#   python tools/test.py configs/correspondence/cdpn_synthetic.py work_dirs/cdpn_synthetic/epoch_6.pth
_base_ = ['../_base_/default_runtime.py']

# ---- The choices: change one line here and everything built below follows. -----------------------------------------
# The synthetic HOI world of configs/stackflow_synthetic.py (same folder and recipe: generated once, shared, with the
# same annotation cache), 2080 train / 416 test images at 512 x 384.
data_root = 'data/behave_synthetic'
synthetic = dict(num_sequences=156, frames_per_sequence=4, seed=0, image_size=(512, 384))
# The annotation cache is made for this body model (the same as StackFLOW's, so that both configs share the cache);
# the correspondence network itself uses no body.
annotation_body_model = dict(type='SMPLH', model_path='surrogate', gender='male')
num_objects = 20  # BEHAVE's catalogue (the label embedding has one row per object)
img_size = 128  # side of the object crop given to the backbone, pixels
out_size = 64  # cells per side of the predicted maps (64 x 64 = 4096 correspondences, StackFLOW's EPro-PnP count)
crop_padding = 1.5  # crop side / the object box's longer side (CDPN)
depth = 18  # ResNet depth (from random weights: nothing to download)
batch_size = 32
num_workers = 0
max_epochs = 6
# Train the coordinates and score the poses up to each object's symmetries, found on its template
# (hoirecon.objects.symmetry: 15 of the 20 procedural objects have some, e.g. a box's three half turns, whose plain
# L1 pulls the prediction to the box centre); None: against the rendered coordinates alone.
symmetries = dict(axis_step_deg=20.0, tolerance=1.5)
# RANSAC PnP on the cells whose weight passes min_weight (weights are 0 off the predicted visible mask);
# reprojection_error in full-image pixels of the 512 px images.
pnp_cfg = dict(min_weight=0.1, reprojection_error=3.0, iterations=300, min_inliers=6, seed=0)
# Write the test split's predicted correspondences in the refiner's layout (<out_dir>/epro_pnp/...); None: do not.
correspondence_out_dir = 'work_dirs/cdpn_synthetic/predicted'

# ---- Built from the choices. --------------------------------------------------------------------------------------
object_library = dict(dataset='behave', template_dir=f'{data_root}/objects')
train_pipeline = [
    dict(type='LoadHOIImage'),
    dict(type='ObjectCrop', img_size=img_size, out_size=out_size, padding=crop_padding, augment=True, scale=0.25,
         shift=0.15),
    dict(type='ColorGain', low=0.8, high=1.2),
    dict(type='PackObjectCorrespondenceInputs'),
]
test_pipeline = [
    dict(type='LoadHOIImage'),
    dict(type='ObjectCrop', img_size=img_size, out_size=out_size, padding=crop_padding),
    dict(type='PackObjectCorrespondenceInputs'),
]
model = dict(
    type='ObjectCorrespondenceNet',
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    backbone=dict(type='ResNet', depth=depth, channels_last=True, init_cfg=None),
    head=dict(type='DenseCorrespondenceHead', channels=(256, 128, 64, 32), out_size=out_size,
              loss_weights=dict(x3d=1.0, mask=1.0, w2d=0.1)),
    object_library=object_library,
    mask_threshold=0.5,
    symmetries=symmetries,
    pnp_cfg=pnp_cfg,
)
dataset = dict(type='ObjectCorrespondenceDataset', data_root=data_root, synthetic=synthetic,
               body_model=annotation_body_model)
train_dataloader = dict(batch_size=batch_size, num_workers=num_workers, persistent_workers=num_workers > 0,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(dataset, split='train', min_visible_pixels=20, pipeline=train_pipeline))
val_dataloader = dict(batch_size=batch_size, num_workers=num_workers, persistent_workers=num_workers > 0,
                      drop_last=False, sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(dataset, split='test', test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='ObjectPoseMetric', object_library=object_library, symmetries=symmetries)
test_evaluator = dict(type='ObjectPoseMetric', object_library=object_library, symmetries=symmetries,
                      out_dir=correspondence_out_dir)

optim_wrapper = dict(type='NonFiniteSkipOptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
                     clip_grad=dict(max_norm=10.0, norm_type=2))
# the rate warms up from 1e-4 over the first epoch, then follows a cosine to 1e-5
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=max_epochs, eta_min=1e-5, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=3))
