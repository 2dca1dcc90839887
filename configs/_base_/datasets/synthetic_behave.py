# The embedded default: a synthetic HOI world written in the BEHAVE layout by
# tools/make_synthetic_dataset.py (surrogate body, procedural objects).
dataset_type = 'behave'
data_root = 'data/behave_synthetic'
synthetic = dict(num_sequences=150, frames_per_sequence=4, seed=0, image_size=(512, 384))
object_library = dict(dataset='behave', template_dir=f'{data_root}/objects')
