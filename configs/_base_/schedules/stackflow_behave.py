# StackFLOW on BEHAVE: AdamW (lr 1e-4, weight decay 1e-4), grad-norm clip 10, batch 32, 200 epochs, the learning
# rate x0.1 at epoch 180 (the official `drop_lr_at: 180`; InterCap drops at 30 of 40, BEHAVE-extended at 8 of 10).
# Steps with a non-finite loss or gradients are skipped (counted as train/nonfinite_skipped).
optim_wrapper = dict(
    type='NonFiniteSkipOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4),
    clip_grad=dict(max_norm=10.0, norm_type=2),
)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, milestones=[180], gamma=0.1)]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200, val_interval=10)
# The translation loss starts at epoch 30 (the official `trans_begin_epoch`; InterCap 10, BEHAVE-extended 4).
custom_hooks = [dict(type='LossWarmupHook', begin_epochs=dict(translation=30))]
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# The learning rate above is for 32 images per step (e.g. 1 GPU x 32); enable to rescale for other totals.
auto_scale_lr = dict(enable=False, base_batch_size=32)
