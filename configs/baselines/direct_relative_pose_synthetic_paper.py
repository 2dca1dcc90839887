# Baseline "w/o offsets" (the relation latent is the object's relative pose, 9 dims; no offset loss), on top of the
# paper settings of configs/stackflow_synthetic_paper.py (of which the PCA does not apply).
# The row of the "paper settings" table in docs/benchmarks.md (bash tools/analysis/run_synthetic_benchmark.sh paper).
_base_ = ['../stackflow_synthetic_paper.py']

model = dict(relation_encoder=dict(_delete_=True, type='DirectRelativePose'),
             losses=dict(offsets=None))
