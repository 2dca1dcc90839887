# Runtime shared by every hoirecon config: registry scope, hooks, logging, environment.
default_scope = 'hoirecon'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Checkpoints hold only tensors/numbers/strings/containers, so they load with torch.load(weights_only=True).
    safe_checkpoint=dict(type='SafeCheckpointHook'),
    # pictures of the predictions, off by default: tools/test.py --show-dir DIR switches it on
    visualization=dict(type='HOIVisualizationHook', enable=False, interval=1, max_images=100),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py and tools/test.py switch to 'gloo' on machines without a GPU.
    dist_cfg=dict(backend='nccl'),
)

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=7)
