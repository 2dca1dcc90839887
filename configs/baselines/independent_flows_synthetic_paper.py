# Baseline: two independent flows, on top of the paper settings of configs/stackflow_synthetic_paper.py (the paper's
# flow, the samples' 2D-joint loss as a mean, the translation warm-up, the PCA with male-refitted betas). The row of
# the "paper settings" heads/encoders table of docs/benchmarks.md (tools/analysis/run_synthetic_benchmark.sh paper).
_base_ = ['../stackflow_synthetic_paper.py']

model = dict(head=dict(type='IndependentFlowHead'))
