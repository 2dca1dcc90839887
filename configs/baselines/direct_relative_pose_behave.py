# Baseline "w/o offsets": the relation latent is the object's relative pose itself (6D rotation + translation,
# 9 dims) instead of the offset PCA; no offset loss. Otherwise configs/stackflow_behave.py.
_base_ = ['../stackflow_behave.py']

model = dict(relation_encoder=dict(_delete_=True, type='DirectRelativePose'),
             losses=dict(offsets=None))
