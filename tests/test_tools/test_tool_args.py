"""tools/train.py and tools/test.py turn their command line into the right config."""
import os.path as osp

import pytest
from mmengine.config import Config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_CONFIG = osp.join('tests', 'data', 'configs', 'toy_regression.py')


@pytest.fixture(autouse=True)
def restore_local_rank(monkeypatch):
    """parse_args() exports LOCAL_RANK (as torchrun would); undo it after each test."""
    monkeypatch.delenv('LOCAL_RANK', raising=False)


def _merged(tool, argv):
    args = tool.parse_args(argv)
    return tool.merge_args(Config.fromfile(osp.join(REPO_ROOT, args.config)), args)


def test_train_defaults(train_tool):
    cfg = _merged(train_tool, [TOY_CONFIG])
    assert cfg.work_dir == osp.join('work_dirs', 'toy_regression')
    assert cfg.launcher == 'none' and cfg.resume is False and cfg.load_from is None
    assert cfg.optim_wrapper.type == 'NonFiniteSkipOptimWrapper'


@pytest.mark.parametrize('resume_args, load_from', [(['--resume'], None),
                                                    (['--resume', 'w/epoch_3.pth'], 'w/epoch_3.pth')])
def test_train_resume_auto_or_path(train_tool, resume_args, load_from):
    cfg = _merged(train_tool, [TOY_CONFIG, *resume_args, '--work-dir', 'w'])
    assert cfg.resume is True and cfg.load_from == load_from and cfg.work_dir == 'w'


def test_train_cfg_options_and_launcher(train_tool):
    cfg = _merged(train_tool,
                  [TOY_CONFIG, '--launcher', 'pytorch', '--cfg-options', 'train_cfg.max_epochs=7', 'work_dir=x'])
    assert cfg.train_cfg.max_epochs == 7 and cfg.launcher == 'pytorch'
    assert cfg.work_dir == 'x'  # from --cfg-options, as no --work-dir was given


def test_train_amp_without_gpu_stops_with_a_clear_message(train_tool, monkeypatch):
    from hoirecon.engine import runtime_setup
    monkeypatch.setattr(runtime_setup, 'has_accelerator', lambda: False)
    with pytest.raises(RuntimeError, match='--amp needs a CUDA'):
        _merged(train_tool, [TOY_CONFIG, '--amp'])


def test_test_tool_loads_the_checkpoint_and_dumps_predictions(test_tool):
    cfg = _merged(test_tool, [TOY_CONFIG, 'ckpt.pth', '--out', 'preds.pkl'])
    assert cfg.load_from == 'ckpt.pth' and cfg.resume is False
    assert cfg.test_evaluator == [dict(type='ToyMetric'), dict(type='DumpResults', out_file_path='preds.pkl')]
    with pytest.raises(ValueError, match='.pkl'):
        _merged(test_tool, [TOY_CONFIG, 'ckpt.pth', '--out', 'preds.json'])


def test_test_tool_show_dir_enables_the_visualization_hook(test_tool):
    cfg = _merged(test_tool, [TOY_CONFIG, 'ckpt.pth', '--show-dir', 'vis'])
    hook = cfg.default_hooks.visualization
    assert hook.type == 'HOIVisualizationHook' and hook.enable is True and hook.out_dir == 'vis'
    args = test_tool.parse_args([TOY_CONFIG, 'ckpt.pth', '--show-dir', 'vis'])
    bare = Config.fromfile(osp.join(REPO_ROOT, TOY_CONFIG))
    bare.default_hooks.pop('visualization')
    with pytest.raises(ValueError, match='no default_hooks.visualization hook'):
        test_tool.merge_args(bare, args)


def test_zero_workers_switch_persistent_workers_off(train_tool, test_tool):
    """The base configs fix persistent_workers when read; num_workers=0 from the command line must still work."""
    config = 'configs/stackflow_behave.py'  # 4 persistent workers (the synthetic CPU default has none)
    assert Config.fromfile(osp.join(REPO_ROOT, config)).train_dataloader.persistent_workers
    cfg = _merged(train_tool, [config, '--cfg-options', 'train_dataloader.num_workers=0'])
    assert cfg.train_dataloader.persistent_workers is False and cfg.val_dataloader.persistent_workers is True
    assert cfg.val_dataloader.worker_init_fn == dict(type='hoirecon.worker_init', num_workers=4, seed=7)
    cfg = _merged(test_tool, [config, 'ckpt.pth', '--cfg-options', 'test_dataloader.num_workers=0'])
    assert cfg.test_dataloader.persistent_workers is False
