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
val_dataloader = dict(batch_size=4, num_workers=0,
                      dataset=dict(pipeline=[
                          dict(type='LoadHOIImage'),
                          dict(type='LoadCorrespondences', num_points=256),
                          dict(type='HOICrop', img_size=img_size, padding_ratio=0.2),
                          dict(type='PackHOIInputs', body_target='gendered'),
                      ]))
test_dataloader = val_dataloader
# the procedural library: the same templates the synthetic world is made of, wherever its data root is
test_evaluator = dict(object_library=dict(_delete_=True, dataset='behave'), num_samples=1000)
refiner = dict(steps_per_stage=5)
