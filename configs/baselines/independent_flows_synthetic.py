# Baseline: two independent flows (the relation flow is not conditioned on the pose), otherwise
# configs/stackflow_synthetic.py.
_base_ = ['../stackflow_synthetic.py']

model = dict(head=dict(type='IndependentFlowHead'))
