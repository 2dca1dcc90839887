# The licence-free surrogate SMPL-H body (built and cached on first use). Every
# log line and metric file says "surrogate": its numbers are not SMPL-H numbers.
body_model = dict(type='SMPLH', model_path='surrogate', gender='male', num_betas=10)
