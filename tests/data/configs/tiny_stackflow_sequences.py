# The tiny model of tiny_stackflow.py on synthetic 30 fps sequences (BEHAVE-extended layout): the sequence test loop,
# the windowed metric (w = 1 and w = 3) and a short sequence smoothing (windows of 8 frames every 4).
_base_ = ['./tiny_stackflow.py']

sequence_root = 'data/behave_extended_synthetic'  # the tests point it at a generated tiny world
windows = (1, 3)
test_dataloader = dict(
    _delete_=True, batch_size=5, num_workers=0, drop_last=False, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='BEHAVEExtendedDataset', data_root=sequence_root, split='test', kinects=(0, ),
                 body_model=_base_.body_model, pipeline=_base_.test_pipeline, test_mode=True))
sequence_metric = dict(type='HOISequenceChamferMetric', num_samples=1000, seed=7, alignments=('hoi', 'none'),
                       body_model=_base_.body_model, object_library=dict(dataset='behave'))
test_evaluator = [dict(sequence_metric, window=w, prefix=f'hoi_seq_w{w}', out_file=f'sequence_w{w}.json')
                  for w in windows]
test_cfg = dict(type='SequenceTestLoop')
sequence_refiner = dict(type='SequenceSmoothingRefiner', num_stages=2, steps_per_stage=5, lr=2e-3, window=8, stride=4,
                        smooth_weight=100.0, object_init=None)
