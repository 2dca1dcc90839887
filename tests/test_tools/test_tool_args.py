"""tools/train.py and tools/test.py turn their command line into the right config."""
import os
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


@pytest.mark.parametrize('name, positionals, own, example, script',
                         [('train', ['config'], ['--resume', '--amp'], 'train_cfg.max_epochs=10',
                           'tools/dist_train.sh'),
                          ('test', ['config', 'checkpoint'], ['--out', '--refine', '--show-dir'],
                           'test_dataloader.batch_size=8', 'tools/dist_test.sh')])
def test_help_lists_the_shared_and_the_own_arguments(train_tool, test_tool, capsys, monkeypatch, name, positionals,
                                                     own, example, script):
    monkeypatch.setenv('COLUMNS', '200')  # one line per argument
    tool = {'train': train_tool, 'test': test_tool}[name]
    with pytest.raises(SystemExit) as info:
        tool.parse_args(['--help'])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for argument in positionals + ['--work-dir', *own, '--cfg-options', '--data-root', '--threads', '--launcher']:
        assert argument in text, argument
    assert text.index('--work-dir') < text.index(own[0]) < text.index('--cfg-options') < text.index('--launcher')
    assert f'override config entries, e.g. {example}' in text and f'{script} uses pytorch (torchrun)' in text
    assert '{none,pytorch,slurm,mpi}' in text and 'HOIRECON_DATA_ROOT' in text and 'HOIRECON_NUM_THREADS' in text
    assert '--local' not in text  # --local-rank is hidden


def test_both_tools_merge_the_shared_arguments_alike(train_tool, test_tool):
    """One implementation (hoirecon.apis.cli) of the shared arguments: the same config from the same flags."""
    shared = ['--work-dir', 'w', '--launcher', 'slurm', '--threads', '3', '--cfg-options', 'train_cfg.max_epochs=5',
              '--local_rank', '2']
    train_args = train_tool.parse_args([TOY_CONFIG, *shared])
    assert os.environ['LOCAL_RANK'] == '2' and train_args.threads == 3
    test_args = test_tool.parse_args([TOY_CONFIG, 'ckpt.pth', *shared])
    train_cfg, test_cfg = (tool.merge_args(Config.fromfile(osp.join(REPO_ROOT, TOY_CONFIG)), args)
                           for tool, args in ((train_tool, train_args), (test_tool, test_args)))
    for cfg in (train_cfg, test_cfg):
        assert cfg.work_dir == 'w' and cfg.launcher == 'slurm' and cfg.train_cfg.max_epochs == 5
    from hoirecon.apis import cli
    assert train_tool.merge_common_args is cli.merge_common_args
    assert test_tool.merge_test_args is cli.merge_test_args  # which applies cli.merge_common_args first


def test_a_choice_changed_alone_on_the_command_line_is_refused(train_tool, test_tool):
    """--cfg-options img_size=128 does not rebuild the pipelines (mmengine evaluates the file once): refused with the
    stale entries named; restating the crops too is accepted."""
    config = osp.join('configs', 'stackflow_synthetic.py')
    for tool in (train_tool, test_tool):
        extra = [] if tool is train_tool else ['model.pth']
        with pytest.raises(ValueError, match=r'HOICrop\).img_size: 128, img_size: 96'):
            _merged(tool, [config, *extra, '--cfg-options', 'img_size=96'])
    crops = [f'{loader}.dataset.pipeline.{index}.img_size=96'
             for loader, index in (('train_dataloader', 1), ('val_dataloader', 2), ('test_dataloader', 2))]
    cfg = _merged(train_tool, [config, '--cfg-options', 'img_size=96', *crops])
    assert cfg.img_size == 96
