# Baseline: deterministic regression head (no flow, no likelihood, no NLL terms), otherwise
# configs/stackflow_synthetic.py.
_base_ = ['../stackflow_synthetic.py']

# feature width and object count from the base config (its feature_dim choice and the dataset's catalogue size)
model = dict(head=dict(_delete_=True, type='RegressionHead', feature_dim=_base_.feature_dim,
                       num_objects=_base_.num_objects, num_pose_joints=22, hidden_dim=1024))
