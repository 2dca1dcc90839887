# The embedded default: the synthetic HOI world in BEHAVE's layout (docs/synthetic_world.md), generated on first use
# by the dataset (156 sequences x 4 frames x 4 Kinects = 2080 train / 416 test images at 512 x 384), with the
# licence-free surrogate SMPL-H and procedural objects. Everything else is the real-BEHAVE pipeline.
_base_ = ['./behave.py']

data_root = 'data/behave_synthetic'
synthetic = dict(num_sequences=156, frames_per_sequence=4, seed=0, image_size=(512, 384))
body_model = dict(type='SMPLH', model_path='surrogate', gender='male')
object_library = dict(dataset='behave', template_dir=f'{data_root}/objects')

train_dataloader = dict(dataset=dict(data_root=data_root, synthetic=synthetic, body_model=body_model))
val_dataloader = dict(dataset=dict(data_root=data_root, synthetic=synthetic, body_model=body_model))
test_dataloader = val_dataloader
val_evaluator = dict(body_model=body_model, object_library=object_library)
test_evaluator = dict(body_model=body_model, object_library=object_library)
