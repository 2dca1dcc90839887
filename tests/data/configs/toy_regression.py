# A tiny regression task (hoirecon.testing) on the real runtime and schedule bases: engine and tool tests use it.
_base_ = ['../../../configs/_base_/default_runtime.py', '../../../configs/_base_/schedules/stackflow_behave.py']
custom_imports = dict(imports=['hoirecon.testing'], allow_failed_imports=False)
custom_hooks = [dict(type='ToyStepRecorderHook')]  # writes steps_rank<R>.json for the distributed test

model = dict(type='ToyRegressor', in_dim=4)
train_dataloader = dict(batch_size=2,
                        num_workers=0,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        collate_fn=dict(type='default_collate'),
                        dataset=dict(type='ToyDataset', num_samples=16, in_dim=4))
val_dataloader = dict(batch_size=4,
                      num_workers=0,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      collate_fn=dict(type='default_collate'),
                      dataset=dict(type='ToyDataset', num_samples=8, in_dim=4, seed=1))
test_dataloader = val_dataloader
val_evaluator = dict(type='ToyMetric')
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = [dict(type='MultiStepLR', milestones=[1, 3], gamma=0.5, by_epoch=True)]
train_cfg = dict(max_epochs=2, val_interval=1)
default_hooks = dict(logger=dict(interval=2))
