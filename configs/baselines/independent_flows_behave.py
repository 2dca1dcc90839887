# Baseline: two independent flows (the relation flow is not conditioned on the pose), otherwise
# configs/stackflow_behave.py.
_base_ = ['../stackflow_behave.py']

model = dict(head=dict(type='IndependentFlowHead'))
