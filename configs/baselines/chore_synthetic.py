# CHORE-style pixel-aligned implicit fields (Xie et al. ECCV 2022; docs/chore.md) on the synthetic BEHAVE-layout world,
# sized for 2 CPU cores (<= 30 min): a 5-channel ResNet-18 (stem + 2 stages) on a 128 px HOI crop of RGB + person
# mask + object mask; for 1024 query points per image the features at the point's projection, with its depth, go
# through three MLPs: unsigned distances to the human and the object (clamped at 10 cm), the body part (14) and the
# object's centre offset and 6D rotation. Targets are computed on the fly from the posed meshes.
#   python tools/train.py configs/baselines/chore_synthetic.py
#   python tools/test.py configs/baselines/chore_synthetic.py work_dirs/chore_synthetic/epoch_6.pth
# At test time CHOREReconstructor fits the body model and the object template to the fields (docs/chore.md,
# "Test-time fitting"); the HOI evaluator scores it like every other config. The val loop (once, after the last
# epoch) scores the fields themselves (CHOREFieldMetric).
_base_ = ['../_base_/default_runtime.py']
custom_imports = dict(imports=['hoirecon.models.chore', 'hoirecon.datasets'], allow_failed_imports=False)

# ---- The choices: change one line here and everything built below follows. -----------------------------------------
# The synthetic HOI world of configs/stackflow_synthetic.py (same folder, recipe and annotation cache),
# 2080 train / 416 test images at 512 x 384.
data_root = 'data/behave_synthetic'
synthetic = dict(num_sequences=156, frames_per_sequence=4, seed=0, image_size=(512, 384))
# The annotation cache's training body (its betas_male / transl_male); the targets pose this body model.
body_model = dict(type='SMPLH', model_path='surrogate', gender='male')
img_size = 128  # crop side, pixels (CHORE: 512)
depth = 18  # ResNet depth, random init (CHORE: a stacked hourglass)
num_stages = 2  # ResNet stages after the stem whose maps are sampled (1/2, 1/4, 1/8 of the crop)
hidden = (128, 128)  # decoder MLP widths (CHORE: wider and deeper)
num_points = 1024  # query points per image (CHORE: thousands)
sigmas = (0.015, 0.1)  # surface-noise standard deviations, metres (IF-Net / CHORE style, small and large)
uniform_ratio = 0.1  # share of query points uniform in the crop's frustum
depth_margin = (-1.0, 1.0)  # the frustum's depths around the root joint's depth, metres
num_parts = 14  # CHORE's 14 body parts (22: the skeleton's body joints)
clamp = 0.1  # distances clamped at 10 cm (picked; IF-Net-style clamping, docs/chore.md)
# CHORE's fixed person depth: the training scenes are scaled about the camera so that the root joint is at depth_ref
# (the crop cannot tell 2 m from 3 m), and the depth feature is (z - depth_ref) / depth_scale. Synthetic: its mean root
# depth (CHORE: 2.2 m on BEHAVE).
depth_ref = 2.6
depth_scale = 1.0
# CHORE starts the body from a FrankMocap estimate (BEHAVE's k*.mocap.json beside each image). The synthetic world has
# none: tools/misc/export_body_estimates.py writes StackFLOW's network body in their place (docs/chore.md, "Body
# start"). 'auto': an image's estimate when its file exists, else a start from the fields (a warning counts them);
# 'estimate': required; 'fields': ignored.
body_start = 'auto'
batch_size = 16
num_workers = 1  # the targets (68 ms / image) are computed in a worker beside the training process
# Measured with tools/train.py on the 2-core VM while another training job ran (load average 3.7; 1 torch thread +
# 1 worker): 1.87-2.09 s per step of 16 images (data_time 0.41-0.55 s), 130 steps per epoch, so 6 epochs = 780 steps
# ~ 25-27 min (mmengine's eta for 8 epochs was 32 min). Alone on the machine the model step took 0.8-1.0 s.
max_epochs = 6
lr = 1e-3

