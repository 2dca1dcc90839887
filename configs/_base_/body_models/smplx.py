# Real SMPL-X files, as StackFLOW predicts on InterCap: the neutral model.
# Layout: data/body_models/smplx/SMPLX_NEUTRAL.npz (see docs/body_models.md).
body_model = dict(type='SMPLX', model_path='data/body_models', gender='neutral', num_betas=10)
