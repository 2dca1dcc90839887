# Real SMPL-H (MANO-merged) files, as StackFLOW predicts on BEHAVE: the male model.
# Layout: data/body_models/smplh/SMPLH_MALE.pkl (see docs/body_models.md).
body_model = dict(type='SMPLH', model_path='data/body_models', gender='male', num_betas=10)
