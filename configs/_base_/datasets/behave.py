# The real BEHAVE release (docs/datasets.md: calibs/, objects/, sequences/, split.json) read frame by frame, all four
# Kinects (StackFLOW's frame set; CHORE scores Kinect 1 only: test_evaluator.kinects=(1,)).
dataset_type = 'BEHAVEFrameDataset'
data_root = 'data/behave'
img_size = 256
body_model = dict(type='SMPLH', model_path='data/body_models', gender='male')
object_library = dict(dataset='behave', template_dir=f'{data_root}/objects')
batch_size = 32
num_workers = 4

train_pipeline = [
    dict(type='LoadHOIImage'),
    dict(type='HOICrop', img_size=img_size, padding_ratio=0.2, augment=True, shift=0.1, scale=0.3, rot_deg=30.0,
         rot_prob=0.5),
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

train_dataloader = dict(
    batch_size=batch_size, num_workers=num_workers, persistent_workers=num_workers > 0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', body_model=body_model,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=batch_size, num_workers=num_workers, persistent_workers=num_workers > 0, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', body_model=body_model,
                 pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='HOIChamferMetric', num_samples=10000, seed=7, alignments=('hoi', 'smpl', 'none'),
                     body_model=body_model, object_library=object_library)
test_evaluator = dict(type='HOIChamferMetric', num_samples=10000, seed=7, alignments=('hoi', 'smpl', 'none'),
                      body_model=body_model, object_library=object_library, out_file='chamfer_results.json')