# ---- Built from the choices. --------------------------------------------------------------------------------------
object_library = dict(dataset='behave', template_dir=f'{data_root}/objects')
train_pipeline = [
    dict(type='LoadHOIImage', with_masks=True),
    dict(type='HOICrop', img_size=img_size, augment=True, rot_prob=0.0),  # no rotation: targets in the camera frame
    dict(type='ColorGain', low=0.8, high=1.2),
    # distances exact below the clamp (>= clamp beyond it); 32 candidate triangles per point (docs/chore.md)
    dict(type='CHOREQueryTargets', body_model=body_model, object_library=object_library, num_points=num_points,
         sigmas=sigmas, uniform_ratio=uniform_ratio, depth_margin=depth_margin, num_parts=num_parts,
         exact_below=clamp, max_candidates=32, fixed_depth=depth_ref),  # every person at depth_ref (CHORE)
    dict(type='PackCHOREInputs', object_mask='visible'),  # the occlusion-aware object mask, as CHORE's input
]
# the fields scored on the test images with both parts in view, with fixed query points (CHOREFieldMetric: distance
# L1 below the clamp, part accuracy near the body, voted centre and rotation errors), once at the end of training
val_pipeline = [
    dict(type='LoadHOIImage', with_masks=True),
    dict(type='HOICrop', img_size=img_size, rot_prob=0.0),
    dict(type='CHOREQueryTargets', body_model=body_model, object_library=object_library, num_points=num_points,
         sigmas=sigmas, uniform_ratio=uniform_ratio, depth_margin=depth_margin, num_parts=num_parts,
         exact_below=clamp, max_candidates=32, fixed_depth=depth_ref, seed=0),
    dict(type='PackCHOREInputs', object_mask='visible'),
]
# all 416 test images (the frames StackFLOW's configs score); the ground truth packed in PackHOIInputs' layout
test_meta_keys = ('img_id', 'img_path', 'cam_K', 'ori_shape', 'img_shape', 'focal', 'principal', 'box_center',
                  'box_size', 'crop_affine', 'object_name', 'object_label', 'gender', 'visibility', 'sequence',
                  'frame', 'kinect', 'person_mask_path', 'object_mask_path')  # the masks: the object mask term
test_pipeline = [
    dict(type='LoadHOIImage', with_masks=True),
    dict(type='HOICrop', img_size=img_size, rot_prob=0.0),
    dict(type='LoadBodyEstimate', num_body_joints=21, missing='error' if body_start == 'estimate' else 'skip'),
    dict(type='PackCHOREInputs', object_mask='visible', body_target='gendered', meta_keys=test_meta_keys),
]
# Test-time fitting (CHOREReconstructor, docs/chore.md): fields on a 32^3 frustum grid, the body start from the
# estimate (body_start) placed on the near-human grid points, the object's from the near-object votes, then 100 Adam
# steps each for the body (every 8th vertex; each joint pulled back to the estimate with weight 0.1 and the projected
# BODY_25 joints to the OpenPose keypoints with weight 3) and the object (500 samples; CHORE's contacts, the fitted
# body's vertices predicted within 3 cm of the object, pull its surface with weight 0.3; CHORE's object mask term, the
# template's soft silhouette against the visible object mask in a 64 px square, weight 1); the weights picked on 48
# training images (docs/chore.md). The mask term is most of the time: about 7.8 s per image on 2 CPU cores against
# 1.9 s with model.fitting.w_mask=0.
fitting = dict(body_start=body_start, grid_resolution=32, depth_margin=depth_margin, near=0.03, body_steps=100,
               body_lr=0.02, w_pose_estimate=0.1, w_keypoints=3.0, w_contact=0.3, w_mask=1.0, mask_size=64,
               mask_faces=300, vertex_stride=8, object_steps=100, object_lr=0.01, object_points=500)
model = dict(
    type='CHOREReconstructor',
    body_model=body_model,
    object_library=object_library,
    fitting=fitting,
    data_preprocessor=dict(type='BaseDataPreprocessor'),  # the model normalises its 5-channel uint8 inputs
    encoder=dict(depth=depth, num_stages=num_stages, in_channels=5, channels_last=True),
    hidden=hidden,
    num_parts=num_parts,
    clamp=clamp,
    depth_ref=depth_ref,
    depth_scale=depth_scale,
    object_radius=clamp,
    loss_weights=dict(udf_human=1.0, udf_object=1.0, parts=0.1, offset=1.0, rotation=0.1),
)
train_dataloader = dict(batch_size=batch_size, num_workers=num_workers, persistent_workers=num_workers > 0,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(type='CHOREFrameDataset', data_root=data_root, synthetic=synthetic,
                                     body_model=body_model, split='train', pipeline=train_pipeline))
val_dataloader = dict(batch_size=batch_size, num_workers=num_workers, persistent_workers=False, drop_last=False,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(type='CHOREFrameDataset', data_root=data_root, synthetic=synthetic,
                                   body_model=body_model, split='test', test_mode=True, pipeline=val_pipeline))
val_evaluator = dict(type='CHOREFieldMetric', clamp=clamp)
val_cfg = dict(type='ValLoop')
test_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False, drop_last=False,
                       sampler=dict(type='DefaultSampler', shuffle=False),
                       dataset=dict(type='BEHAVEFrameDataset', data_root=data_root, synthetic=synthetic,
                                    body_model=body_model, split='test', test_mode=True, pipeline=test_pipeline))
test_evaluator = dict(type='HOIChamferMetric', num_samples=10000, seed=7, alignments=('hoi', 'smpl', 'none'),
                      out_file='chamfer_results.json', body_model=body_model, object_library=object_library)
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='NonFiniteSkipOptimWrapper', optimizer=dict(type='AdamW', lr=lr, weight_decay=1e-4),
                     clip_grad=dict(max_norm=10.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=max_epochs, eta_min=1e-5, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=2))
