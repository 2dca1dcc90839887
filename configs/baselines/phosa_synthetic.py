# Baseline: PHOSA-style optimisation (Zhang et al., ECCV 2020; docs/refiners.md, "PHOSA-style baseline"). The person is
# StackFLOW's network body; the object is fitted per image to its visible instance mask (the dataset's; PHOSA:
# PointRend) with the soft silhouette from random rotations, then jointly with the person (silhouette, interaction,
# ordinal depth, collision, scale prior). Test-only: evaluate a StackFLOW checkpoint with it,
#   python tools/test.py configs/baselines/phosa_synthetic.py work_dirs/stackflow_synthetic/epoch_12.pth
# The network's reconstruction stays in init_instances; pred_instances holds the PHOSA-style object.
_base_ = ['../stackflow_synthetic.py']

# the metainfo keys of PackHOIInputs plus the two mask files the fit reads
mask_meta_keys = ('img_id', 'img_path', 'object_name', 'cam_K', 'box_center', 'box_size', 'focal', 'principal',
                  'visibility', 'sequence', 'frame', 'frame_index', 'kinect', 'gender', 'corr_path', 'hoi_box',
                  'crop_affine', 'crop_rotation', 'img_shape', 'ori_shape', 'person_mask_path', 'object_mask_path')
test_pipeline = [
    dict(type='LoadHOIImage'),
    dict(type='HOICrop', img_size=_base_.img_size, padding_ratio=0.2),
    dict(type='PackHOIInputs', body_target='gendered', meta_keys=mask_meta_keys),
]
# CPU-sized, the measured setting (docs/refiners.md): 12 starts x 40 steps at 32 px, 2 candidates x 20 joint steps,
# templates rendered at <= 300 faces; ~31 s per image on the shared 2-core CPU (about 3.6 h for the 416 test images)
phosa = dict(object_library=_base_.object_library, num_starts=12, object_steps=40, object_lr=0.01, num_candidates=2,
             joint_steps=20, joint_lr=0.01, sigma=(2.0, 0.3), object_size=32, joint_size=32, padding=0.15,
             loss_weights=dict(silhouette=1.0, interaction=0.5, depth=0.2, collision=50.0, scale=0.01),
             contact_parts=(20, 21), scale_prior=dict(mean=1.0, std=0.1), render_faces=300, show_progress=True)
model = dict(type='PHOSAReconstructor', phosa=phosa)
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
