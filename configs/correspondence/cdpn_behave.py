# The object correspondence network (docs/correspondence.md) on the real BEHAVE release, sized like the CDPN /
# EPro-PnP models StackFLOW's post-optimisation reads (GPU): an ImageNet ResNet-34 on a 256 px object crop, three x2
# deconvolutions of 256 channels to a 64 x 64 map (4096 correspondences per image, StackFLOW's epro_pnp/ count).
# Needs data/behave (docs/datasets.md) and data/body_models/smplh (the annotation cache; the network uses no body).
# The schedule and the RANSAC threshold are our choices, not measured on BEHAVE (StackFLOW trains its EPro-PnP in
# another code base, whose settings are not part of its release).
#   python tools/train.py configs/correspondence/cdpn_behave.py
#   python tools/test.py configs/correspondence/cdpn_behave.py work_dirs/cdpn_behave/epoch_40.pth
#   python tools/test.py configs/stackflow_behave.py STACKFLOW.pth --refine \
#       --cfg-options test_dataloader.dataset.pipeline.1.corr_root=work_dirs/cdpn_behave/predicted
_base_ = ['../_base_/default_runtime.py']

# ---- The choices: change one line here and everything built below follows. -----------------------------------------
data_root = 'data/behave'
dataset_type = 'ObjectCorrespondenceDataset'
# The annotation cache is made for this body model (the one of configs/stackflow_behave.py, so both share the cache).
annotation_body_model = dict(type='SMPLH', model_path='data/body_models', gender='male')
object_library = dict(dataset='behave', template_dir=f'{data_root}/objects')
img_size = 256  # side of the object crop given to the backbone, pixels
out_size = 64  # cells per side of the predicted maps
crop_padding = 1.5  # crop side / the object box's longer side (CDPN)
depth = 34  # ResNet depth
# torchvision's ImageNet weights of that depth (file names by depth: hoirecon.models.backbones.pretrained), read from
# torch's hub cache or data/pretrained/ (never downloaded; a missing file says where to get it); None: random init
pretrained = 'https://download.pytorch.org/models/resnet34-b627a593.pth'
symmetries = dict(axis_step_deg=20.0, tolerance=1.5)  # loss and metric up to each template's symmetries
batch_size = 32
num_workers = 4
max_epochs = 40
# RANSAC threshold in full-image pixels of the 2048 x 1536 images (4 x the synthetic world's 512 px and its 3 px)
pnp_cfg = dict(min_weight=0.1, reprojection_error=12.0, iterations=300, min_inliers=6, seed=0)
correspondence_out_dir = 'work_dirs/cdpn_behave/predicted'

# ---- Built from the choices. --------------------------------------------------------------------------------------
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
    backbone=dict(type='ResNet', depth=depth,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained) if pretrained is not None else None),
    head=dict(type='DenseCorrespondenceHead', channels=(256, 256, 256), out_size=out_size,
              loss_weights=dict(x3d=1.0, mask=1.0, w2d=0.1)),
    object_library=object_library,
    mask_threshold=0.5,
    symmetries=symmetries,
    pnp_cfg=pnp_cfg,
)
dataset = dict(type=dataset_type, data_root=data_root, body_model=annotation_body_model)
train_dataloader = dict(batch_size=batch_size, num_workers=num_workers, persistent_workers=num_workers > 0,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(dataset, split='train', min_visible_pixels=100, pipeline=train_pipeline))
val_dataloader = dict(batch_size=batch_size, num_workers=num_workers, persistent_workers=num_workers > 0,
                      drop_last=False, sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(dataset, split='test', test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='ObjectPoseMetric', object_library=object_library, symmetries=symmetries)
test_evaluator = dict(type='ObjectPoseMetric', object_library=object_library, symmetries=symmetries,
                      out_dir=correspondence_out_dir)

optim_wrapper = dict(type='NonFiniteSkipOptimWrapper', optimizer=dict(type='AdamW', lr=3e-4, weight_decay=1e-4),
                     clip_grad=dict(max_norm=10.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=max_epochs, eta_min=3e-6, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=10))
