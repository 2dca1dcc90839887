# A tiny StackFLOW-family model on the synthetic-world config (64 px crops, 32-wide features, direct relative pose so
# that no PCA file is needed): the demo and refinement tests build it with random weights.
_base_ = ['../../../configs/stackflow_synthetic.py']

feature_dim = 32
img_size = 64
model = dict(
    backbone=dict(depth=18, out_channels=feature_dim),
    shape_head=dict(feature_dim=feature_dim, hidden_dim=32),
    head=dict(feature_dim=feature_dim, flow_cfg=dict(num_layers=2, hidden_features=32, num_blocks_per_layer=1,
                                                     dropout=0.0)),
    relation_encoder=dict(_delete_=True, type='DirectRelativePose'),
)
# mmengine evaluates each config file once: a changed img_size needs the pipelines restated (docs/configs.md).
train_pipeline = [
    dict(type='LoadHOIImage'),
    dict(type='HOICrop', img_size=img_size, padding_ratio=0.2, augment=True, shift=0.1, scale=0.3, rot_deg=30.0,
         rot_prob=0.5),
    dict(type='ColorGain', low=0.8, high=1.2),
    dict(type='PackHOIInputs', body_target='male'),
]
test_pipeline = [
    dict(type='LoadHOIImage'),
    dict(type='LoadCorrespondences', num_points=256),
    dict(type='HOICrop', img_size=img_size, padding_ratio=0.2),
    dict(type='PackHOIInputs', body_target='gendered'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=4, num_workers=0, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# the procedural library: the same templates the synthetic world is made of, wherever its data root is
test_evaluator = dict(object_library=dict(_delete_=True, dataset='behave'), num_samples=1000)
refiner = dict(steps_per_stage=5)
