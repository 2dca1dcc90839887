# The embedded default of the sequence path: the StackFLOW of configs/stackflow_synthetic.py (trained on the 1 fps
# synthetic world, same model, PCA and schedule) scored on synthetic 30 fps sequences in the BEHAVE-extended layout,
# camera 0, with StackFLOW's windowed sequence metric (w = 1 and w = 10). With --refine: the per-frame
# post-optimisation, then sequence smoothing of each camera of each sequence (SequenceTestLoop), each stage scored.
#   python tools/train.py configs/stackflow_synthetic.py            # or this config: it trains the same model
#   python tools/test.py configs/stackflow_synthetic_sequences.py work_dirs/stackflow_synthetic/epoch_12.pth --refine
_base_ = ['./stackflow_synthetic.py']

# ---- The choices (the model, body model, img_size and training data are stackflow_synthetic.py's). ----------------
# Synthetic 30 fps sequences in the BEHAVE-extended layout (docs/synthetic_world.md), generated on first use:
# 6 sequences x 150 frames (5 s), camera 0 only, half of the sequences in the test split (about 1.5 min on 2 cores).
sequence_root = 'data/behave_extended_synthetic'
sequence_synthetic = dict(num_sequences=6, frames_per_sequence=150, seed=0, image_size=(512, 384), kinects=(0, ),
                          test_fraction=0.5)
kinects = (0, )  # StackFLOW scores camera 0 of the sequences
windows = (1, 10)  # frames per alignment window of the sequence metric

# ---- Built from the choices. --------------------------------------------------------------------------------------
sequence_test_pipeline = [
    dict(type='LoadHOIImage'),
    dict(type='LoadCorrespondences', num_points=4096),
    dict(type='HOICrop', img_size=_base_.img_size, padding_ratio=0.2),
    dict(type='PackHOIInputs', body_target='gendered'),
]
test_dataloader = dict(
    batch_size=_base_.batch_size, num_workers=_base_.num_workers, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),  # frames in (sequence, kinect, time) order
    dataset=dict(type='BEHAVEExtendedDataset', data_root=sequence_root, synthetic=sequence_synthetic, split='test',
                 kinects=kinects, body_model=_base_.body_model, pipeline=sequence_test_pipeline, test_mode=True))
val_dataloader = test_dataloader
sequence_metric = dict(type='HOISequenceChamferMetric', num_samples=10000, seed=7, alignments=('hoi', 'smpl', 'none'),
                       window_mode='sliding', body_model=_base_.body_model,
                       object_library=dict(dataset='behave', template_dir=f'{sequence_root}/objects'))
test_evaluator = [dict(sequence_metric, window=w, prefix=f'hoi_seq_w{w}', out_file=f'sequence_chamfer_w{w}.json')
                  for w in windows]
val_evaluator = [dict(sequence_metric, window=w, prefix=f'hoi_seq_w{w}') for w in windows]
test_cfg = dict(type='SequenceTestLoop')
# The sequence smoothing (tools/test.py --refine): BEHAVE-extended's settings (configs/_base_/refiners/
# sequence_behave_extended.py: 2 x 100 steps at lr 2e-3, windows of 128 frames every 64, smoothness weight 100) on top
# of this config's per-frame refiner (stackflow_synthetic.py's terms and weights), from the per-frame result.
sequence_refiner = dict(type='SequenceSmoothingRefiner', num_stages=2, steps_per_stage=100, lr=2e-3, window=128,
                        stride=64, smooth_weight=100.0, anneal_smoothness=True, object_init=None, show_progress=True)
