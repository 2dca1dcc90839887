# The real BEHAVE release (docs/datasets layout: calibs/, objects/, sequences/, split.json).
dataset_type = 'behave'
data_root = 'data/behave'
object_library = dict(dataset='behave', template_dir=f'{data_root}/objects')
