# The object correspondence network on the real InterCap release (GPU), as configs/correspondence/cdpn_behave.py:
# InterCap's frames (InterCapCorrespondenceDataset: its reader, the neutral SMPL-X annotation cache) and its 10
# objects. Needs data/intercap (docs/datasets.md) and data/body_models/smplx.
#   python tools/train.py configs/correspondence/cdpn_intercap.py
#   python tools/test.py configs/correspondence/cdpn_intercap.py work_dirs/cdpn_intercap/epoch_40.pth
#   python tools/test.py configs/stackflow_intercap.py STACKFLOW.pth --refine \
#       --cfg-options test_dataloader.dataset.pipeline.1.corr_root=work_dirs/cdpn_intercap/predicted
_base_ = ['./cdpn_behave.py']

# ---- The choices (the others are cdpn_behave.py's). -----------------------------------------------------------------
data_root = 'data/intercap'
dataset_type = 'InterCapCorrespondenceDataset'
annotation_body_model = dict(type='SMPLX', model_path='data/body_models', gender='neutral')
object_library = dict(dataset='intercap', template_dir=f'{data_root}/objs')
test_kinects = (1, )  # the camera StackFLOW scores (configs/stackflow_intercap.py)
correspondence_out_dir = 'work_dirs/cdpn_intercap/predicted'

# ---- Built from the choices (restated: mmengine evaluates each file once, docs/configs.md). -----------------------
model = dict(object_library=object_library)
dataset = dict(type=dataset_type, data_root=data_root, body_model=annotation_body_model)
train_dataloader = dict(dataset=dict(dataset, split='train', min_visible_pixels=100,
                                     pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(dataset, split='test', test_mode=True, kinects=test_kinects,
                                   pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(object_library=object_library)
test_evaluator = dict(object_library=object_library, out_dir=correspondence_out_dir)
