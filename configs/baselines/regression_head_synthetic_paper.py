# Baseline: deterministic regression head, on top of the paper settings of configs/stackflow_synthetic_paper.py (of
# which the flow and the samples' loss do not apply; the translation warm-up and the refitted-betas PCA do).
# The row of the "paper settings" table in docs/benchmarks.md (bash tools/analysis/run_synthetic_benchmark.sh paper).
_base_ = ['../stackflow_synthetic_paper.py']

# feature width and object count from the base config (its feature_dim choice and the dataset's catalogue size)
model = dict(head=dict(_delete_=True, type='RegressionHead', feature_dim=_base_.feature_dim,
                       num_objects=_base_.num_objects, num_pose_joints=22, hidden_dim=1024))
