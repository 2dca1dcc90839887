# InterCap frames (docs/datasets.md "InterCap frames"): the dataset class, the size of its object catalogue and the
# frames StackFLOW scores (camera 1 of the test sequences, in time order). The choices (data_root, body_model,
# img_size, ...) and what is built from them are set in the top-level config (docs/configs.md).
dataset_type = 'InterCapDataset'
num_objects = 10  # the InterCap objects

train_dataloader = dict(
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, split='train'))
val_dataloader = dict(
    drop_last=False,
    # unshuffled: the frames of a camera of a sequence stay in time order (the sequence metric and SequenceTestLoop)
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, split='test', kinects=(1, ), test_mode=True))
test_dataloader = val_dataloader

# The evaluators (HOISequenceChamferMetric per window) are built in the top-level config from its body model and object
# library: a list in a derived config replaces the base's list instead of merging into it (docs/configs.md).
