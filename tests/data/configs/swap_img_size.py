# configs/stackflow_behave.py with 128 px crops instead of 256. mmengine evaluates each config file once, so the
# pipelines that the base built from its img_size are built again here (tests/test_configs.py checks that they agree).
_base_ = ['../../../configs/stackflow_behave.py']

img_size = 128

train_pipeline = [
    dict(type='LoadHOIImage'),
    dict(type='HOICrop', img_size=img_size, padding_ratio=0.2, augment=True, shift=0.1, scale=0.3, rot_deg=30.0,
         rot_prob=0.5),
    dict(type='ColorGain', low=0.8, high=1.2),
    dict(type='PackHOIInputs', body_target='male'),
]
test_pipeline = [
    dict(type='LoadHOIImage'),
    dict(type='LoadCorrespondences', num_points=4096),
    dict(type='HOICrop', img_size=img_size, padding_ratio=0.2),
    dict(type='PackHOIInputs', body_target='gendered'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
