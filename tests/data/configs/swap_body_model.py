# configs/stackflow_synthetic.py with the neutral SMPL-X body (data/body_models/smplx/SMPLX_NEUTRAL.npz,
# docs/body_models.md). mmengine evaluates each config file once, so every entry that the base built from its
# body_model is set again here (tests/test_configs.py checks that they agree). The refiner uses the model's body.
_base_ = ['../../../configs/stackflow_synthetic.py']

body_model = dict(type='SMPLX', model_path='data/body_models', gender='neutral')

model = dict(body_model=body_model)
train_dataloader = dict(dataset=dict(body_model=body_model))
val_dataloader = dict(dataset=dict(body_model=body_model))
test_dataloader = val_dataloader
val_evaluator = dict(body_model=body_model)
test_evaluator = dict(body_model=body_model)
