# BEHAVE-layout frames (docs/datasets.md): the dataset class, the size of its object catalogue and the dataloader and
# evaluator settings that no choice of a top-level config changes. The choices (data_root, body_model, img_size, ...)
# and what is built from them (pipelines, the dataset's and the metric's body model, the object library) are set in
# the top-level config: mmengine evaluates each config file once, so a value built here would not follow a choice
# made there (docs/configs.md).
dataset_type = 'BEHAVEFrameDataset'
# The 20 BEHAVE objects (hoirecon.objects.catalogue.BEHAVE_OBJECTS; the position is the label): the model's object
# embedding has one row per object. tests/test_configs.py checks it against the catalogue.
num_objects = 20

train_dataloader = dict(
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, split='train'))
val_dataloader = dict(
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    # all four Kinects (StackFLOW's frame set; CHORE scores Kinect 1 only: test_evaluator.kinects=(1,))
    dataset=dict(type=dataset_type, split='test', test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='HOIChamferMetric', num_samples=10000, seed=7, alignments=('hoi', 'smpl', 'none'))
test_evaluator = dict(type='HOIChamferMetric', num_samples=10000, seed=7, alignments=('hoi', 'smpl', 'none'),
                      out_file='chamfer_results.json')
