# StackFLOW (method.md §3-4): ResNet-50 feature -> camera/shape head + two stacked conditional Glow flows over the
# body pose (22 x 6D) and the offset-PCA relation latent. Loss weights are the paper's table; the reductions follow
# the reference code (docs/heads_and_losses.md). The top-level config fills in its choices: model.body_model,
# head.num_objects (the dataset's catalogue) and the relation encoder's anchors, latent size and PCA file.
feature_dim = 2048

model = dict(
    type='HOIReconstructor',
    # uint8 RGB crops -> (x / 255 - ImageNet mean) / std; StackFLOW skips the / 255 (docs/datasets.md).
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    # ImageNet-pretrained ResNet-50 (torchvision's IMAGENET1K_V1 file, as StackFLOW's resnet50(pretrained=True)),
    # read from torch's hub cache or data/pretrained/ (never downloaded; the error says how to provide it) + 1x1 conv.
    backbone=dict(type='ResNet', depth=50, out_channels=feature_dim,
                  init_cfg=dict(type='Pretrained',
                                checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth')),
    # Crop camera (s, tx, ty) starts at s = 0.5: a person filling the padded square box sits at ~2.5 m whatever the
    # focal length. StackFLOW's [0, 0.75, 2] read as (s, tx, ty) would start at an infinite depth.
    shape_head=dict(type='CameraShapeHead', feature_dim=feature_dim, hidden_dim=2048,
                    init_cam_translation=(0.5, 0.0, 0.0)),
    head=dict(type='StackedFlowHead', feature_dim=feature_dim, num_pose_joints=22,
              flow_cfg=dict(num_layers=4, hidden_features=1024, num_blocks_per_layer=2, dropout=0.5)),
    relation_encoder=dict(type='OffsetPCA'),
    num_train_samples=2,
    num_test_hypotheses=0,
    nll_noise=(0.001, 0.01),
    losses=dict(
        betas=dict(type='MSELoss', loss_weight=0.005, reduction='sum_per_batch'),
        global_orient=dict(type='RotationMatrixMSELoss', loss_weight=0.01, reduction='sum_per_batch'),
        body_pose=dict(type='RotationMatrixMSELoss', loss_weight=0.05, reduction='sum_per_batch'),
        orthogonality=dict(type='Rot6DOrthogonalityLoss', loss_weight=0.1),
        orthogonality_samples=dict(type='Rot6DOrthogonalityLoss', loss_weight=0.1),
        translation=dict(type='L1Loss', loss_weight=0.1),
        joints_3d=dict(type='L1Loss', loss_weight=0.05, reduction='sum_per_batch'),
        joints_2d=dict(type='L1Loss', loss_weight=0.01, reduction='sum_per_batch'),
        relation=dict(type='L1Loss', loss_weight=0.1),
        offsets=dict(type='L1Loss', loss_weight=0.01),
        object_reprojection=dict(type='L1Loss', loss_weight=0.01),
        object_reprojection_samples=dict(type='L1Loss', loss_weight=0.01),
        nll_pose=dict(type='NLLLoss', loss_weight=0.001),
        nll_relation=dict(type='NLLLoss', loss_weight=0.001),
        # the flow samples' 2D joints: a plain mean over samples, joints and coordinates, as the official code (44x
        # lighter than the mode's sum over joints; docs/fidelity.md row 5)
        joints_2d_samples=dict(type='L1Loss', loss_weight=0.01, reduction='mean'),
    ),
)
